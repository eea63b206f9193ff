-- Days whose data use stood far above the SIM's own baseline (median + k × MAD of the 28 days
-- before, k at least 2), with that baseline. Derived from usage_daily whenever the rollups
-- are refreshed, so alerts and analytics filter these rows instead of recomputing medians
-- over the fleet's history.
CREATE TABLE usage_anomalies (
    sim_id          BIGINT NOT NULL REFERENCES sims(id) ON DELETE CASCADE,
    day             DATE NOT NULL,
    data_total      BIGINT NOT NULL,
    median          DOUBLE PRECISION NOT NULL,
    mad             DOUBLE PRECISION NOT NULL,
    baseline_days   BIGINT NOT NULL,
    PRIMARY KEY (sim_id, day)
);
CREATE INDEX usage_anomalies_day ON usage_anomalies (day);

-- Smaller multiples of the MAD are no longer allowed (those days are not stored).
UPDATE alert_rules SET threshold = 2 WHERE kind = 'usage_anomaly' AND threshold < 2;

-- Derived data to compute for the history already stored, at the next start.
CREATE TABLE pending_backfills (name TEXT PRIMARY KEY);
INSERT INTO pending_backfills (name) VALUES ('usage_anomalies');
