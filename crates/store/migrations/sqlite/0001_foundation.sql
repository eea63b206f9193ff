-- Foundation schema: inventory, lifecycle events, users, access and audit (SQLite).
-- Timestamps are written by the application (UTC, microseconds), never by SQL defaults,
-- so both engines store and compare them the same way.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    last_login_at   TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE auth_tokens (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);

CREATE TABLE api_keys (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at      TEXT NOT NULL,
    expires_at      TEXT,
    last_used_at    TEXT,
    revoked_at      TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE customers (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT,
    phone           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX customers_name ON customers (lower(name));
CREATE UNIQUE INDEX customers_email ON customers (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE tariff_plans (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    -- exact price in units of 1/10,000 of the currency
    monthly_price_e4 INTEGER NOT NULL CHECK (monthly_price_e4 >= 0),
    currency        TEXT NOT NULL,
    type            TEXT NOT NULL,
    description     TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE sims (
    id              INTEGER PRIMARY KEY,
    iccid           TEXT NOT NULL UNIQUE,
    imsi            TEXT,
    msisdn          TEXT UNIQUE,
    imei            TEXT,
    type            TEXT NOT NULL,
    status          TEXT NOT NULL,
    pin_enc         TEXT,
    puk_enc         TEXT,
    label           TEXT,
    customer_id     INTEGER REFERENCES customers(id),
    tariff_plan_id  INTEGER REFERENCES tariff_plans(id),
    provider        TEXT NOT NULL DEFAULT 'none',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX sims_status_iccid ON sims (status, iccid);
CREATE INDEX sims_customer_iccid ON sims (customer_id, iccid);
CREATE INDEX sims_tariff_iccid ON sims (tariff_plan_id, iccid);
CREATE INDEX sims_created ON sims (created_at, id);
CREATE INDEX sims_updated ON sims (updated_at, id);
CREATE INDEX sims_imsi ON sims (imsi);
CREATE INDEX sims_label ON sims (lower(label));

CREATE TABLE sim_tags (
    sim_id          INTEGER NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    tag             TEXT NOT NULL,
    PRIMARY KEY (sim_id, tag)
);
CREATE INDEX sim_tags_tag ON sim_tags (tag, sim_id);

CREATE TABLE activation_codes (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('UNUSED', 'USED', 'EXPIRED')),
    expires_at      TEXT,
    sim_id          INTEGER REFERENCES sims(id),
    used_at         TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX activation_codes_sim ON activation_codes (sim_id);

CREATE TABLE sim_events (
    id              INTEGER PRIMARY KEY,
    sim_id          INTEGER NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    old_status      TEXT,
    new_status      TEXT,
    note            TEXT,
    actor           TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX sim_events_sim ON sim_events (sim_id, id);
CREATE INDEX sim_events_kind_time ON sim_events (kind, created_at);

CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    actor           TEXT,
    role            TEXT,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    route           TEXT,
    status          INTEGER NOT NULL,
    ip              TEXT,
    request_id      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
