//! Provider actions on SIMs that go through the outbox: top-ups, auto top-up, SMS,
//! connectivity resets, IMEI lock, transfers and extensions. A request queues the action with a
//! `PROVIDER_ACTION_REQUESTED` event in one transaction and answers 202 with the queued
//! actions; the `outbox` job delivers them (in order per SIM, retried through outages) and
//! records the outcome: `PROVIDER_ACTION_APPLIED` (with the order a top-up created) or
//! `PROVIDER_ACTION_FAILED` with the reason (`error_type`).

use super::provider_data::ProviderActionView;
use super::Items;
use crate::app::AppState;
use crate::auth::{Admin, Operator};
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::{Body, Json, OptionalBody};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use simfleet_store::{ProviderAction, SmsDraft};
use simfleet_sync::Syncer;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(top_up))
        .routes(routes!(top_up_many))
        .routes(routes!(auto_top_up))
        .routes(routes!(reset_connectivity))
        .routes(routes!(reset_connectivity_many))
        .routes(routes!(imei_lock))
        .routes(routes!(send_sms))
        .routes(routes!(send_sms_many))
        .routes(routes!(transfer))
        .routes(routes!(extend))
}

/// The provider's API, or 503 when none is configured.
pub(crate) fn provider(app: &AppState) -> ApiResult<&Syncer> {
    app.runner.as_ref().map(|r| r.syncer()).ok_or_else(|| {
        ApiError::Unavailable("no provider is configured: set ONENCE_CLIENT_ID and ONENCE_CLIENT_SECRET".into())
    })
}

/// The provider's API and its reference for this SIM, for a read-through (`refresh=true`):
/// 503 without a provider, 422 for a SIM of the own stock.
pub(crate) async fn provider_ref_of<'a>(
    app: &'a AppState,
    iccid: &str,
) -> ApiResult<(&'a Syncer, simfleet_store::ProviderRef)> {
    let syncer = provider(app)?;
    let r = app.store.provider_refs_of(&[iccid.to_owned()]).await?.pop().ok_or_else(|| ApiError::Unprocessable {
        detail: format!("SIM {iccid} has no provider to read from"),
        field: None,
    })?;
    Ok((syncer, r))
}

pub(crate) const PAYMENT_METHODS: [&str; 4] = ["banktransfer", "creditcard", "monthlyinvoice", "boleto"];
const MAX_BULK: usize = 1000;

fn check_payment(v: &mut Validator, method: &Option<String>) {
    if let Some(m) = method {
        if !PAYMENT_METHODS.contains(&m.as_str()) {
            v.add("payment_method", format!("must be one of {}", PAYMENT_METHODS.join(", ")));
        }
    }
}

/// The checks every bulk action starts with; the action adds its own, then [`queue`] runs them.
fn bulk_checks(iccids: &[String]) -> Validator {
    let mut v = Validator::default();
    if iccids.is_empty() || iccids.len() > MAX_BULK {
        v.add("iccids", format!("give between 1 and {MAX_BULK} ICCIDs"));
    }
    v
}

/// Queues `action` for one SIM (404 when it does not exist).
async fn queue_one(app: &AppState, iccid: &str, action: ProviderAction, actor: &str) -> ApiResult<ProviderActionView> {
    app.store.get_sim(iccid).await?;
    let mut items = app.store.queue_provider_actions(&[iccid.to_owned()], &action, actor).await?;
    items.pop().map(ProviderActionView::from).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("nothing was queued")))
}

/// Queues `action` for each SIM once `checks` pass.
async fn queue(
    app: &AppState,
    iccids: &[String],
    checks: Validator,
    action: ProviderAction,
    actor: &str,
) -> ApiResult<Vec<ProviderActionView>> {
    checks.finish()?;
    let items = app.store.queue_provider_actions(iccids, &action, actor).await?;
    Ok(items.into_iter().map(ProviderActionView::from).collect())
}

