//! Usage rollups (fleet per day, SIM per month) and retention of raw daily rows.

use crate::db::{with_db, with_tx, Dialect, Store};
use crate::error::StoreResult;
use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct FleetDay {
    pub day: NaiveDate,
    pub data_rx: i64,
    pub data_tx: i64,
    pub data_total: i64,
    pub sms_mo: i64,
    pub sms_mt: i64,
    pub active_sims: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TopConsumer {
    pub sim_id: i64,
    pub iccid: String,
    pub label: Option<String>,
    pub data_total: i64,
    pub sms_total: i64,
}

impl Store {
    /// Recomputes the rollups for every day from `since` on (and the months they fall in), and
    /// the stored usage anomalies of those days, from the raw daily rows, in one transaction:
    /// one `GROUP BY` per rollup, not a query per SIM.
    pub async fn refresh_usage_rollups(&self, since: NaiveDate) -> StoreResult<()> {
        let month_start = since.with_day(1).expect("day 1 exists");
        let month_of = match self.dialect() {
            Dialect::Sqlite => "substr(day, 1, 7) || '-01'",
            Dialect::Postgres => "date_trunc('month', day)::date",
        };
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("DELETE FROM usage_fleet_daily WHERE day >= $1").bind(since).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        with_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO usage_fleet_daily (day, data_rx, data_tx, data_total, sms_mo, sms_mt, active_sims) \
             SELECT day, SUM(data_rx), SUM(data_tx), SUM(data_total), SUM(sms_mo), SUM(sms_mt), \
                    SUM(CASE WHEN data_total > 0 OR sms_mo + sms_mt > 0 THEN 1 ELSE 0 END) \
             FROM usage_daily WHERE day >= $1 GROUP BY day",
        )
        .bind(since)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        with_tx!(&mut tx, c => sqlx::query("DELETE FROM usage_monthly WHERE month >= $1").bind(month_start).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let monthly = format!(
            "INSERT INTO usage_monthly (sim_id, month, data_rx, data_tx, data_total, sms_mo, sms_mt) \
             SELECT sim_id, {month_of}, SUM(data_rx), SUM(data_tx), SUM(data_total), SUM(sms_mo), SUM(sms_mt) \
             FROM usage_daily WHERE day >= $1 GROUP BY sim_id, {month_of}"
        );
        with_tx!(&mut tx, c => sqlx::query(&monthly).bind(month_start).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        crate::anomalies::refresh_in(&mut tx, since).await?;
        tx.commit().await?;
        // A refresh of many days follows a bulk load (a first sync): without fresh statistics,
        // PostgreSQL plans index scans for millions of rows until autovacuum comes round.
        if self.dialect() == Dialect::Postgres && (crate::now().date_naive() - since).num_days() > 7 {
            with_db!(self, c => sqlx::query("ANALYZE usage_daily, usage_monthly, usage_anomalies").execute(c).await.map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Deletes raw daily rows before `before`; rollups stay. Returns the rows deleted.
    pub async fn prune_usage(&self, before: NaiveDate) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let n = with_tx!(&mut tx, c => sqlx::query("DELETE FROM usage_daily WHERE day < $1").bind(before).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(n)
    }

    /// Fleet usage per day in `[from, to]` (days without rows are absent).
    pub async fn fleet_usage(&self, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<FleetDay>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT day, data_rx, data_tx, data_total, sms_mo, sms_mt, active_sims FROM usage_fleet_daily \
             WHERE day >= $1 AND day <= $2 ORDER BY day",
        )
        .bind(from)
        .bind(to)
        .fetch_all(c)
        .await)?)
    }

    /// The SIMs that used the most data in `[from, to]`. Whole calendar months of the range
    /// come from the monthly rollup (a row per SIM, kept past the raw rows' retention), the
    /// days at its ends from the raw daily rows.
    pub async fn top_consumers(&self, from: NaiveDate, to: NaiveDate, limit: i64) -> StoreResult<Vec<TopConsumer>> {
        let (months_from, months_to) = whole_months(from, to);
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT u.sim_id, s.iccid, s.label, u.data_total, u.sms_total FROM ( \
               SELECT sim_id, CAST(SUM(data_total) AS BIGINT) AS data_total, CAST(SUM(sms) AS BIGINT) AS sms_total FROM ( \
                 SELECT sim_id, data_total, sms_mo + sms_mt AS sms FROM usage_daily WHERE day >= $1 AND day < $2 \
                 UNION ALL SELECT sim_id, data_total, sms_mo + sms_mt FROM usage_monthly WHERE month >= $2 AND month < $3 \
                 UNION ALL SELECT sim_id, data_total, sms_mo + sms_mt FROM usage_daily WHERE day >= $3 AND day <= $4 \
               ) p GROUP BY sim_id ORDER BY SUM(data_total) DESC LIMIT $5) u \
             JOIN sims s ON s.id = u.sim_id ORDER BY u.data_total DESC, s.iccid",
        )
        .bind(from)
        .bind(months_from)
        .bind(months_to)
        .bind(to)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }
}

/// The whole calendar months inside `[from, to]`, as `[first day, first day after)`; an empty
/// span after `to` when there are none.
fn whole_months(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate) {
    let month_of = |d: NaiveDate| d.with_day(1).expect("day 1 exists");
    let next_month = |d: NaiveDate| month_of(d).checked_add_months(Months::new(1)).expect("date in range");
    let first = if from.day() == 1 { from } else { next_month(from) };
    let after = to.succ_opt().expect("date in range");
    let end = if after.day() == 1 { after } else { month_of(to) };
    if first < end {
        (first, end)
    } else {
        (after, after)
    }
}

#[cfg(test)]
mod tests {
    use super::whole_months;
    use chrono::NaiveDate;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn whole_months_of_a_range() {
        // Exactly one month.
        assert_eq!(whole_months(d(2026, 1, 1), d(2026, 1, 31)), (d(2026, 1, 1), d(2026, 2, 1)));
        // The last 30 days: no whole month, so an empty span after the range.
        assert_eq!(whole_months(d(2026, 11, 2), d(2026, 12, 1)), (d(2026, 12, 2), d(2026, 12, 2)));
        // Partial months at both ends around two whole ones (February of a leap year).
        assert_eq!(whole_months(d(2028, 1, 15), d(2028, 4, 3)), (d(2028, 2, 1), d(2028, 4, 1)));
        assert_eq!(whole_months(d(2028, 1, 15), d(2028, 2, 29)), (d(2028, 2, 1), d(2028, 3, 1)));
        // Within one month.
        assert_eq!(whole_months(d(2026, 3, 1), d(2026, 3, 30)), (d(2026, 3, 31), d(2026, 3, 31)));
        assert_eq!(whole_months(d(2026, 12, 1), d(2026, 12, 1)), (d(2026, 12, 2), d(2026, 12, 2)));
    }
}
