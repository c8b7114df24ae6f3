-- The journal's bookkeeping (crossroads/ledger/journal.py): per journal segment file, the end
-- offset of the last frame whose record is committed here. Written in the same transaction as
-- the records it covers, so after any crash the rows and the offsets agree; replay on startup
-- starts after `applied`. A row is deleted, in a synced commit, just before its file is.

CREATE TABLE journal_state (
    segment TEXT PRIMARY KEY NOT NULL,
    applied INTEGER NOT NULL
) WITHOUT ROWID;
