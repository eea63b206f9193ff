-- Network events the provider reports per SIM (attach, PDP context, location updates, …).
CREATE TABLE sim_network_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    occurred_at     TIMESTAMPTZ NOT NULL,
    event_type      TEXT NOT NULL,
    severity        TEXT,
    alert           BOOLEAN NOT NULL DEFAULT false,
    country         TEXT,
    operator        TEXT,
    mcc             TEXT,
    mnc             TEXT,
    imei            TEXT,
    imsi            TEXT,
    -- The provider gives no stable event id in v1: time and type identify an event of a SIM.
    UNIQUE (sim_id, occurred_at, event_type)
);
CREATE INDEX sim_network_events_sim ON sim_network_events (sim_id, id);
CREATE INDEX sim_network_events_time ON sim_network_events (occurred_at);
