-- Usage rollups, kept when raw daily rows age out.
CREATE TABLE usage_fleet_daily (
    day             DATE PRIMARY KEY,
    data_rx         BIGINT NOT NULL,
    data_tx         BIGINT NOT NULL,
    data_total      BIGINT NOT NULL,
    sms_mo          BIGINT NOT NULL,
    sms_mt          BIGINT NOT NULL,
    active_sims     BIGINT NOT NULL     -- SIMs with any traffic that day
);

CREATE TABLE usage_monthly (
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    month           DATE NOT NULL,       -- first day of the month
    data_rx         BIGINT NOT NULL,
    data_tx         BIGINT NOT NULL,
    data_total      BIGINT NOT NULL,
    sms_mo          BIGINT NOT NULL,
    sms_mt          BIGINT NOT NULL,
    PRIMARY KEY (sim_id, month)
);
CREATE INDEX usage_monthly_month ON usage_monthly (month);
