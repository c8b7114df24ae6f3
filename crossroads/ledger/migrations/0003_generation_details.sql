-- What GET /generation reports beyond the first schema: the provider's own id for the answer,
-- its raw finish reason, and who asked (User-Agent, the request's `user`, its session id).
ALTER TABLE generations ADD COLUMN upstream_id TEXT;
ALTER TABLE generations ADD COLUMN native_finish_reason TEXT;
ALTER TABLE generations ADD COLUMN user_agent TEXT;
ALTER TABLE generations ADD COLUMN external_user TEXT;
ALTER TABLE generations ADD COLUMN session_id TEXT;
