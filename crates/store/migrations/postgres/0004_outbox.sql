-- Provider actions written with the local change they follow, delivered by the outbox worker.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    action          TEXT NOT NULL,          -- set_status, set_label
    payload         TEXT NOT NULL,          -- JSON
    status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    claimed_until   TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    done_at         TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_sim ON outbox (sim_id, id);

-- Who runs each scheduled job right now, so that instances sharing a database take turns.
CREATE TABLE job_leases (
    job             TEXT PRIMARY KEY,
    holder          TEXT NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);
