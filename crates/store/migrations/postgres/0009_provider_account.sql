-- Provider account operations: outcomes of outbox actions, the product catalogue, orders,
-- support tickets and SMS, mirrored from the provider.
ALTER TABLE outbox ADD COLUMN result TEXT;        -- JSON the provider answered, e.g. {"order_number": 2000000005}
ALTER TABLE outbox ADD COLUMN error_kind TEXT;    -- why the provider refused: sim-expired, sim-not-owned, invalid-payment-method, rejected
ALTER TABLE outbox ADD COLUMN requested_by TEXT;

CREATE TABLE provider_products (
    id                        BIGINT PRIMARY KEY,   -- the provider's product id
    name                      TEXT NOT NULL,
    material                  TEXT,
    package_size              BIGINT,
    min_quantity              BIGINT,
    max_quantity              BIGINT,
    max_quantity_per_customer BIGINT,
    min_contract_duration     BIGINT,               -- months
    one_time_charges          TEXT NOT NULL,        -- JSON [{name, amount, currency}], amounts as decimal strings
    recurring_charges         TEXT NOT NULL,
    refreshed_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE provider_orders (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_number       BIGINT NOT NULL UNIQUE,
    order_type         TEXT,
    status             TEXT,
    order_date         TIMESTAMPTZ,
    invoice_number     TEXT,
    invoice_amount_e4  BIGINT,
    currency           TEXT,
    delivery_address   TEXT,                        -- JSON
    products           TEXT NOT NULL,               -- JSON [{product_id, quantity}]
    customer_reference TEXT,
    created_by         TEXT,                        -- the simfleet user who placed it, when placed here
    synced_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX provider_orders_date ON provider_orders (order_date);

CREATE TABLE provider_order_sims (
    order_id  BIGINT NOT NULL REFERENCES provider_orders(id) ON DELETE CASCADE,
    sim_id    BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    PRIMARY KEY (order_id, sim_id)
);
CREATE INDEX provider_order_sims_sim ON provider_order_sims (sim_id);

CREATE TABLE support_tickets (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id        TEXT UNIQUE,
    subject        TEXT NOT NULL,
    text           TEXT NOT NULL,
    reply_to       TEXT,
    status         TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    solved_at      TIMESTAMPTZ,
    communications TEXT NOT NULL,                   -- JSON thread
    created_by     TEXT,
    synced_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE support_ticket_sims (
    ticket_id BIGINT NOT NULL REFERENCES support_tickets(id) ON DELETE CASCADE,
    sim_id    BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, sim_id)
);
CREATE INDEX support_ticket_sims_sim ON support_ticket_sims (sim_id);

CREATE TABLE sms_messages (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sim_id         BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    provider_id    BIGINT NOT NULL,
    direction      TEXT NOT NULL CHECK (direction IN ('MO', 'MT')),
    status         TEXT NOT NULL,
    payload        TEXT,
    udh            TEXT,
    dcs            BIGINT,
    source_address TEXT,
    submitted_at   TIMESTAMPTZ,
    delivered_at   TIMESTAMPTZ,
    expires_at     TIMESTAMPTZ,
    synced_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (sim_id, provider_id)
);
CREATE INDEX sms_messages_submitted ON sms_messages (submitted_at);
