-- Each attempt's part of the answer (a resumed stream is served by two or more attempts): its
-- tokens and their cost at its endpoint's prices, whether those were estimated, and for a
-- continuation how much of the answer it was sent as prefill; plus the harmless junk lines
-- its stream carried (crossroads/resume.py, crossroads/sse.py).
ALTER TABLE attempts ADD COLUMN prompt_tokens INTEGER;
ALTER TABLE attempts ADD COLUMN completion_tokens INTEGER;
ALTER TABLE attempts ADD COLUMN cost_micro INTEGER;
ALTER TABLE attempts ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN prefill_chars INTEGER;
ALTER TABLE attempts ADD COLUMN skipped_events INTEGER NOT NULL DEFAULT 0;