/// Queues a top-up of each SIM (the bulk endpoint and the dashboard).
pub(crate) async fn top_up_sims(
    app: &AppState,
    iccids: &[String],
    payment_method: Option<String>,
    actor: &str,
) -> ApiResult<Vec<ProviderActionView>> {
    let mut v = bulk_checks(iccids);
    check_payment(&mut v, &payment_method);
    queue(app, iccids, v, ProviderAction::TopUp { payment_method }, actor).await
}

/// Queues a connectivity reset of each SIM.
pub(crate) async fn reset_sims(app: &AppState, iccids: &[String], actor: &str) -> ApiResult<Vec<ProviderActionView>> {
    queue(app, iccids, bulk_checks(iccids), ProviderAction::ResetConnectivity, actor).await
}

/// Queues the same SMS to each SIM.
pub(crate) async fn sms_sims(
    app: &AppState,
    iccids: &[String],
    sms: SmsRequest,
    actor: &str,
) -> ApiResult<Vec<ProviderActionView>> {
    let mut v = bulk_checks(iccids);
    let draft = sms_draft(&mut v, sms);
    queue(app, iccids, v, ProviderAction::SendSms(draft), actor).await
}

/// Queues the transfer of each SIM to another organisation.
pub(crate) async fn transfer_sims(
    app: &AppState,
    iccids: &[String],
    target_organisation: i64,
    actor: &str,
) -> ApiResult<Vec<ProviderActionView>> {
    let mut v = bulk_checks(iccids);
    if target_organisation <= 0 {
        v.add("target_organisation", "must be a positive organisation id");
    }
    queue(app, iccids, v, ProviderAction::Transfer { target_organisation }, actor).await
}

