-- Days whose data use stood far above the SIM's own baseline (median + k × MAD of the 28 days
-- before, k at least 2), with that baseline. Derived from usage_daily whenever the rollups
-- are refreshed, so alerts and analytics filter these rows instead of recomputing medians
-- over the fleet's history.
CREATE TABLE usage_anomalies (
    sim_id          INTEGER NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    day             TEXT NOT NULL,
    data_total      INTEGER NOT NULL,
    median          REAL NOT NULL,
    mad             REAL NOT NULL,
    baseline_days   INTEGER NOT NULL,
    PRIMARY KEY (sim_id, day)
) WITHOUT ROWID;
CREATE INDEX usage_anomalies_day ON usage_anomalies (day);

-- Smaller multiples of the MAD are no longer allowed (those days are not stored).
UPDATE alert_rules SET threshold = 2 WHERE kind = 'usage_anomaly' AND threshold < 2;

-- Derived data to compute for the history already stored, at the next start.
CREATE TABLE pending_backfills (name TEXT PRIMARY KEY);
INSERT INTO pending_backfills (name) VALUES ('usage_anomalies');

-- Range aggregates (top consumers, rollups) read this index alone: without the columns, each
-- of millions of rows cost a lookup in the table.
DROP INDEX usage_daily_day;
CREATE INDEX usage_daily_day ON usage_daily (day, sim_id, data_total, sms_mo, sms_mt);
