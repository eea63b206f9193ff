//! Usage rollups (fleet per day, SIM per month) and retention of raw daily rows.

use crate::db::{with_db, with_tx, Dialect, Store};
use crate::error::StoreResult;
use chrono::{Datelike, NaiveDate};
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
    /// Recomputes the rollups for every day from `since` on (and the months they fall in),
    /// from the raw daily rows, in one transaction: one `GROUP BY` per rollup, not a query per SIM.
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
        tx.commit().await
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

    /// The SIMs that used the most data in `[from, to]`.
    pub async fn top_consumers(&self, from: NaiveDate, to: NaiveDate, limit: i64) -> StoreResult<Vec<TopConsumer>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT u.sim_id, s.iccid, s.label, u.data_total, u.sms_total FROM ( \
               SELECT sim_id, CAST(SUM(data_total) AS BIGINT) AS data_total, CAST(SUM(sms_mo + sms_mt) AS BIGINT) AS sms_total FROM usage_daily \
               WHERE day >= $1 AND day <= $2 GROUP BY sim_id ORDER BY SUM(data_total) DESC LIMIT $3) u \
             JOIN sims s ON s.id = u.sim_id ORDER BY u.data_total DESC, s.iccid",
        )
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(c)
        .await)?)
    }
}
