//! `/alerts`: alerts with state and severity filters; operators acknowledge and resolve them.
//! `/alerts/rules`: the alert rules; operators edit them with the API's own validation.

use super::page::{field_errors, redirect_with, urlencode, Ctx, FieldErrors, WebError};
use crate::api::alerts::{rule_update, AlertRuleView, UpdateRule};
use crate::app::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};
use simfleet_domain::alerts::{AlertKind, AlertState, Severity};
use simfleet_domain::Role;
use simfleet_store::{AlertFilter, PageRequest};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(list))
        .route("/alerts/{id}/acknowledge", post(acknowledge))
        .route("/alerts/{id}/resolve", post(resolve))
        .route("/alerts/rules", get(rules))
        .route("/alerts/rules/{kind}", get(rule).post(update_rule))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AlertQuery {
    /// `active` (default: open or acknowledged), `open`, `acknowledged`, `resolved` or `all`.
    state: String,
    severity: String,
    cursor: String,
}

async fn list(ctx: Ctx, State(app): State<AppState>, Query(q): Query<AlertQuery>) -> Result<Response, WebError> {
    let state = if q.state.is_empty() { "active" } else { q.state.as_str() };
    let mut filter = AlertFilter { severity: Severity::parse(&q.severity), ..AlertFilter::default() };
    match state {
        "active" => filter.active = true,
        "all" => {}
        other => {
            filter.state = Some(
                AlertState::parse(other).ok_or_else(|| WebError::BadRequest(format!("no alert state {other:?}")))?,
            )
        }
    }
    let cursor = (!q.cursor.is_empty()).then_some(q.cursor.as_str());
    let (page, active) = tokio::try_join!(
        app.store.list_alerts(&filter, PageRequest { limit: 50, cursor, with_total: true }),
        app.store.alert_count(true)
    )?;
    let next = page
        .next_cursor
        .map(|c| format!("state={}&severity={}&cursor={}", urlencode(state), urlencode(&q.severity), urlencode(&c)));
    ctx.render(
        "alerts.html",
        context! {
            nav => "alerts", tab => "alerts", alerts => page.items, total => page.total, active, next,
            filter_state => state, filter_severity => q.severity,
            back => format!("/alerts?state={}&severity={}", urlencode(state), urlencode(&q.severity)),
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BackTo {
    back: String,
}

async fn acknowledge(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<BackTo>,
) -> Result<Response, WebError> {
    transition(ctx, app, id, AlertState::Acknowledged, &form.back).await
}

async fn resolve(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<BackTo>,
) -> Result<Response, WebError> {
    transition(ctx, app, id, AlertState::Resolved, &form.back).await
}

async fn transition(ctx: Ctx, app: AppState, id: i64, target: AlertState, back: &str) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let back = if back.starts_with("/alerts") && !back.starts_with("//") { back } else { "/alerts" };
    let message = match app.store.transition_alert(id, target, &ctx.actor()).await {
        Ok(alert) => format!("Alert #{} is now {}.", alert.id, alert.state),
        Err(simfleet_store::StoreError::NotFound(_)) => return Err(WebError::NotFound(format!("no alert #{id}"))),
        Err(e @ (simfleet_store::StoreError::Conflict { .. } | simfleet_store::StoreError::Rule(_))) => {
            format!("Alert #{id} was not changed: {e}")
        }
        Err(e) => return Err(e.into()),
    };
    Ok(redirect_with(back, message))
}

// ---- rules -----------------------------------------------------------------------------

type Fields = BTreeMap<String, String>;

/// Names of the customers and tariff plans a rule may be scoped to.
struct Scopes {
    customers: Vec<(i64, String)>,
    plans: Vec<(i64, String)>,
}

async fn scopes(app: &AppState) -> Result<Scopes, WebError> {
    let all = PageRequest { limit: 1000, cursor: None, with_total: false };
    let (customers, plans) = tokio::try_join!(app.store.list_customers(None, all), app.store.list_tariff_plans(all))?;
    Ok(Scopes {
        customers: customers.items.into_iter().map(|c| (c.id, c.name)).collect(),
        plans: plans.items.into_iter().map(|t| (t.id, t.name)).collect(),
    })
}

fn name_of(list: &[(i64, String)], id: Option<i64>) -> Option<String> {
    id.map(|id| list.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone()).unwrap_or_else(|| format!("#{id}")))
}

/// A rule as the pages show it: the API's view with its threshold and scope in words.
#[derive(Serialize)]
struct RuleRow {
    #[serde(flatten)]
    view: AlertRuleView,
    threshold_text: String,
    customer: Option<String>,
    plan: Option<String>,
}

fn rule_row(view: AlertRuleView, s: &Scopes) -> RuleRow {
    let t = view.threshold;
    let threshold_text = match view.threshold_unit.as_str() {
        "percent" => format!("below {t} %"),
        "days" => format!("{t} day{}", if t == 1 { "" } else { "s" }),
        "hours" => format!("{t} hour{}", if t == 1 { "" } else { "s" }),
        "k" => format!("k = {t}"),
        _ => "—".to_owned(),
    };
    RuleRow {
        customer: name_of(&s.customers, view.scope_customer_id),
        plan: name_of(&s.plans, view.scope_tariff_plan_id),
        threshold_text,
        view,
    }
}

async fn rules(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    let (rules, scopes) = tokio::try_join!(async { Ok::<_, WebError>(app.store.alert_rules().await?) }, scopes(&app))?;
    let rows = rules
        .into_iter()
        .map(|r| Ok(rule_row(AlertRuleView::try_from(r)?, &scopes)))
        .collect::<Result<Vec<_>, WebError>>()?;
    ctx.render("alerts/rules.html", context! { nav => "alerts", tab => "rules", rules => rows })
}

fn parse_kind(kind: &str) -> Result<AlertKind, WebError> {
    AlertKind::parse(kind).ok_or_else(|| WebError::NotFound(format!("no alert rule {kind:?}")))
}

async fn rule(ctx: Ctx, State(app): State<AppState>, Path(kind): Path<String>) -> Result<Response, WebError> {
    let kind = parse_kind(&kind)?;
    let view = AlertRuleView::try_from(app.store.alert_rule(kind).await?)?;
    let values = Fields::from([
        ("enabled".into(), if view.enabled { "on".into() } else { String::new() }),
        ("severity".into(), view.severity.as_str().into()),
        ("threshold".into(), view.threshold.to_string()),
        ("scope_tag".into(), view.scope_tag.clone().unwrap_or_default()),
        ("scope_customer_id".into(), view.scope_customer_id.map(|i| i.to_string()).unwrap_or_default()),
        ("scope_tariff_plan_id".into(), view.scope_tariff_plan_id.map(|i| i.to_string()).unwrap_or_default()),
    ]);
    render_rule(&ctx, &app, view, &values, &FieldErrors::new()).await
}

async fn render_rule(
    ctx: &Ctx,
    app: &AppState,
    view: AlertRuleView,
    values: &Fields,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let scopes = scopes(app).await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let general: Vec<&String> =
        errors.iter().filter(|(k, _)| !RULE_FIELDS.contains(&k.as_str())).map(|(_, v)| v).collect();
    ctx.render_status(
        status,
        "alerts/rule_form.html",
        context! {
            nav => "alerts", tab => "rules", customers => &scopes.customers, plans => &scopes.plans,
            rule => rule_row(view, &scopes), values, errors, general_errors => general,
            severities => Severity::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        },
    )
}

const RULE_FIELDS: [&str; 6] =
    ["enabled", "severity", "threshold", "scope_tag", "scope_customer_id", "scope_tariff_plan_id"];

/// The form as an API rule change; values that are not even numbers are field errors.
fn rule_body(kind: AlertKind, f: &Fields) -> (UpdateRule, FieldErrors) {
    let mut errors = FieldErrors::new();
    let get = |k: &str| f.get(k).map(|v| v.trim()).unwrap_or("");
    let mut id = |k: &str| match get(k) {
        "" => Some(None),
        v => match v.parse::<i64>() {
            Ok(id) => Some(Some(id)),
            Err(_) => {
                errors.insert(k.into(), "choose one from the list".into());
                None
            }
        },
    };
    let scope_customer_id = id("scope_customer_id");
    let scope_tariff_plan_id = id("scope_tariff_plan_id");
    let severity = Severity::parse(get("severity"));
    if severity.is_none() {
        errors.insert("severity".into(), "choose info, warning or critical".into());
    }
    let threshold = match (kind.spec().threshold_unit, get("threshold")) {
        ("none", _) => None,
        (_, v) => match v.parse::<i64>() {
            Ok(t) => Some(t),
            Err(_) => {
                errors.insert("threshold".into(), "must be a whole number".into());
                None
            }
        },
    };
    let body = UpdateRule {
        enabled: Some(f.contains_key("enabled")),
        severity,
        threshold,
        scope_tag: Some(Some(get("scope_tag").to_owned())),
        scope_customer_id,
        scope_tariff_plan_id,
    };
    (body, errors)
}

async fn update_rule(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(kind): Path<String>,
    Form(f): Form<Fields>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let kind = parse_kind(&kind)?;
    let (body, mut errors) = rule_body(kind, &f);
    if errors.is_empty() {
        let saved = match rule_update(kind, body) {
            Ok(update) => app.store.update_alert_rule(kind, &update, &ctx.actor()).await.map_err(Into::into),
            Err(e) => Err(e),
        };
        match saved {
            Ok(_) => {
                let message = format!(
                    "Rule “{}” saved; it applies from the next evaluation.",
                    super::templates::label(kind.as_str())
                );
                return Ok(redirect_with("/alerts/rules", message));
            }
            Err(e) => errors = field_errors(e)?,
        }
    }
    let view = AlertRuleView::try_from(app.store.alert_rule(kind).await?)?;
    render_rule(&ctx, &app, view, &f, &errors).await
}
