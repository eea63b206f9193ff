//! `/sims/{iccid}/sms`, `/sms`: MO/MT messages with their delivery status, mirrored from the
//! provider by the `sms` job (or on demand with `refresh=true`); cancelling a buffered one.

use super::provider_actions::provider_ref_of;
use super::{Page, PageParams};
use crate::app::AppState;
use crate::auth::{Operator, Viewer};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_store::{SmsFilter, SmsRow};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sim_sms)).routes(routes!(fleet_sms)).routes(routes!(cancel_sms))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SmsView {
    /// The provider's id of the message (used to cancel it).
    pub id: i64,
    pub iccid: String,
    /// `MO` (from the device) or `MT` (to the device).
    pub direction: String,
    /// Delivery status as the provider reports it: `PENDING` (buffered), `DELIVERED`, `FAILED`, `EXPIRED`, …
    pub status: String,
    pub payload: Option<String>,
    pub udh: Option<String>,
    pub dcs: Option<i64>,
    pub source_address: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub synced_at: DateTime<Utc>,
}

impl From<SmsRow> for SmsView {
    fn from(m: SmsRow) -> Self {
        SmsView {
            id: m.provider_id,
            iccid: m.iccid,
            direction: m.direction,
            status: m.status,
            payload: m.payload,
            udh: m.udh,
            dcs: m.dcs,
            source_address: m.source_address,
            submitted_at: m.submitted_at,
            delivered_at: m.delivered_at,
            expires_at: m.expires_at,
            synced_at: m.synced_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SmsQuery {
    /// `MO` or `MT`.
    pub direction: Option<String>,
    /// e.g. `PENDING`, `DELIVERED`.
    pub status: Option<String>,
    /// Only this SIM (fleet-wide list).
    pub iccid: Option<String>,
    /// Read the SIM's messages from the provider first (per-SIM list only).
    #[serde(default)]
    pub refresh: bool,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

fn filter(q: &SmsQuery, sim_id: Option<i64>) -> ApiResult<SmsFilter> {
    sms_filter(sim_id, q.direction.clone(), q.status.clone())
}

/// The SMS list's filter, with the direction checked.
pub(crate) fn sms_filter(
    sim_id: Option<i64>,
    direction: Option<String>,
    status: Option<String>,
) -> ApiResult<SmsFilter> {
    if direction.as_deref().is_some_and(|d| d != "MO" && d != "MT") {
        return Err(ApiError::field("direction", "must be MO or MT"));
    }
    Ok(SmsFilter { sim_id, direction, status })
}

/// A SIM's SMS, newest first. With `refresh=true` they are read from the provider first (a
/// provider refusal, e.g. an expired SIM, answers with its problem).
#[utoipa::path(get, path = "/sims/{iccid}/sms", tag = "provider", params(("iccid" = String, Path), SmsQuery),
    responses((status = 200, body = Page<SmsView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn sim_sms(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(q): Query<SmsQuery>,
) -> ApiResult<Json<Page<SmsView>>> {
    let sim = app.store.get_sim(&iccid).await?;
    if q.refresh {
        refresh(&app, &sim).await?;
    }
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(app.store.list_sms(&filter(&q, Some(sim.id))?, page.request()?).await?, SmsView::from)))
}

/// Reads a SIM's messages from the provider into the mirror.
pub(crate) async fn refresh(app: &AppState, sim: &simfleet_store::Sim) -> ApiResult<()> {
    let (syncer, r) = provider_ref_of(app, &sim.iccid).await?;
    let messages = syncer.fetch_sms(&r.provider_ref).await?;
    app.store.replace_sim_sms(&[(sim.id, messages)]).await?;
    Ok(())
}

/// SMS of the whole fleet, newest first, as last synced.
#[utoipa::path(get, path = "/sms", tag = "provider", params(SmsQuery), responses((status = 200, body = Page<SmsView>)))]
async fn fleet_sms(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<SmsQuery>,
) -> ApiResult<Json<Page<SmsView>>> {
    let sim_id = match q.iccid.as_deref() {
        Some(i) => Some(app.store.get_sim(i).await?.id),
        None => None,
    };
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(app.store.list_sms(&filter(&q, sim_id)?, page.request()?).await?, SmsView::from)))
}

/// Cancel a buffered (not yet delivered) MT-SMS at the provider (operator). Answers 204; the
/// provider's refusal (delivered already, expired SIM, …) answers with its problem.
#[utoipa::path(delete, path = "/sims/{iccid}/sms/{sms_id}", tag = "provider",
    params(("iccid" = String, Path), ("sms_id" = i64, Path, description = "the provider's SMS id")),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn cancel_sms(
    op: Operator,
    State(app): State<AppState>,
    Path((iccid, sms_id)): Path<(String, i64)>,
) -> ApiResult<StatusCode> {
    cancel(&app, &iccid, sms_id, &op.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels a buffered MT-SMS at the provider, then here.
pub(crate) async fn cancel(app: &AppState, iccid: &str, sms_id: i64, actor: &str) -> ApiResult<()> {
    let sim = app.store.get_sim(iccid).await?;
    let (syncer, r) = provider_ref_of(app, &sim.iccid).await?;
    let id = u64::try_from(sms_id).map_err(|_| ApiError::NotFound("no such SMS".into()))?;
    if let Err(e) = syncer.client().cancel_sms(&r.provider_ref, id).await {
        if !e.is_transient() {
            // A refusal is part of the SIM's history, as refused outbox actions are.
            let event = simfleet_store::NewEvent {
                kind: simfleet_domain::EventKind::ProviderActionFailed,
                old_status: None,
                new_status: None,
                note: Some(format!("cancelling SMS {sms_id} refused by the provider: {e}")),
                actor,
            };
            app.store.add_sim_event(sim.id, &event).await?;
        }
        return Err(e.into());
    }
    app.store.cancel_sms(sim.id, sms_id, actor).await?;
    Ok(())
}
