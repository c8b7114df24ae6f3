-- Presets created or edited through the API (config-file presets live in the config file).
-- `config` is the JSON object of request fields the preset sets.
CREATE TABLE presets (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    system_prompt TEXT,
    config TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
