-- Provider sync: what 1NCE reports about each SIM, daily usage, quotas, connectivity, job runs.

-- Provider-side attributes, refreshed by the SIM sync and never edited by users.
ALTER TABLE sims ADD COLUMN provider_ref TEXT COLLATE "C";  -- the provider's id for the SIM (1NCE: ICCID without check digit)
ALTER TABLE sims ADD COLUMN provider_status TEXT;           -- as the provider says (1NCE: Enabled, Disabled)
ALTER TABLE sims ADD COLUMN ip_address TEXT;
ALTER TABLE sims ADD COLUMN imei_lock BOOLEAN;
CREATE INDEX sims_provider_ref ON sims (provider, provider_ref);

-- One row per SIM and day; volumes in bytes, SMS as counts. Partitioned by month: the store
-- creates each month's partition before writing into it; the default partition is a safety net.
CREATE TABLE usage_daily (
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    day             DATE NOT NULL,
    data_rx         BIGINT NOT NULL,
    data_tx         BIGINT NOT NULL,
    data_total      BIGINT NOT NULL,
    sms_mo          BIGINT NOT NULL,
    sms_mt          BIGINT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sim_id, day)
) PARTITION BY RANGE (day);
CREATE TABLE usage_daily_default PARTITION OF usage_daily DEFAULT;
CREATE INDEX usage_daily_day ON usage_daily (day);

CREATE TABLE sim_quotas (
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('data', 'sms')),
    remaining       BIGINT NOT NULL,
    total           BIGINT,
    expiry_date     DATE,
    last_added      BIGINT,
    threshold_percentage BIGINT,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sim_id, kind)
);

CREATE TABLE sim_connectivity (
    sim_id          BIGINT PRIMARY KEY REFERENCES sims(id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    operator        TEXT,
    country         TEXT,
    rat             TEXT,
    last_seen_at    TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE job_runs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job             TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'success', 'partial', 'failed')),
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    items_ok        BIGINT NOT NULL DEFAULT 0,
    items_failed    BIGINT NOT NULL DEFAULT 0,
    errors          TEXT,
    instance        TEXT
);
CREATE INDEX job_runs_job ON job_runs (job, id);
