-- Provider sync: what 1NCE reports about each SIM, daily usage, quotas, connectivity, job runs.

-- Provider-side attributes, refreshed by the SIM sync and never edited by users.
ALTER TABLE sims ADD COLUMN provider_ref TEXT;          -- the provider's id for the SIM (1NCE: ICCID without check digit)
ALTER TABLE sims ADD COLUMN provider_status TEXT;       -- as the provider says (1NCE: Enabled, Disabled)
ALTER TABLE sims ADD COLUMN ip_address TEXT;
ALTER TABLE sims ADD COLUMN imei_lock INTEGER;
CREATE INDEX sims_provider_ref ON sims (provider, provider_ref);

-- One row per SIM and day; volumes in bytes, SMS as counts.
CREATE TABLE usage_daily (
    sim_id          INTEGER NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    day             TEXT NOT NULL,
    data_rx         INTEGER NOT NULL,
    data_tx         INTEGER NOT NULL,
    data_total      INTEGER NOT NULL,
    sms_mo          INTEGER NOT NULL,
    sms_mt          INTEGER NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (sim_id, day)
) WITHOUT ROWID;
CREATE INDEX usage_daily_day ON usage_daily (day);

-- The provider's quota per SIM: kind 'data' (bytes) or 'sms' (messages).
CREATE TABLE sim_quotas (
    sim_id          INTEGER NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('data', 'sms')),
    remaining       INTEGER NOT NULL,
    total           INTEGER,
    expiry_date     TEXT,
    last_added      INTEGER,
    threshold_percentage INTEGER,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (sim_id, kind)
);

-- Last known network attachment.
CREATE TABLE sim_connectivity (
    sim_id          INTEGER PRIMARY KEY REFERENCES sims(id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    operator        TEXT,
    country         TEXT,
    rat             TEXT,
    last_seen_at    TEXT,
    updated_at      TEXT NOT NULL
);

CREATE TABLE job_runs (
    id              INTEGER PRIMARY KEY,
    job             TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'success', 'partial', 'failed')),
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    items_ok        INTEGER NOT NULL DEFAULT 0,
    items_failed    INTEGER NOT NULL DEFAULT 0,
    errors          TEXT,               -- JSON array of {item, message}
    instance        TEXT
);
CREATE INDEX job_runs_job ON job_runs (job, id);
