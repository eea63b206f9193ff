-- Usage rollups, kept when raw daily rows age out.
CREATE TABLE usage_fleet_daily (
    day             TEXT PRIMARY KEY,
    data_rx         INTEGER NOT NULL,
    data_tx         INTEGER NOT NULL,
    data_total      INTEGER NOT NULL,
    sms_mo          INTEGER NOT NULL,
    sms_mt          INTEGER NOT NULL,
    active_sims     INTEGER NOT NULL     -- SIMs with any traffic that day
);

CREATE TABLE usage_monthly (
    sim_id          INTEGER NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    month           TEXT NOT NULL,       -- first day of the month
    data_rx         INTEGER NOT NULL,
    data_tx         INTEGER NOT NULL,
    data_total      INTEGER NOT NULL,
    sms_mo          INTEGER NOT NULL,
    sms_mt          INTEGER NOT NULL,
    PRIMARY KEY (sim_id, month)
) WITHOUT ROWID;
CREATE INDEX usage_monthly_month ON usage_monthly (month);