/// Queues an extension of each SIM.
pub(crate) async fn extend_sims(
    app: &AppState,
    iccids: &[String],
    product_id: Option<i64>,
    payment_method: Option<String>,
    actor: &str,
) -> ApiResult<Vec<ProviderActionView>> {
    let mut v = bulk_checks(iccids);
    check_payment(&mut v, &payment_method);
    queue(app, iccids, v, ProviderAction::Extend { product_id, payment_method }, actor).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpRequest {
    /// `banktransfer` (the provider's default), `creditcard`, `monthlyinvoice` or `boleto`.
    pub payment_method: Option<String>,
}

/// Top up a SIM's data and SMS volume (admin). Answers 202 with the queued action; once the
/// provider confirmed it, the action's `result` names the order, the order is listed under
/// `/orders` linked to the SIM, and the quota is re-read.
#[utoipa::path(post, path = "/sims/{iccid}/topup", tag = "provider", params(("iccid" = String, Path)), request_body = TopUpRequest,
    responses((status = 202, body = ProviderActionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn top_up(
    admin: Admin,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    OptionalBody(req): OptionalBody<TopUpRequest>,
) -> ApiResult<(StatusCode, Json<ProviderActionView>)> {
    let mut v = Validator::default();
    check_payment(&mut v, &req.payment_method);
    v.finish()?;
    let action = ProviderAction::TopUp { payment_method: req.payment_method };
    Ok((StatusCode::ACCEPTED, Json(queue_one(&app, &iccid, action, &admin.actor()).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTopUpRequest {
    pub iccids: Vec<String>,
    pub payment_method: Option<String>,
}

/// Top up several SIMs (admin): one queued top-up per SIM, each with its own order.
#[utoipa::path(post, path = "/sims/topup", tag = "provider", request_body = BulkTopUpRequest,
    responses((status = 202, body = Items<ProviderActionView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn top_up_many(
    admin: Admin,
    State(app): State<AppState>,
    Body(req): Body<BulkTopUpRequest>,
) -> ApiResult<(StatusCode, Json<Items<ProviderActionView>>)> {
    let items = top_up_sims(&app, &req.iccids, req.payment_method, &admin.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(Items { items })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoTopUpRequest {
    pub iccids: Vec<String>,
    /// Top up automatically when the volume runs out.
    pub enabled: bool,
}

/// Turn automatic top-up on or off for a set of SIMs (admin).
#[utoipa::path(post, path = "/sims/auto-topup", tag = "provider", request_body = AutoTopUpRequest,
    responses((status = 202, body = Items<ProviderActionView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn auto_top_up(
    admin: Admin,
    State(app): State<AppState>,
    Body(req): Body<AutoTopUpRequest>,
) -> ApiResult<(StatusCode, Json<Items<ProviderActionView>>)> {
    let items = auto_top_up_sims(&app, &req.iccids, req.enabled, &admin.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(Items { items })))
}

/// Queues turning automatic top-up on or off for each SIM (the API and the dashboard).
pub(crate) async fn auto_top_up_sims(
    app: &AppState,
    iccids: &[String],
    enabled: bool,
    actor: &str,
) -> ApiResult<Vec<ProviderActionView>> {
    queue(app, iccids, bulk_checks(iccids), ProviderAction::SetAutoTopUp(enabled), actor).await
}

/// Reset a SIM's network connectivity (operator): the device re-attaches. The outcome is
/// recorded in the SIM's events.
#[utoipa::path(post, path = "/sims/{iccid}/reset-connectivity", tag = "provider", params(("iccid" = String, Path)),
    responses((status = 202, body = ProviderActionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn reset_connectivity(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
) -> ApiResult<(StatusCode, Json<ProviderActionView>)> {
    Ok((StatusCode::ACCEPTED, Json(queue_one(&app, &iccid, ProviderAction::ResetConnectivity, &op.actor()).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImeiLockRequest {
    /// `true` locks the SIM to the device (IMEI) it is in now; `false` lets it work in any.
    pub locked: bool,
}

/// Lock a SIM to its current device, or release it (operator). The SIM's `imei_lock` follows
/// at the next SIM sync; until then the action is listed as pending.
#[utoipa::path(post, path = "/sims/{iccid}/imei-lock", tag = "provider", params(("iccid" = String, Path)),
    request_body = ImeiLockRequest,
    responses((status = 202, body = ProviderActionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn imei_lock(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Body(req): Body<ImeiLockRequest>,
) -> ApiResult<(StatusCode, Json<ProviderActionView>)> {
    let action = ProviderAction::SetImeiLock(req.locked);
    Ok((StatusCode::ACCEPTED, Json(queue_one(&app, &iccid, action, &op.actor()).await?)))
}

/// Queues locking or releasing the IMEI lock of each SIM (the dashboard).
pub(crate) async fn imei_lock_sims(
    app: &AppState,
    iccids: &[String],
    locked: bool,
    actor: &str,
) -> ApiResult<Vec<ProviderActionView>> {
    queue(app, iccids, bulk_checks(iccids), ProviderAction::SetImeiLock(locked), actor).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IccidsRequest {
    pub iccids: Vec<String>,
}

/// Reset the connectivity of several SIMs (operator).
#[utoipa::path(post, path = "/sims/reset-connectivity", tag = "provider", request_body = IccidsRequest,
    responses((status = 202, body = Items<ProviderActionView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn reset_connectivity_many(
    op: Operator,
    State(app): State<AppState>,
    Body(req): Body<IccidsRequest>,
) -> ApiResult<(StatusCode, Json<Items<ProviderActionView>>)> {
    Ok((StatusCode::ACCEPTED, Json(Items { items: reset_sims(&app, &req.iccids, &op.actor()).await? })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsRequest {
    /// The message text (or hex octets with a binary `dcs`).
    pub payload: String,
    /// User data header, hex.
    pub udh: Option<String>,
    /// Data coding scheme, 0–255.
    pub dcs: Option<i64>,
    /// When the provider stops trying to deliver it (default: one day).
    pub expiry_date: Option<DateTime<Utc>>,
    pub source_address: Option<String>,
}

fn sms_draft(v: &mut Validator, r: SmsRequest) -> SmsDraft {
    if r.payload.is_empty() || r.payload.chars().count() > 1600 {
        v.add("payload", "must be 1 to 1600 characters");
    }
    if r.udh.as_deref().is_some_and(|u| u.is_empty() || u.len() % 2 != 0 || !u.chars().all(|c| c.is_ascii_hexdigit())) {
        v.add("udh", "must be hex octets");
    }
    if r.dcs.is_some_and(|d| !(0..=255).contains(&d)) {
        v.add("dcs", "must be between 0 and 255");
    }
    if r.expiry_date.is_some_and(|e| e <= Utc::now()) {
        v.add("expiry_date", "must be in the future");
    }
    SmsDraft {
        payload: r.payload,
        udh: r.udh,
        dcs: r.dcs,
        expiry_date: r.expiry_date,
        source_address: r.source_address,
    }
}

/// Send an SMS to a SIM (operator). It appears in `GET /sims/{iccid}/sms` with its delivery
/// status once the provider accepted it.
#[utoipa::path(post, path = "/sims/{iccid}/sms", tag = "provider", params(("iccid" = String, Path)), request_body = SmsRequest,
    responses((status = 202, body = ProviderActionView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn send_sms(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Body(req): Body<SmsRequest>,
) -> ApiResult<(StatusCode, Json<ProviderActionView>)> {
    let mut v = Validator::default();
    let draft = sms_draft(&mut v, req);
    v.finish()?;
    Ok((StatusCode::ACCEPTED, Json(queue_one(&app, &iccid, ProviderAction::SendSms(draft), &op.actor()).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkSmsRequest {
    pub iccids: Vec<String>,
    /// The other fields mean what they mean for one SIM.
    pub payload: String,
    pub udh: Option<String>,
    pub dcs: Option<i64>,
    pub expiry_date: Option<DateTime<Utc>>,
    pub source_address: Option<String>,
}

/// Send the same SMS to several SIMs (operator).
#[utoipa::path(post, path = "/sims/sms", tag = "provider", request_body = BulkSmsRequest,
    responses((status = 202, body = Items<ProviderActionView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn send_sms_many(
    op: Operator,
    State(app): State<AppState>,
    Body(req): Body<BulkSmsRequest>,
) -> ApiResult<(StatusCode, Json<Items<ProviderActionView>>)> {
    let sms = SmsRequest {
        payload: req.payload,
        udh: req.udh,
        dcs: req.dcs,
        expiry_date: req.expiry_date,
        source_address: req.source_address,
    };
    Ok((StatusCode::ACCEPTED, Json(Items { items: sms_sims(&app, &req.iccids, sms, &op.actor()).await? })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub iccids: Vec<String>,
    /// The provider's id of the organisation that receives the SIMs.
    pub target_organisation: i64,
}

/// Request the transfer of SIMs to another organisation (admin).
#[utoipa::path(post, path = "/sims/transfer", tag = "provider", request_body = TransferRequest,
    responses((status = 202, body = Items<ProviderActionView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn transfer(
    admin: Admin,
    State(app): State<AppState>,
    Body(req): Body<TransferRequest>,
) -> ApiResult<(StatusCode, Json<Items<ProviderActionView>>)> {
    let items = transfer_sims(&app, &req.iccids, req.target_organisation, &admin.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(Items { items })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    pub iccids: Vec<String>,
    /// The extension product (the provider's default when absent).
    pub product_id: Option<i64>,
    pub payment_method: Option<String>,
}

/// Extend expiring or expired SIMs (admin): renews their lifetime and volume; invoiced. The
/// only change the provider accepts for an expired SIM.
#[utoipa::path(post, path = "/sims/extension", tag = "provider", request_body = ExtensionRequest,
    responses((status = 202, body = Items<ProviderActionView>), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn extend(
    admin: Admin,
    State(app): State<AppState>,
    Body(req): Body<ExtensionRequest>,
) -> ApiResult<(StatusCode, Json<Items<ProviderActionView>>)> {
    let items = extend_sims(&app, &req.iccids, req.product_id, req.payment_method, &admin.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(Items { items })))
}
