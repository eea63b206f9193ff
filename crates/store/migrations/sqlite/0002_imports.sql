-- Imports of SIM lists (CSV/XLSX): a preview, then a commit that applies exactly the
-- previewed rows (SQLite). `rows` holds the validated rows as JSON, PIN/PUK already sealed
-- by the server; it is cleared once the import is committed.

CREATE TABLE imports (
    id              INTEGER PRIMARY KEY,
    file_name       TEXT NOT NULL,
    file_hash       TEXT NOT NULL,
    format          TEXT NOT NULL CHECK (format IN ('csv', 'xlsx')),
    status          TEXT NOT NULL CHECK (status IN ('previewed', 'committed', 'failed')),
    total_rows      INTEGER NOT NULL,
    to_create       INTEGER NOT NULL,
    to_update       INTEGER NOT NULL,
    unchanged       INTEGER NOT NULL,
    invalid         INTEGER NOT NULL,
    file_invalid    INTEGER NOT NULL,
    created         INTEGER,
    updated         INTEGER,
    errors          TEXT NOT NULL,
    warnings        TEXT NOT NULL,
    rows            TEXT,
    failure         TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    committed_at    TEXT,
    committed_by    TEXT
);
CREATE INDEX imports_hash ON imports (file_hash);
-- The same file is committed at most once.
CREATE UNIQUE INDEX imports_committed_hash ON imports (file_hash) WHERE status = 'committed';
