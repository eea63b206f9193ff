//! `/alerts`: alerts with state and severity filters; operators acknowledge and resolve them.

use super::page::{redirect_with, urlencode, Ctx, WebError};
use crate::app::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde::Deserialize;
use simfleet_domain::alerts::{AlertState, Severity};
use simfleet_domain::Role;
use simfleet_store::{AlertFilter, PageRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(list))
        .route("/alerts/{id}/acknowledge", post(acknowledge))
        .route("/alerts/{id}/resolve", post(resolve))
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
            nav => "alerts", alerts => page.items, total => page.total, active, next,
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
