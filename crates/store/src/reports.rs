//! The monthly fleet report: one month of the whole fleet or of one customer's SIMs, read
//! with a handful of set-based queries (no query per SIM).

use crate::db::{with_db, Store};
use crate::error::StoreResult;
use crate::sql::{bind_args, Sql};
use crate::SimAtRisk;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use simfleet_domain::SimStatus;
use std::collections::BTreeMap;

/// What one report covers: a calendar month, of one customer or of the whole fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportScope {
    /// The first day of the month.
    pub month: NaiveDate,
    pub customer_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ReportSimUsage {
    pub iccid: String,
    pub label: Option<String>,
    pub status: String,
    pub customer: Option<String>,
    pub data_rx: i64,
    pub data_tx: i64,
    pub data_total: i64,
    pub sms_mo: i64,
    pub sms_mt: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageTotals {
    pub data_rx: i64,
    pub data_tx: i64,
    pub data_total: i64,
    pub sms_mo: i64,
    pub sms_mt: i64,
    /// SIMs that used data or SMS in the month.
    pub sims_with_usage: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ReportAlert {
    pub severity: String,
    pub kind: String,
    pub state: String,
    pub iccid: Option<String>,
    pub message: String,
    pub first_seen: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthlyReport {
    pub month: NaiveDate,
    pub customer_id: Option<i64>,
    /// The SIMs in scope by status when the report is made (every status, zeros included).
    pub by_status: Vec<(SimStatus, i64)>,
    /// Lifecycle events dated in the month.
    pub activations: i64,
    pub terminations: i64,
    pub totals: UsageTotals,
    /// The SIMs that used data or SMS in the month, the heaviest first (all of them unless
    /// the caller asked for fewer; `totals.sims_with_usage` counts them all).
    pub usage: Vec<ReportSimUsage>,
    /// SIMs forecast to run out of data within 30 days of the report.
    pub at_risk: Vec<SimAtRisk>,
    /// Alerts not resolved when the report is made, most severe first.
    pub open_alerts: Vec<ReportAlert>,
}

/// Days ahead for "at quota risk", and the most rows a report lists for risks and alerts.
const RISK_DAYS: i64 = 30;
const MAX_LISTED: i64 = 5000;

impl Store {
    /// `usage_rows` limits the per-SIM usage list to the heaviest users (a page shows a few;
    /// the workbook wants them all); the totals always cover every SIM.
    pub async fn monthly_report(
        &self,
        scope: ReportScope,
        today: NaiveDate,
        usage_rows: Option<i64>,
    ) -> StoreResult<MonthlyReport> {
        let start = scope.month;
        let end = start.checked_add_months(chrono::Months::new(1)).expect("date in range");
        let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"));
        let customer_filter = |sql: &mut Sql, alias: &str| match scope.customer_id {
            Some(id) => {
                let p = sql.arg(id);
                format!(" AND {alias}.customer_id = {p}")
            }
            None => String::new(),
        };

        let mut sql = Sql::new("SELECT s.status, COUNT(*) FROM sims s WHERE 1 = 1");
        let f = customer_filter(&mut sql, "s");
        sql.push(&format!("{f} GROUP BY s.status"));
        let rows: Vec<(String, i64)> =
            with_db!(self, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_all(c).await)?;
        let counts: BTreeMap<String, i64> = rows.into_iter().collect();
        let by_status = SimStatus::ALL.iter().map(|s| (*s, counts.get(s.as_str()).copied().unwrap_or(0))).collect();

        let mut sql = Sql::new("SELECT e.kind, COUNT(*) FROM sim_events e JOIN sims s ON s.id = e.sim_id WHERE ");
        let (from, to) = (sql.arg(midnight(start)), sql.arg(midnight(end)));
        sql.push(&format!("e.kind IN ('ACTIVATED', 'TERMINATED') AND e.created_at >= {from} AND e.created_at < {to}"));
        let f = customer_filter(&mut sql, "s");
        sql.push(&format!("{f} GROUP BY e.kind"));
        let events: BTreeMap<String, i64> = with_db!(self, c => bind_args!(sqlx::query_as::<_, (String, i64)>(&sql.text), &sql.args).fetch_all(c).await)?
            .into_iter()
            .collect();

        // The monthly rollup: kept after raw daily rows age out, so old months still report.
        let used = |sql: &mut Sql| {
            let month = sql.arg(start);
            let f = customer_filter(sql, "s");
            format!(
                "FROM usage_monthly m JOIN sims s ON s.id = m.sim_id LEFT JOIN customers cu ON cu.id = s.customer_id \
                 WHERE m.month = {month} AND (m.data_total > 0 OR m.sms_mo + m.sms_mt > 0){f}"
            )
        };
        let mut sql = Sql::new("");
        let from_used = used(&mut sql);
        sql.push(&format!(
            "SELECT CAST(COALESCE(SUM(m.data_rx), 0) AS BIGINT), CAST(COALESCE(SUM(m.data_tx), 0) AS BIGINT), \
             CAST(COALESCE(SUM(m.data_total), 0) AS BIGINT), CAST(COALESCE(SUM(m.sms_mo), 0) AS BIGINT), \
             CAST(COALESCE(SUM(m.sms_mt), 0) AS BIGINT), COUNT(*) {from_used}"
        ));
        let (data_rx, data_tx, data_total, sms_mo, sms_mt, sims_with_usage): (i64, i64, i64, i64, i64, i64) =
            with_db!(self, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_one(c).await)?;
        let totals = UsageTotals { data_rx, data_tx, data_total, sms_mo, sms_mt, sims_with_usage };

        let mut sql = Sql::new("");
        let from_used = used(&mut sql);
        sql.push(&format!(
            "SELECT s.iccid, s.label, s.status, cu.name AS customer, m.data_rx, m.data_tx, m.data_total, m.sms_mo, \
             m.sms_mt {from_used} ORDER BY m.data_total DESC, s.iccid"
        ));
        if let Some(n) = usage_rows {
            let n = sql.arg(n);
            sql.push(&format!(" LIMIT {n}"));
        }
        let usage: Vec<ReportSimUsage> =
            with_db!(self, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_all(c).await)?;

        let at_risk = self.sims_at_risk_of(today, RISK_DAYS, MAX_LISTED, scope.customer_id).await?;

        let mut sql = Sql::new(
            "SELECT a.severity, a.kind, a.state, s.iccid, a.message, a.first_seen FROM alerts a \
             LEFT JOIN sims s ON s.id = a.sim_id WHERE a.state <> 'resolved'",
        );
        let f = customer_filter(&mut sql, "s");
        let limit = sql.arg(MAX_LISTED);
        sql.push(&format!(
            "{f} ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, a.first_seen LIMIT {limit}"
        ));
        let open_alerts: Vec<ReportAlert> =
            with_db!(self, c => bind_args!(sqlx::query_as(&sql.text), &sql.args).fetch_all(c).await)?;

        Ok(MonthlyReport {
            month: start,
            customer_id: scope.customer_id,
            by_status,
            activations: events.get("ACTIVATED").copied().unwrap_or(0),
            terminations: events.get("TERMINATED").copied().unwrap_or(0),
            totals,
            usage,
            at_risk,
            open_alerts,
        })
    }
}
