-- Alerts: rules (one per kind, seeded by the store after migrating), alerts, per-SIM mutes,
-- notification channels and the persisted notification queue.

CREATE TABLE alert_rules (
    kind            TEXT PRIMARY KEY,
    enabled         BOOLEAN NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    threshold       BIGINT NOT NULL,
    scope_tag       TEXT,
    scope_customer_id BIGINT REFERENCES customers(id) ON DELETE SET NULL,
    scope_tariff_plan_id BIGINT REFERENCES tariff_plans(id) ON DELETE SET NULL,
    updated_by      TEXT,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- subject: 'sim:<id>' or 'job:<name>'; at most one alert per (kind, subject) that is not resolved.
CREATE TABLE alerts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    sim_id          BIGINT REFERENCES sims(id) ON DELETE CASCADE,
    job             TEXT,
    severity        TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state           TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    message         TEXT NOT NULL,
    first_seen      TIMESTAMPTZ NOT NULL,
    last_seen       TIMESTAMPTZ NOT NULL,
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by TEXT,
    resolved_at     TIMESTAMPTZ,
    resolved_by     TEXT
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, subject) WHERE state <> 'resolved';
CREATE INDEX alerts_sim ON alerts (sim_id, id);
CREATE INDEX alerts_state ON alerts (state, id);
CREATE INDEX alerts_first_seen ON alerts (first_seen);

CREATE TABLE alert_mutes (
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sim_id, kind)
);

-- Scratch space of the evaluator: the subjects whose condition holds, per kind.
CREATE UNLOGGED TABLE alert_conditions (
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    sim_id          BIGINT,
    job             TEXT,
    message         TEXT NOT NULL,
    PRIMARY KEY (kind, subject)
);

CREATE TABLE notification_channels (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    enabled         BOOLEAN NOT NULL,
    severities      TEXT NOT NULL,      -- comma-separated; empty = all
    kinds           TEXT NOT NULL,      -- comma-separated; empty = all
    config          TEXT NOT NULL,      -- JSON without secrets
    secret_enc      TEXT,               -- SMTP password or webhook secret, sealed
    digest_minutes  INTEGER,
    next_digest_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- One row per (alert, channel), written in the transaction that opens the alert.
CREATE TABLE notifications (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id      BIGINT NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
    alert_id        BIGINT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (alert_id, channel_id)
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_channel ON notifications (channel_id, id);
