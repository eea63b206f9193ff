//! `/sims/{iccid}/reserve|activate|suspend|report-lost|terminate|swap`.

use super::non_empty;
use super::sims::SimView;
use crate::app::AppState;
use crate::auth::Operator;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Json;
use crate::extract::OptionalBody;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use serde::Deserialize;
use simfleet_domain::Action;
use simfleet_store::ActionRequest;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reserve))
        .routes(routes!(activate))
        .routes(routes!(suspend))
        .routes(routes!(report_lost))
        .routes(routes!(terminate))
        .routes(routes!(swap))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveRequest {
    /// Required unless the SIM already has a customer.
    pub customer_id: Option<i64>,
    pub tariff_plan_id: Option<i64>,
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// An UNUSED activation code to consume.
    pub activation_code: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why; recorded in the SIM's history.
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwapRequest {
    /// The AVAILABLE card that takes over.
    pub new_iccid: String,
    pub note: Option<String>,
}

async fn run(app: &AppState, iccid: &str, req: ActionRequest<'_>) -> ApiResult<Json<SimView>> {
    Ok(Json(app.store.apply_action(iccid, &req).await?.into()))
}

/// AVAILABLE → RESERVED for a customer.
#[utoipa::path(post, path = "/sims/{iccid}/reserve", tag = "lifecycle", params(("iccid" = String, Path)), request_body = ReserveRequest,
    responses((status = 200, body = SimView), (status = 409, description = "Not allowed from the current status", body = Problem), (status = 422, body = Problem)))]
async fn reserve(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    OptionalBody(b): OptionalBody<ReserveRequest>,
) -> ApiResult<Json<SimView>> {
    let actor = op.actor();
    let mut req = ActionRequest::new(Action::Reserve, &actor);
    req.customer_id = b.customer_id;
    req.tariff_plan_id = b.tariff_plan_id;
    req.note = non_empty(b.note);
    run(&app, &iccid, req).await
}

/// RESERVED or SUSPENDED → ACTIVE, optionally consuming an activation code.
#[utoipa::path(post, path = "/sims/{iccid}/activate", tag = "lifecycle", params(("iccid" = String, Path)), request_body = ActivateRequest,
    responses((status = 200, body = SimView), (status = 409, body = Problem), (status = 422, description = "Activation code unknown, used or expired", body = Problem)))]
async fn activate(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    OptionalBody(b): OptionalBody<ActivateRequest>,
) -> ApiResult<Json<SimView>> {
    let actor = op.actor();
    let code = non_empty(b.activation_code);
    let mut req = ActionRequest::new(Action::Activate, &actor);
    req.activation_code = code.as_deref();
    req.note = non_empty(b.note);
    run(&app, &iccid, req).await
}

/// ACTIVE → SUSPENDED.
#[utoipa::path(post, path = "/sims/{iccid}/suspend", tag = "lifecycle", params(("iccid" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = SimView), (status = 409, body = Problem)))]
async fn suspend(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    OptionalBody(b): OptionalBody<ReasonRequest>,
) -> ApiResult<Json<SimView>> {
    reasoned(op, app, iccid, b, Action::Suspend).await
}

/// Any non-terminal status → LOST_STOLEN.
#[utoipa::path(post, path = "/sims/{iccid}/report-lost", tag = "lifecycle", params(("iccid" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = SimView), (status = 409, body = Problem)))]
async fn report_lost(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    OptionalBody(b): OptionalBody<ReasonRequest>,
) -> ApiResult<Json<SimView>> {
    reasoned(op, app, iccid, b, Action::ReportLost).await
}

/// Any non-terminal status → TERMINATED (final).
#[utoipa::path(post, path = "/sims/{iccid}/terminate", tag = "lifecycle", params(("iccid" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = SimView), (status = 409, body = Problem)))]
async fn terminate(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    OptionalBody(b): OptionalBody<ReasonRequest>,
) -> ApiResult<Json<SimView>> {
    reasoned(op, app, iccid, b, Action::Terminate).await
}

async fn reasoned(
    op: Operator,
    app: AppState,
    iccid: String,
    b: ReasonRequest,
    action: Action,
) -> ApiResult<Json<SimView>> {
    let actor = op.actor();
    let mut req = ActionRequest::new(action, &actor);
    req.note = non_empty(b.reason);
    run(&app, &iccid, req).await
}

/// Move MSISDN, customer and tariff plan to an AVAILABLE card and terminate this one, atomically.
/// Answers with this (now TERMINATED) SIM; `Location` names the new one.
#[utoipa::path(post, path = "/sims/{iccid}/swap", tag = "lifecycle", params(("iccid" = String, Path)), request_body = SwapRequest,
    responses((status = 200, body = SimView, headers(("Location" = String, description = "The new SIM"))), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn swap(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    crate::extract::Body(b): crate::extract::Body<SwapRequest>,
) -> ApiResult<(HeaderMap, Json<SimView>)> {
    let new_iccid = b.new_iccid.trim();
    if new_iccid.is_empty() {
        return Err(ApiError::field("new_iccid", "is required"));
    }
    let (old, new) = app.store.swap_sim(&iccid, new_iccid, non_empty(b.note).as_deref(), &op.actor()).await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/sims/{}", new.iccid)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((headers, Json(old.into())))
}
