//! Usage anomalies: days whose data use stood far above the SIM's own baseline, median + k ×
//! MAD of the 28 days before ([`Baseline`]).
//!
//! A baseline needs four weeks of each SIM's history: too much to recompute at every alert
//! evaluation or analytics page of a large fleet. So the rollup refresh stores every day above
//! the smallest threshold allowed ([`ANOMALY_MIN_K`]) with its baseline in `usage_anomalies`,
//! and the queries here only filter those rows for their k.

use crate::db::{with_db, with_tx, Dialect, Store, Tx};
use crate::error::StoreResult;
use crate::sql::{bind_args, Sql};
use chrono::{Days, NaiveDate};
use serde::Serialize;
use simfleet_domain::alerts::{Baseline, ANOMALY_MIN_K, ANOMALY_WINDOW_DAYS};

/// A day whose data use is far above the SIM's own baseline.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Anomaly {
    pub sim_id: i64,
    pub iccid: String,
    pub day: NaiveDate,
    pub data_total: i64,
    pub median: f64,
    pub mad: f64,
    pub baseline_days: i64,
    pub threshold: f64,
}

/// SIMs whose usage is judged per round of the refresh: bounds the memory of a first sync
/// (180 days of 10,000 SIMs are 1.8 million rows, about 45 MB).
const SIMS_PER_ROUND: i64 = 10_000;
/// Rows per `INSERT` (6 parameters each, within SQLite's limit of 32,766).
const ROWS_PER_INSERT: usize = 5_000;

impl Store {
    /// The anomalies of one day for `k` (at least [`ANOMALY_MIN_K`]), the largest excess over
    /// the threshold first.
    pub async fn usage_anomalies(&self, day: NaiveDate, k: i64, limit: i64) -> StoreResult<Vec<Anomaly>> {
        self.usage_anomalies_between(day, day, k, limit).await
    }

    /// The anomalies of `from..=to` for `k` (at least [`ANOMALY_MIN_K`]): newest day first,
    /// then the largest excess over the threshold.
    pub async fn usage_anomalies_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        k: i64,
        limit: i64,
    ) -> StoreResult<Vec<Anomaly>> {
        debug_assert!(k >= ANOMALY_MIN_K, "days below median + {ANOMALY_MIN_K} × MAD are not stored");
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT a.sim_id, s.iccid, a.day, a.data_total, a.median, a.mad, a.baseline_days, a.median + $3 * a.mad AS threshold \
             FROM usage_anomalies a JOIN sims s ON s.id = a.sim_id \
             WHERE a.day >= $1 AND a.day <= $2 AND a.data_total > a.median + $3 * a.mad \
             ORDER BY a.day DESC, a.data_total - (a.median + $3 * a.mad) DESC, s.iccid LIMIT $4",
        )
        .bind(from)
        .bind(to)
        .bind(k)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }
}

