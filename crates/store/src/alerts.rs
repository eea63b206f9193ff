//! Alert rules, alerts and per-SIM mutes, and the set-based evaluator.
//!
//! Evaluation runs in one transaction. For each rule, one `INSERT … SELECT` writes the subjects
//! whose condition holds into `alert_conditions`; then three statements over the whole fleet
//! refresh the open alerts that still hold, open the new ones and resolve those that cleared.
//! Notifications for the new alerts are queued by one more statement in the same transaction,
//! so an alert is never raised without its notifications, nor notified twice.

use crate::db::{with_db, with_tx, Dialect, Store};
use crate::error::{StoreError, StoreResult};
use crate::model::{Page, PageRequest};
use crate::sql::{bind_args, Sql};
use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use simfleet_domain::alerts::FORECAST_WINDOW_DAYS;
use simfleet_domain::{AlertKind, AlertState, Severity};

/// Who the evaluator acts as when it resolves an alert.
pub const SYSTEM_ACTOR: &str = "system";

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlertRule {
    pub kind: String,
    pub enabled: bool,
    pub severity: String,
    pub threshold: i64,
    pub scope_tag: Option<String>,
    pub scope_customer_id: Option<i64>,
    pub scope_tariff_plan_id: Option<i64>,
    pub updated_by: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a rule; `None` leaves a field as it is, `Some(None)` clears a scope.
#[derive(Debug, Clone, Default)]
pub struct RuleUpdate {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub threshold: Option<i64>,
    pub scope_tag: Option<Option<String>>,
    pub scope_customer_id: Option<Option<i64>>,
    pub scope_tariff_plan_id: Option<Option<i64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub severity: String,
    pub state: String,
    pub sim_id: Option<i64>,
    pub iccid: Option<String>,
    pub job: Option<String>,
    pub message: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
}

impl crate::paging::HasId for Alert {
    fn id(&self) -> i64 {
        self.id
    }
}

const ALERT_COLUMNS: &str = "a.id, a.kind, a.severity, a.state, a.sim_id, s.iccid, a.job, a.message, a.first_seen, \
    a.last_seen, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_by \
    FROM alerts a LEFT JOIN sims s ON s.id = a.sim_id";

#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// `open` also matches acknowledged alerts when `active` is set.
    pub state: Option<AlertState>,
    /// Not resolved (open or acknowledged).
    pub active: bool,
    pub severity: Option<Severity>,
    pub kind: Option<AlertKind>,
    pub sim_id: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EvaluationOutcome {
    pub opened: u64,
    pub resolved: u64,
    /// Alerts not resolved after the evaluation.
    pub active: i64,
    pub notifications_queued: u64,
}

/// A SIM whose data quota runs out within the period asked for, at its recent rate.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct SimAtRisk {
    pub sim_id: i64,
    pub iccid: String,
    pub label: Option<String>,
    pub remaining: i64,
    /// Bytes used over the forecast window, and the days of it observed.
    pub window_used: i64,
    pub window_days: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AlertMute {
    pub kind: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Creates the default rule of every kind that has none yet (run after migrating), enabled
    /// or not as its spec says.
    pub async fn seed_alert_rules(&self) -> StoreResult<()> {
        let now = crate::now();
        let mut sql = Sql::new("INSERT INTO alert_rules (kind, enabled, severity, threshold, updated_at) VALUES ");
        let values: Vec<String> = AlertKind::ALL
            .iter()
            .map(|k| {
                let spec = k.spec();
                let p = [sql.arg(k.as_str()), sql.arg(spec.severity.as_str()), sql.arg(spec.threshold), sql.arg(now)];
                let enabled = if spec.enabled { "TRUE" } else { "FALSE" };
                format!("({}, {enabled}, {}, {}, {})", p[0], p[1], p[2], p[3])
            })
            .collect();
        sql.push(&values.join(", ")).push(" ON CONFLICT (kind) DO NOTHING");
        self.write(sql).await?;
        Ok(())
    }

    pub async fn alert_rules(&self) -> StoreResult<Vec<AlertRule>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT kind, enabled, severity, threshold, scope_tag, scope_customer_id, scope_tariff_plan_id, updated_by, updated_at \
             FROM alert_rules ORDER BY kind",
        )
        .fetch_all(c)
        .await)?)
    }

    pub async fn alert_rule(&self, kind: AlertKind) -> StoreResult<AlertRule> {
        let rule: Option<AlertRule> = with_db!(self, c => sqlx::query_as(
            "SELECT kind, enabled, severity, threshold, scope_tag, scope_customer_id, scope_tariff_plan_id, updated_by, updated_at \
             FROM alert_rules WHERE kind = $1",
        )
        .bind(kind.as_str())
        .fetch_optional(c)
        .await)?;
        rule.ok_or(StoreError::NotFound("alert rule"))
    }

    pub async fn update_alert_rule(&self, kind: AlertKind, u: &RuleUpdate, actor: &str) -> StoreResult<AlertRule> {
        let cur = self.alert_rule(kind).await?;
        let enabled = u.enabled.unwrap_or(cur.enabled);
        let severity = u.severity.map(|s| s.as_str().to_owned()).unwrap_or(cur.severity);
        let threshold = u.threshold.unwrap_or(cur.threshold);
        let tag = u.scope_tag.clone().unwrap_or(cur.scope_tag);
        let customer = u.scope_customer_id.unwrap_or(cur.scope_customer_id);
        let tariff = u.scope_tariff_plan_id.unwrap_or(cur.scope_tariff_plan_id);
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query(
            "UPDATE alert_rules SET enabled = $1, severity = $2, threshold = $3, scope_tag = $4, scope_customer_id = $5, \
             scope_tariff_plan_id = $6, updated_by = $7, updated_at = $8 WHERE kind = $9",
        )
        .bind(enabled)
        .bind(severity.as_str())
        .bind(threshold)
        .bind(tag.as_deref())
        .bind(customer)
        .bind(tariff)
        .bind(actor)
        .bind(crate::now())
        .bind(kind.as_str())
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        self.alert_rule(kind).await
    }

    /// Evaluates every rule over the whole fleet at `now`: opens, refreshes and resolves
    /// alerts, and queues notifications for the new ones, in one transaction.
    pub async fn evaluate_alerts(&self, now: DateTime<Utc>) -> StoreResult<EvaluationOutcome> {
        let rules = self.alert_rules().await?;
        let mut outcome = EvaluationOutcome::default();
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("DELETE FROM alert_conditions").execute(&mut *c).await.map(|r| r.rows_affected()))?;
        for rule in &rules {
            let Some(kind) = AlertKind::parse(&rule.kind) else { continue };
            if rule.enabled {
                let cond = condition_sql(kind, rule, now, tx.dialect());
                let text = cond.text_for(tx.dialect());
                with_tx!(&mut tx, c => bind_args!(sqlx::query(&text), &cond.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
            }
            let k = rule.kind.as_str();
            with_tx!(&mut tx, c => sqlx::query(
                "UPDATE alerts SET last_seen = $1, message = (SELECT c.message FROM alert_conditions c WHERE c.kind = alerts.kind AND c.subject = alerts.subject) \
                 WHERE kind = $2 AND state <> 'resolved' AND subject IN (SELECT subject FROM alert_conditions WHERE kind = $2)",
            )
            .bind(now)
            .bind(k)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
            outcome.opened += with_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO alerts (kind, subject, sim_id, job, severity, state, message, first_seen, last_seen) \
                 SELECT c.kind, c.subject, c.sim_id, c.job, $1, 'open', c.message, $2, $2 FROM alert_conditions c \
                 WHERE c.kind = $3 AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.kind = $3 AND a.subject = c.subject AND a.state <> 'resolved')",
            )
            .bind(rule.severity.as_str())
            .bind(now)
            .bind(k)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
            outcome.resolved += with_tx!(&mut tx, c => sqlx::query(
                "UPDATE alerts SET state = 'resolved', resolved_at = $1, resolved_by = $2 \
                 WHERE kind = $3 AND state <> 'resolved' AND NOT EXISTS (SELECT 1 FROM alert_conditions c WHERE c.kind = $3 AND c.subject = alerts.subject)",
            )
            .bind(now)
            .bind(SYSTEM_ACTOR)
            .bind(k)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        outcome.notifications_queued = crate::notify::queue_for_new_alerts(&mut tx, now).await?;
        with_tx!(&mut tx, c => sqlx::query("DELETE FROM alert_conditions").execute(&mut *c).await.map(|r| r.rows_affected()))?;
        outcome.active = with_tx!(&mut tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE state <> 'resolved'").fetch_one(&mut *c).await)?;
        tx.commit().await?;
        Ok(outcome)
    }

    pub async fn list_alerts(&self, f: &AlertFilter, page: PageRequest<'_>) -> StoreResult<Page<Alert>> {
        let mut sql = Sql::new(format!("SELECT {ALERT_COLUMNS} WHERE 1=1"));
        if let Some(state) = f.state {
            let p = sql.arg(state.as_str());
            sql.push(&format!(" AND a.state = {p}"));
        }
        if f.active {
            sql.push(" AND a.state <> 'resolved'");
        }
        if let Some(sev) = f.severity {
            let p = sql.arg(sev.as_str());
            sql.push(&format!(" AND a.severity = {p}"));
        }
        if let Some(kind) = f.kind {
            let p = sql.arg(kind.as_str());
            sql.push(&format!(" AND a.kind = {p}"));
        }
        if let Some(sim) = f.sim_id {
            let p = sql.arg(sim);
            sql.push(&format!(" AND a.sim_id = {p}"));
        }
        self.id_page(sql, "a", true, page).await
    }

    pub async fn get_alert(&self, id: i64) -> StoreResult<Alert> {
        let sql = format!("SELECT {ALERT_COLUMNS} WHERE a.id = $1");
        let alert: Option<Alert> = with_db!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await)?;
        alert.ok_or(StoreError::NotFound("alert"))
    }

    /// Moves an alert to `target` (acknowledged or resolved) on behalf of `actor`; a move the
    /// state machine forbids is a rule violation.
    pub async fn transition_alert(&self, id: i64, target: AlertState, actor: &str) -> StoreResult<Alert> {
        let cur = self.get_alert(id).await?;
        let state = AlertState::parse(&cur.state).unwrap_or(AlertState::Open);
        let allowed = match target {
            AlertState::Acknowledged => state.acknowledge(),
            AlertState::Resolved => state.resolve(),
            AlertState::Open => None,
        };
        if allowed.is_none() {
            return Err(StoreError::precondition(
                Some("state"),
                format!("an alert that is {} cannot be {}", state.as_str(), target.as_str()),
            ));
        }
        let now = crate::now();
        let column = if target == AlertState::Acknowledged { "acknowledged" } else { "resolved" };
        let sql =
            format!("UPDATE alerts SET state = $1, {column}_at = $2, {column}_by = $3 WHERE id = $4 AND state = $5");
        let n = self
            .write(Sql::with(
                sql,
                vec![target.as_str().into(), now.into(), actor.into(), id.into(), state.as_str().into()],
            ))
            .await?;
        if n == 0 {
            return Err(StoreError::precondition(Some("state"), "the alert changed meanwhile; try again"));
        }
        self.get_alert(id).await
    }

    pub async fn mute_alerts(&self, sim_id: i64, kind: AlertKind, actor: &str) -> StoreResult<()> {
        self.write(Sql::with(
            "INSERT INTO alert_mutes (sim_id, kind, created_by, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sim_id, kind) DO NOTHING",
            vec![sim_id.into(), kind.as_str().into(), actor.into(), crate::now().into()],
        ))
        .await?;
        Ok(())
    }

    /// A conflict naming the alert rules scoped to `what` (by `column`), if any: called when a
    /// delete guarded against such rules removed nothing.
    pub(crate) async fn refuse_if_scoping_rules(&self, column: &str, id: i64, what: &str) -> StoreResult<()> {
        let sql = format!("SELECT kind FROM alert_rules WHERE {column} = $1 ORDER BY kind");
        let kinds: Vec<String> = with_db!(self, c => sqlx::query_scalar(&sql).bind(id).fetch_all(c).await)?;
        if kinds.is_empty() {
            return Ok(());
        }
        Err(StoreError::Conflict {
            field: None,
            message: format!("{what} scopes the alert rule(s) {}; change their scope first", kinds.join(", ")),
        })
    }

    /// True when a mute was removed.
    pub async fn unmute_alerts(&self, sim_id: i64, kind: AlertKind) -> StoreResult<bool> {
        let n = self
            .write(Sql::with(
                "DELETE FROM alert_mutes WHERE sim_id = $1 AND kind = $2",
                vec![sim_id.into(), kind.as_str().into()],
            ))
            .await?;
        Ok(n > 0)
    }

    pub async fn alert_mutes(&self, sim_id: i64) -> StoreResult<Vec<AlertMute>> {
        Ok(
            with_db!(self, c => sqlx::query_as("SELECT kind, created_by, created_at FROM alert_mutes WHERE sim_id = $1 ORDER BY kind")
            .bind(sim_id)
            .fetch_all(c)
            .await)?,
        )
    }

    /// SIMs whose data quota runs out within `days` at the average use of the forecast window
    /// ending `today`, soonest first.
    pub async fn sims_at_risk(&self, today: NaiveDate, days: i64, limit: i64) -> StoreResult<Vec<SimAtRisk>> {
        self.sims_at_risk_of(today, days, limit, None).await
    }

    /// [`Store::sims_at_risk`] among one customer's SIMs, or the fleet's with `None`.
    pub async fn sims_at_risk_of(
        &self,
        today: NaiveDate,
        days: i64,
        limit: i64,
        customer_id: Option<i64>,
    ) -> StoreResult<Vec<SimAtRisk>> {
        let mut sql = Sql::new("");
        let window = forecast_window_sql(&mut sql, today);
        let d = sql.arg(days);
        let customer = match customer_id {
            Some(id) => format!(" AND s.customer_id = {}", sql.arg(id)),
            None => String::new(),
        };
        let l = sql.arg(limit);
        sql.push(&format!(
            "SELECT s.id AS sim_id, s.iccid, s.label, q.remaining, u.used AS window_used, u.n AS window_days \
             FROM sims s JOIN sim_quotas q ON q.sim_id = s.id AND q.kind = 'data' JOIN ({window}) u ON u.sim_id = s.id \
             WHERE q.remaining > 0 AND u.used > 0 AND q.remaining * u.n < u.used * {d}{customer} \
             ORDER BY CAST(q.remaining AS DOUBLE PRECISION) * u.n / u.used, s.iccid LIMIT {l}"
        ));
        let text = sql.text_for(self.dialect());
        Ok(with_db!(self, c => bind_args!(sqlx::query_as(&text), &sql.args).fetch_all(c).await)?)
    }

    /// Alerts not resolved, counted per (severity, state).
    pub async fn active_alert_counts(&self) -> StoreResult<Vec<(String, String, i64)>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT severity, state, COUNT(*) FROM alerts WHERE state <> 'resolved' GROUP BY severity, state",
        )
        .fetch_all(c)
        .await)?)
    }

    /// Alerts in the database (only those not resolved with `active_only`).
    pub async fn alert_count(&self, active_only: bool) -> StoreResult<i64> {
        let sql = if active_only {
            "SELECT COUNT(*) FROM alerts WHERE state <> 'resolved'"
        } else {
            "SELECT COUNT(*) FROM alerts"
        };
        Ok(with_db!(self, c => sqlx::query_scalar(sql).fetch_one(c).await)?)
    }
}

