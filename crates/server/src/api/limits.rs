//! `/limits`: the provider account's global monthly limits (data, SMS MO, SMS MT), read and
//! changed at the provider on the spot.

use super::provider_actions::{provider, provider_ref_of};
use crate::app::AppState;
use crate::auth::{Admin, Viewer};
use crate::error::{ApiResult, Problem, Validator};
use crate::extract::{Body, Json};
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_sync::onence::models::{CurrentLimit, LimitService, SetLimitsRequest};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_limits, set_limits)).routes(routes!(sim_data_traffic_limit))
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LimitValue {
    /// The provider's id of this choice.
    pub id: Option<i64>,
    pub limit: Option<String>,
    /// `MB` or `SMS`.
    pub unit: Option<String>,
}

impl From<&CurrentLimit> for LimitValue {
    fn from(c: &CurrentLimit) -> Self {
        LimitValue { id: c.id, limit: c.limit.clone(), unit: c.unit.clone() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LimitView {
    pub current: Option<LimitValue>,
    /// The values the provider lets you choose from.
    pub options: Vec<LimitValue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LimitsView {
    pub data: LimitView,
    pub sms_mo: LimitView,
    pub sms_mt: LimitView,
}

pub(crate) async fn read(app: &AppState) -> ApiResult<LimitsView> {
    let client = provider(app)?.client();
    let current = client.get_limits().await?;
    let mut views = Vec::new();
    for (service, now) in [
        (LimitService::Data, &current.data),
        (LimitService::SmsMo, &current.sms_mo),
        (LimitService::SmsMt, &current.sms_mt),
    ] {
        let options = client.get_selectable_limits(service).await?.options().iter().map(LimitValue::from).collect();
        views.push(LimitView { current: now.as_ref().map(LimitValue::from), options });
    }
    let mut it = views.into_iter();
    let (Some(data), Some(sms_mo), Some(sms_mt)) = (it.next(), it.next(), it.next()) else {
        unreachable!("three services were read")
    };
    Ok(LimitsView { data, sms_mo, sms_mt })
}

/// The account's global monthly limits with the selectable values, read from the provider.
#[utoipa::path(get, path = "/limits", tag = "provider",
    responses((status = 200, body = LimitsView), (status = 503, body = Problem)))]
async fn get_limits(_: Viewer, State(app): State<AppState>) -> ApiResult<Json<LimitsView>> {
    Ok(Json(read(&app).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLimits {
    /// Ids from the `options` of `GET /limits`; absent ones stay as they are.
    pub data_limit_id: Option<i64>,
    pub sms_mo_limit_id: Option<i64>,
    pub sms_mt_limit_id: Option<i64>,
}

/// Change the account's global limits (admin). Each id must be one of the provider's options.
#[utoipa::path(patch, path = "/limits", tag = "provider", request_body = SetLimits,
    responses((status = 200, body = LimitsView), (status = 403, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn set_limits(_: Admin, State(app): State<AppState>, Body(req): Body<SetLimits>) -> ApiResult<Json<LimitsView>> {
    Ok(Json(change(&app, req).await?))
}

/// Checks each id against the provider's options, changes the limits there and reads them back.
pub(crate) async fn change(app: &AppState, req: SetLimits) -> ApiResult<LimitsView> {
    let before = read(app).await?;
    let mut v = Validator::default();
    for (field, id, view) in [
        ("data_limit_id", req.data_limit_id, &before.data),
        ("sms_mo_limit_id", req.sms_mo_limit_id, &before.sms_mo),
        ("sms_mt_limit_id", req.sms_mt_limit_id, &before.sms_mt),
    ] {
        if let Some(id) = id {
            if !view.options.iter().any(|o| o.id == Some(id)) {
                let ids: Vec<String> = view.options.iter().filter_map(|o| o.id).map(|i| i.to_string()).collect();
                v.add(field, format!("must be one of {}", ids.join(", ")));
            }
        }
    }
    if req.data_limit_id.is_none() && req.sms_mo_limit_id.is_none() && req.sms_mt_limit_id.is_none() {
        v.add("data_limit_id", "give at least one limit to change");
    }
    v.finish()?;
    let request = SetLimitsRequest {
        data_limit_id: req.data_limit_id,
        sms_mt_limit_id: req.sms_mt_limit_id,
        sms_mo_limit_id: req.sms_mo_limit_id,
    };
    provider(app)?.client().set_limits(&request).await?;
    read(app).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DataTrafficLimitState {
    pub iccid: String,
    /// `REACHED` (the SIM used the account's monthly data limit) or `NOT_REACHED`; null when the
    /// provider does not report it.
    pub state: Option<String>,
    pub checked_at: DateTime<Utc>,
}

/// Whether a SIM reached the account's monthly data limit, as the provider reports it now.
#[utoipa::path(get, path = "/sims/{iccid}/data-traffic-limit", tag = "provider", params(("iccid" = String, Path)),
    responses((status = 200, body = DataTrafficLimitState), (status = 404, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn sim_data_traffic_limit(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
) -> ApiResult<Json<DataTrafficLimitState>> {
    let sim = app.store.get_sim(&iccid).await?;
    let state = data_traffic_limit_state(&app, &sim.iccid).await?;
    Ok(Json(DataTrafficLimitState { iccid: sim.iccid, state, checked_at: simfleet_store::now() }))
}

/// The provider's `REACHED` / `NOT_REACHED` for one SIM, read now; `None` when not reported.
pub(crate) async fn data_traffic_limit_state(app: &AppState, iccid: &str) -> ApiResult<Option<String>> {
    let (syncer, r) = provider_ref_of(app, iccid).await?;
    let status = syncer.client().v2_get_status(&r.provider_ref).await?;
    Ok(status.data_traffic_limit_state.and_then(|d| d.description))
}
