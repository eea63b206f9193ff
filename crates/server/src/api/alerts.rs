//! `/alert-rules`, `/alerts`, and a SIM's alerts and mutes. Viewers read; operators and admins
//! edit rules, acknowledge, resolve and mute.

use super::{Items, Page};
use crate::app::AppState;
use crate::auth::{Operator, Viewer};
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::{double_option, Body, Json, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_domain::{AlertKind, AlertState, Severity};
use simfleet_store::{Alert, AlertFilter, AlertRule, RuleUpdate};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules))
        .routes(routes!(get_rule, update_rule))
        .routes(routes!(list_alerts))
        .routes(routes!(get_alert))
        .routes(routes!(acknowledge))
        .routes(routes!(resolve))
        .routes(routes!(sim_alerts))
        .routes(routes!(list_mutes))
        .routes(routes!(mute, unmute))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleView {
    pub kind: AlertKind,
    pub description: String,
    pub enabled: bool,
    pub severity: Severity,
    pub threshold: i64,
    /// What `threshold` counts: `percent`, `days`, `hours`, `k` (× MAD) or `none`.
    pub threshold_unit: String,
    /// Only SIMs with this tag.
    pub scope_tag: Option<String>,
    pub scope_customer_id: Option<i64>,
    pub scope_tariff_plan_id: Option<i64>,
    pub updated_by: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<AlertRule> for AlertRuleView {
    type Error = ApiError;
    fn try_from(r: AlertRule) -> ApiResult<Self> {
        let kind = AlertKind::parse(&r.kind).ok_or_else(|| anyhow::anyhow!("unknown alert kind {}", r.kind))?;
        let spec = kind.spec();
        Ok(AlertRuleView {
            kind,
            description: spec.description.into(),
            enabled: r.enabled,
            severity: Severity::parse(&r.severity).unwrap_or(spec.severity),
            threshold: r.threshold,
            threshold_unit: spec.threshold_unit.into(),
            scope_tag: r.scope_tag,
            scope_customer_id: r.scope_customer_id,
            scope_tariff_plan_id: r.scope_tariff_plan_id,
            updated_by: r.updated_by,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: i64,
    pub kind: AlertKind,
    pub severity: Severity,
    pub state: AlertState,
    /// The SIM concerned; `null` for alerts about a sync job.
    pub iccid: Option<String>,
    /// The sync job concerned (`sync_job_failed`).
    pub job: Option<String>,
    pub message: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// `system` when the condition cleared by itself.
    pub resolved_by: Option<String>,
}

impl From<Alert> for AlertView {
    fn from(a: Alert) -> Self {
        AlertView {
            id: a.id,
            kind: AlertKind::parse(&a.kind).unwrap_or(AlertKind::SyncJobFailed),
            severity: Severity::parse(&a.severity).unwrap_or(Severity::Warning),
            state: AlertState::parse(&a.state).unwrap_or(AlertState::Open),
            iccid: a.iccid,
            job: a.job,
            message: a.message,
            first_seen: a.first_seen,
            last_seen: a.last_seen,
            acknowledged_at: a.acknowledged_at,
            acknowledged_by: a.acknowledged_by,
            resolved_at: a.resolved_at,
            resolved_by: a.resolved_by,
        }
    }
}

fn parse_kind(s: &str) -> ApiResult<AlertKind> {
    AlertKind::parse(s).ok_or_else(|| ApiError::NotFound(format!("no alert kind {s:?}")))
}

/// The alert rules, one per kind.
#[utoipa::path(get, path = "/alert-rules", tag = "alerts", responses((status = 200, body = Items<AlertRuleView>), (status = 401, body = Problem)))]
async fn list_rules(_: Viewer, State(app): State<AppState>) -> ApiResult<Json<Items<AlertRuleView>>> {
    let items = app.store.alert_rules().await?.into_iter().map(AlertRuleView::try_from).collect::<ApiResult<_>>()?;
    Ok(Json(Items { items }))
}

#[utoipa::path(get, path = "/alert-rules/{kind}", tag = "alerts", params(("kind" = String, Path)),
    responses((status = 200, body = AlertRuleView), (status = 404, body = Problem)))]
async fn get_rule(_: Viewer, State(app): State<AppState>, Path(kind): Path<String>) -> ApiResult<Json<AlertRuleView>> {
    Ok(Json(app.store.alert_rule(parse_kind(&kind)?).await?.try_into()?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub threshold: Option<i64>,
    /// `null` removes the scope.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub scope_tag: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub scope_customer_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub scope_tariff_plan_id: Option<Option<i64>>,
}

/// Change a rule's threshold, severity, scope or whether it is enabled (operator). Takes
/// effect at the next evaluation; a disabled rule resolves its alerts.
#[utoipa::path(patch, path = "/alert-rules/{kind}", tag = "alerts", params(("kind" = String, Path)), request_body = UpdateRule,
    responses((status = 200, body = AlertRuleView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_rule(
    who: Operator,
    State(app): State<AppState>,
    Path(kind): Path<String>,
    Body(body): Body<UpdateRule>,
) -> ApiResult<Json<AlertRuleView>> {
    let kind = parse_kind(&kind)?;
    let update = rule_update(kind, body)?;
    Ok(Json(app.store.update_alert_rule(kind, &update, &who.actor()).await?.try_into()?))
}

/// Checks a rule change (the threshold's range depends on its unit); shared with the dashboard.
pub fn rule_update(kind: AlertKind, body: UpdateRule) -> ApiResult<RuleUpdate> {
    let mut v = Validator::default();
    if let Some(t) = body.threshold {
        let (min, max) = match kind.spec().threshold_unit {
            "percent" => (0, 100),
            "none" => (0, 0),
            // Smaller multiples of the MAD would flag ordinary days (and those are not stored).
            "k" => (simfleet_domain::alerts::ANOMALY_MIN_K, 1000),
            _ => (0, 10_000),
        };
        if !(min..=max).contains(&t) {
            v.add("threshold", format!("must be between {min} and {max} ({})", kind.spec().threshold_unit));
        }
    }
    let scope_tag = body.scope_tag.map(super::non_empty);
    v.finish()?;
    Ok(RuleUpdate {
        enabled: body.enabled,
        severity: body.severity,
        threshold: body.threshold,
        scope_tag,
        scope_customer_id: body.scope_customer_id,
        scope_tariff_plan_id: body.scope_tariff_plan_id,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// `open`, `acknowledged`, `resolved`, or `active` (open or acknowledged).
    pub state: Option<String>,
    pub severity: Option<String>,
    pub kind: Option<String>,
    pub iccid: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

async fn alert_filter(app: &AppState, q: &AlertQuery) -> ApiResult<AlertFilter> {
    let mut f = AlertFilter::default();
    let mut v = Validator::default();
    match q.state.as_deref() {
        None => {}
        Some("active") => f.active = true,
        Some(s) => match AlertState::parse(s) {
            Some(state) => f.state = Some(state),
            None => v.add("state", "must be open, acknowledged, resolved or active"),
        },
    }
    if let Some(s) = q.severity.as_deref() {
        match Severity::parse(s) {
            Some(sev) => f.severity = Some(sev),
            None => v.add("severity", "must be info, warning or critical"),
        }
    }
    if let Some(k) = q.kind.as_deref() {
        match AlertKind::parse(k) {
            Some(kind) => f.kind = Some(kind),
            None => v.add("kind", "is not an alert kind"),
        }
    }
    v.finish()?;
    if let Some(iccid) = q.iccid.as_deref() {
        f.sim_id = Some(app.store.get_sim(iccid).await?.id);
    }
    Ok(f)
}

/// Alerts, newest first, filtered by state, severity, kind or SIM.
#[utoipa::path(get, path = "/alerts", tag = "alerts", params(AlertQuery), responses((status = 200, body = Page<AlertView>), (status = 422, body = Problem)))]
async fn list_alerts(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<Page<AlertView>>> {
    let f = alert_filter(&app, &q).await?;
    let page = super::PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(app.store.list_alerts(&f, page.request()?).await?, AlertView::from)))
}

#[utoipa::path(get, path = "/alerts/{id}", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 404, body = Problem)))]
async fn get_alert(_: Viewer, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<AlertView>> {
    Ok(Json(app.store.get_alert(id).await?.into()))
}

/// Acknowledge an open alert (operator): someone is on it. 422 if it is not open.
#[utoipa::path(post, path = "/alerts/{id}/acknowledge", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn acknowledge(who: Operator, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<AlertView>> {
    Ok(Json(app.store.transition_alert(id, AlertState::Acknowledged, &who.actor()).await?.into()))
}

/// Resolve an alert by hand (operator). If its condition still holds, the next evaluation
/// opens a new one. 422 if it is already resolved.
#[utoipa::path(post, path = "/alerts/{id}/resolve", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = AlertView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn resolve(who: Operator, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<AlertView>> {
    Ok(Json(app.store.transition_alert(id, AlertState::Resolved, &who.actor()).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimAlertQuery {
    /// `open`, `acknowledged`, `resolved` or `active`.
    pub state: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A SIM's alerts, newest first.
#[utoipa::path(get, path = "/sims/{iccid}/alerts", tag = "alerts", params(("iccid" = String, Path), SimAlertQuery),
    responses((status = 200, body = Page<AlertView>), (status = 404, body = Problem)))]
async fn sim_alerts(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(q): Query<SimAlertQuery>,
) -> ApiResult<Json<Page<AlertView>>> {
    let query = AlertQuery {
        state: q.state,
        severity: None,
        kind: None,
        iccid: Some(iccid),
        limit: q.limit,
        cursor: q.cursor.clone(),
        count: false,
    };
    let f = alert_filter(&app, &query).await?;
    let page = super::PageParams { limit: q.limit, cursor: q.cursor, count: false };
    Ok(Json(Page::from_store(app.store.list_alerts(&f, page.request()?).await?, AlertView::from)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MuteView {
    pub kind: AlertKind,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// The alert kinds muted for a SIM.
#[utoipa::path(get, path = "/sims/{iccid}/alert-mutes", tag = "alerts", params(("iccid" = String, Path)),
    responses((status = 200, body = Items<MuteView>), (status = 404, body = Problem)))]
async fn list_mutes(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
) -> ApiResult<Json<Items<MuteView>>> {
    let sim = app.store.get_sim(&iccid).await?;
    let items = app
        .store
        .alert_mutes(sim.id)
        .await?
        .into_iter()
        .filter_map(|m| {
            Some(MuteView { kind: AlertKind::parse(&m.kind)?, created_by: m.created_by, created_at: m.created_at })
        })
        .collect();
    Ok(Json(Items { items }))
}

/// Mute one alert kind for a SIM (operator): no new alerts of that kind, and the open one
/// resolves at the next evaluation. Idempotent.
#[utoipa::path(put, path = "/sims/{iccid}/alert-mutes/{kind}", tag = "alerts", params(("iccid" = String, Path), ("kind" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn mute(
    who: Operator,
    State(app): State<AppState>,
    Path((iccid, kind)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let kind = parse_kind(&kind)?;
    let sim = app.store.get_sim(&iccid).await?;
    app.store.mute_alerts(sim.id, kind, &who.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unmute an alert kind for a SIM (operator).
#[utoipa::path(delete, path = "/sims/{iccid}/alert-mutes/{kind}", tag = "alerts", params(("iccid" = String, Path), ("kind" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn unmute(
    _: Operator,
    State(app): State<AppState>,
    Path((iccid, kind)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let kind = parse_kind(&kind)?;
    let sim = app.store.get_sim(&iccid).await?;
    if !app.store.unmute_alerts(sim.id, kind).await? {
        return Err(ApiError::NotFound(format!("{} is not muted for {iccid}", kind.as_str())));
    }
    Ok(StatusCode::NO_CONTENT)
}