/// Per SIM: bytes used and days stored in the forecast window ending `today`.
fn forecast_window_sql(sql: &mut Sql, today: NaiveDate) -> String {
    let from = sql.arg(today - Days::new(FORECAST_WINDOW_DAYS - 1));
    let to = sql.arg(today);
    format!(
        "SELECT sim_id, CAST(SUM(data_total) AS BIGINT) AS used, COUNT(*) AS n FROM usage_daily \
         WHERE day >= {from} AND day <= {to} GROUP BY sim_id"
    )
}

/// `INSERT INTO alert_conditions … SELECT …` for one rule over the whole fleet.
fn condition_sql(kind: AlertKind, rule: &AlertRule, now: DateTime<Utc>, dialect: Dialect) -> Sql {
    use AlertKind::*;
    let mut sql = Sql::new("");
    let t = rule.threshold;
    let today = now.date_naive();
    let text_of = |e: &str| format!("CAST({e} AS TEXT)");
    let sim_subject = format!("'sim:' || {}", text_of("s.id"));
    let mib = |e: &str| text_of(&format!("({e}) / 1048576"));
    // (FROM … WHERE … clause without scope, message expression)
    let (from_where, message) = match kind {
        DataQuotaLow | SmsQuotaLow => {
            let q = if kind == DataQuotaLow { "data" } else { "sms" };
            let p = sql.arg(t);
            let left = if kind == DataQuotaLow { format!("{} || ' MiB'", mib("q.remaining")) } else { text_of("q.remaining") };
            (
                format!(
                    "FROM sims s JOIN sim_quotas q ON q.sim_id = s.id AND q.kind = '{q}' \
                     WHERE q.total > 0 AND q.remaining > 0 AND q.remaining * 100 < q.total * {p}"
                ),
                format!(
                    "'{} quota at ' || {} || ' % (' || {left} || ' left)'",
                    if kind == DataQuotaLow { "Data" } else { "SMS" },
                    text_of("q.remaining * 100 / q.total")
                ),
            )
        }
        QuotaExhausted => (
            "FROM sims s JOIN (SELECT sim_id, MIN(kind) AS first_kind, COUNT(*) AS kinds FROM sim_quotas WHERE remaining <= 0 GROUP BY sim_id) q \
             ON q.sim_id = s.id WHERE 1=1"
                .to_owned(),
            "CASE WHEN q.kinds > 1 THEN 'Data and SMS quotas used up' WHEN q.first_kind = 'data' THEN 'Data quota used up' ELSE 'SMS quota used up' END"
                .to_owned(),
        ),
        QuotaExpiring => {
            let until = sql.arg(today + Days::new(t.max(0) as u64));
            let today_p = sql.arg(today);
            (
                format!(
                    "FROM sims s JOIN sim_quotas q ON q.sim_id = s.id AND q.kind = 'data' \
                     WHERE q.expiry_date IS NOT NULL AND q.expiry_date <= {until}"
                ),
                format!(
                    "CASE WHEN q.expiry_date < {today_p} THEN 'Quota expired on ' ELSE 'Quota expires on ' END || {}",
                    text_of("q.expiry_date")
                ),
            )
        }
        ForecastExhaustion => {
            let window = forecast_window_sql(&mut sql, today);
            let p = sql.arg(t);
            (
                format!(
                    "FROM sims s JOIN sim_quotas q ON q.sim_id = s.id AND q.kind = 'data' JOIN ({window}) u ON u.sim_id = s.id \
                     WHERE q.remaining > 0 AND u.used > 0 AND q.remaining * u.n < u.used * {p}"
                ),
                format!(
                    "'Data quota runs out in about ' || {} || ' days at the average use of the last {FORECAST_WINDOW_DAYS} days'",
                    text_of("q.remaining * u.n / u.used")
                ),
            )
        }
        Offline => {
            let since = sql.arg(now - TimeDelta::hours(t));
            (
                format!(
                    "FROM sims s JOIN sim_connectivity c ON c.sim_id = s.id \
                     WHERE s.status = 'ACTIVE' AND c.last_seen_at IS NOT NULL AND c.last_seen_at < {since}"
                ),
                format!("'Not seen on the network for more than {t} hours (last seen ' || {} || ')'", text_of("c.last_seen_at")),
            )
        }
        UsageAnomaly => {
            let day = sql.arg(today - Days::new(1));
            let k = sql.arg(t);
            (
                format!(
                    "FROM sims s JOIN usage_anomalies x ON x.sim_id = s.id \
                     WHERE x.day = {day} AND x.data_total > x.median + {k} * x.mad"
                ),
                format!(
                    "'Data use on ' || {} || ' was ' || {} || ' MiB, above its baseline threshold of ' || {} || ' MiB'",
                    text_of("x.day"),
                    mib("x.data_total"),
                    mib(&format!("CAST(x.median + {k} * x.mad AS BIGINT)"))
                ),
            )
        }
        StatusChangedExternally | ProviderActionFailed => {
            let event = if kind == StatusChangedExternally { "STATUS_CHANGED_EXTERNALLY" } else { "PROVIDER_ACTION_FAILED" };
            let since = sql.arg(now - TimeDelta::hours(t));
            let what = if kind == StatusChangedExternally {
                "Status changed outside simfleet"
            } else {
                "A provider action failed"
            };
            (
                format!(
                    "FROM sims s JOIN (SELECT sim_id, COUNT(*) AS n FROM sim_events WHERE kind = '{event}' AND created_at >= {since} GROUP BY sim_id) e \
                     ON e.sim_id = s.id WHERE 1=1"
                ),
                format!("'{what} (' || {} || ' time(s) in the last {t} hours)'", text_of("e.n")),
            )
        }
        SmsReceived => {
            let since = sql.arg(now - TimeDelta::hours(t));
            (
                format!(
                    "FROM sims s JOIN (SELECT sim_id, COUNT(*) AS n, MAX(submitted_at) AS latest FROM sms_messages \
                     WHERE direction = 'MO' AND submitted_at >= {since} GROUP BY sim_id) m ON m.sim_id = s.id WHERE 1=1"
                ),
                format!(
                    "{} || ' SMS received from the device in the last {t} hours (latest ' || {} || ')'",
                    text_of("m.n"),
                    text_of("m.latest")
                ),
            )
        }
        SyncJobFailed => {
            sql.push(
                "INSERT INTO alert_conditions (kind, subject, sim_id, job, message) \
                 SELECT 'sync_job_failed', 'job:' || r.job, NULL, r.job, 'The latest ' || r.job || ' run failed' \
                 FROM job_runs r WHERE r.id IN (SELECT MAX(id) FROM job_runs GROUP BY job) AND r.status = 'failed'",
            );
            return sql;
        }
    };
    let mut scope = String::new();
    if let Some(tag) = &rule.scope_tag {
        let p = sql.arg(tag.as_str());
        scope.push_str(&format!(" AND {}", crate::sim_tags::has_tag(dialect, &p)));
    }
    if let Some(customer) = rule.scope_customer_id {
        let p = sql.arg(customer);
        scope.push_str(&format!(" AND s.customer_id = {p}"));
    }
    if let Some(tariff) = rule.scope_tariff_plan_id {
        let p = sql.arg(tariff);
        scope.push_str(&format!(" AND s.tariff_plan_id = {p}"));
    }
    let k = sql.arg(kind.as_str());
    let statement = format!(
        "INSERT INTO alert_conditions (kind, subject, sim_id, job, message) SELECT {k}, {sim_subject}, s.id, NULL, {message} \
         {from_where}{scope} AND NOT EXISTS (SELECT 1 FROM alert_mutes m WHERE m.sim_id = s.id AND m.kind = {k})"
    );
    sql.text = statement;
    sql
}