/// Recomputes the stored anomalies of every day from `since` on, from the raw daily rows, in
/// the caller's transaction. Returns the days stored.
pub(crate) async fn refresh_in(tx: &mut Tx, since: NaiveDate) -> StoreResult<u64> {
    with_tx!(&mut *tx, c => sqlx::query("DELETE FROM usage_anomalies WHERE day >= $1").bind(since).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    // SQLite reads one primary-key range per SIM (a plain range filter would go through the
    // day index and look every row up). The rows are put in order here, not by the database:
    // PostgreSQL would sort each round on disk within a small work_mem.
    let rows_sql = match tx.dialect() {
        Dialect::Sqlite => {
            "SELECT u.sim_id, u.day, u.data_total FROM sims s CROSS JOIN usage_daily u ON u.sim_id = s.id AND u.day >= $1 \
             WHERE s.id > $2 AND s.id <= $3"
        }
        Dialect::Postgres => "SELECT sim_id, day, data_total FROM usage_daily WHERE day >= $1 AND sim_id > $2 AND sim_id <= $3",
    };
    let first_day = since - Days::new(ANOMALY_WINDOW_DAYS);
    let mut stored = 0;
    let mut after = 0i64;
    loop {
        let upto: Option<i64> = with_tx!(&mut *tx, c => sqlx::query_scalar(
            "SELECT MAX(id) FROM (SELECT id FROM sims WHERE id > $1 ORDER BY id LIMIT $2) r",
        )
        .bind(after)
        .bind(SIMS_PER_ROUND)
        .fetch_one(&mut *c)
        .await)?;
        let Some(upto) = upto else { break };
        let mut rows: Vec<(i64, NaiveDate, i64)> = with_tx!(&mut *tx, c => sqlx::query_as(rows_sql)
            .bind(first_day)
            .bind(after)
            .bind(upto)
            .fetch_all(&mut *c)
            .await)?;
        rows.sort_unstable();
        let mut scan = AnomalyScan::new(since);
        for (sim_id, day, bytes) in rows {
            scan.push(sim_id, day, bytes);
        }
        scan.flush();
        for chunk in scan.found.chunks(ROWS_PER_INSERT) {
            stored += insert(tx, chunk).await?;
        }
        after = upto;
    }
    Ok(stored)
}

async fn insert(tx: &mut Tx, found: &[Found]) -> StoreResult<u64> {
    let mut sql = Sql::new("INSERT INTO usage_anomalies (sim_id, day, data_total, median, mad, baseline_days) VALUES ");
    let values: Vec<String> = found
        .iter()
        .map(|f| {
            let p = [
                sql.arg(f.sim_id),
                sql.arg(f.day),
                sql.arg(f.data_total),
                sql.arg(f.baseline.median),
                sql.arg(f.baseline.mad),
                sql.arg(i64::from(f.baseline.days)),
            ];
            format!("({})", p.join(", "))
        })
        .collect();
    sql.push(&values.join(", "));
    let text = sql.text_for(tx.dialect());
    Ok(
        with_tx!(&mut *tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?,
    )
}

/// A day above median + [`ANOMALY_MIN_K`] × MAD.
struct Found {
    sim_id: i64,
    day: NaiveDate,
    data_total: i64,
    baseline: Baseline,
}

/// One SIM's usage rows at a time (fed ordered by SIM, then day).
struct AnomalyScan {
    from: NaiveDate,
    sim: Option<i64>,
    days: Vec<(NaiveDate, i64)>,
    found: Vec<Found>,
}

impl AnomalyScan {
    fn new(from: NaiveDate) -> Self {
        AnomalyScan { from, sim: None, days: Vec::new(), found: Vec::new() }
    }

    fn push(&mut self, sim_id: i64, day: NaiveDate, bytes: i64) {
        if self.sim != Some(sim_id) {
            self.flush();
            self.sim = Some(sim_id);
        }
        self.days.push((day, bytes));
    }

    /// Judges each day from `from` on of the current SIM against the days before it.
    fn flush(&mut self) {
        let Some(sim_id) = self.sim.take() else { return };
        let days = std::mem::take(&mut self.days);
        for (i, &(day, bytes)) in days.iter().enumerate().filter(|(_, (d, _))| *d >= self.from) {
            let first = days[..i].partition_point(|(d, _)| *d < day - Days::new(ANOMALY_WINDOW_DAYS));
            let window: Vec<i64> = days[first..i].iter().map(|(_, b)| *b).collect();
            let Some(baseline) = Baseline::of(&window) else { continue };
            if baseline.is_anomaly(bytes, ANOMALY_MIN_K) {
                self.found.push(Found { sim_id, day, data_total: bytes, baseline });
            }
        }
        self.days = days;
        self.days.clear();
    }
}

impl Store {
    /// Computes the derived data a migration asked for over the history already stored
    /// (`pending_backfills`), once: another instance starting at the same time waits on the
    /// row and then finds nothing left to do.
    pub(crate) async fn run_pending_backfills(&self) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let claimed = with_tx!(&mut tx, c => sqlx::query("DELETE FROM pending_backfills WHERE name = 'usage_anomalies'")
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        if claimed > 0 {
            let first: Option<NaiveDate> = with_tx!(&mut tx, c => sqlx::query_scalar("SELECT MIN(day) FROM usage_daily").fetch_one(&mut *c).await)?;
            if let Some(first) = first {
                let stored = refresh_in(&mut tx, first).await?;
                tracing::info!(since = %first, stored, "computed the usage anomalies of the stored history");
            }
        }
        tx.commit().await
    }
}
