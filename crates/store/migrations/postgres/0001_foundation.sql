-- Foundation schema: inventory, lifecycle events, users, access and audit (PostgreSQL).
-- Timestamps are written by the application (UTC, microseconds), never by SQL defaults,
-- so both engines store and compare them the same way.

CREATE TABLE users (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMPTZ,
    last_login_at   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE auth_tokens (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);

CREATE TABLE api_keys (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ,
    last_used_at    TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE customers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT,
    phone           TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX customers_name ON customers (lower(name));
CREATE UNIQUE INDEX customers_email ON customers (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE tariff_plans (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    -- exact price in units of 1/10,000 of the currency
    monthly_price_e4 BIGINT NOT NULL CHECK (monthly_price_e4 >= 0),
    currency        TEXT NOT NULL,
    type            TEXT NOT NULL,
    description     TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE sims (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    iccid           TEXT COLLATE "C" NOT NULL UNIQUE,
    imsi            TEXT COLLATE "C",
    msisdn          TEXT COLLATE "C" UNIQUE,
    imei            TEXT,
    type            TEXT NOT NULL,
    status          TEXT NOT NULL,
    pin_enc         TEXT,
    puk_enc         TEXT,
    label           TEXT COLLATE "C",
    customer_id     BIGINT REFERENCES customers(id),
    tariff_plan_id  BIGINT REFERENCES tariff_plans(id),
    provider        TEXT NOT NULL DEFAULT 'none',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX sims_status_iccid ON sims (status, iccid);
CREATE INDEX sims_customer_iccid ON sims (customer_id, iccid);
CREATE INDEX sims_tariff_iccid ON sims (tariff_plan_id, iccid);
CREATE INDEX sims_created ON sims (created_at, id);
CREATE INDEX sims_updated ON sims (updated_at, id);
CREATE INDEX sims_imsi ON sims (imsi);
CREATE INDEX sims_label ON sims (lower(label));

CREATE TABLE sim_tags (
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    tag             TEXT NOT NULL,
    PRIMARY KEY (sim_id, tag)
);
CREATE INDEX sim_tags_tag ON sim_tags (tag, sim_id);

CREATE TABLE activation_codes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN ('UNUSED', 'USED', 'EXPIRED')),
    expires_at      TIMESTAMPTZ,
    sim_id          BIGINT REFERENCES sims(id),
    used_at         TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX activation_codes_sim ON activation_codes (sim_id);

CREATE TABLE sim_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    old_status      TEXT,
    new_status      TEXT,
    note            TEXT,
    actor           TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX sim_events_sim ON sim_events (sim_id, id);
CREATE INDEX sim_events_kind_time ON sim_events (kind, created_at);

CREATE TABLE audit_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              TIMESTAMPTZ NOT NULL,
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
