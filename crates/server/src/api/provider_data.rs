//! `/sims/{iccid}/usage|quota|connectivity|network-events`: what the provider reported, served from the
//! local store (fast, and available while the provider is down).

use super::provider_actions::provider_ref_of;
use super::stats::{range, RangeQuery};
use crate::app::AppState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Query};
use axum::extract::{Path, State};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use simfleet_store::bucket_start;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sim_usage))
        .routes(routes!(sim_quota))
        .routes(routes!(sim_connectivity))
        .routes(routes!(sim_provider_actions))
        .routes(routes!(sim_network_events))
}

/// Read-through: `refresh=true` reads the SIM's figures from the provider and stores them
/// before answering. Without it the local copy answers (fast, and there while the provider is
/// down); with it a provider outage answers 503 and a refusal its problem.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefreshQuery {
    #[serde(default)]
    pub refresh: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsagePoint {
    /// First day of the period.
    pub period: NaiveDate,
    /// Bytes received by the device.
    pub data_rx: i64,
    /// Bytes sent by the device.
    pub data_tx: i64,
    pub data_total: i64,
    pub sms_mo: i64,
    pub sms_mt: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageResponse {
    pub iccid: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bucket: String,
    /// Every period of the range, zeros where nothing was used.
    pub items: Vec<UsagePoint>,
}

/// Daily usage of a SIM (bytes and SMS counts), summed per day, week or month.
#[utoipa::path(get, path = "/sims/{iccid}/usage", tag = "sims", params(("iccid" = String, Path), RangeQuery, RefreshQuery),
    responses((status = 200, body = UsageResponse), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem)))]
async fn sim_usage(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(q): Query<RangeQuery>,
    Query(refresh): Query<RefreshQuery>,
) -> ApiResult<Json<UsageResponse>> {
    let (from, to, bucket, bucket_name) = range(&q, 30, 800)?;
    let sim = app.store.get_sim(&iccid).await?;
    if refresh.refresh {
        let (syncer, r) = provider_ref_of(&app, &sim.iccid).await?;
        let today = Utc::now().date_naive();
        if from <= today {
            syncer.refresh_usage_of(&r, from, to.min(today)).await?;
        }
    }
    let rows = app.store.sim_usage(sim.id, from, to).await.map_err(ApiError::from)?;
    let mut periods: BTreeMap<NaiveDate, UsagePoint> = BTreeMap::new();
    let mut day = from;
    while day <= to {
        let start = bucket_start(day, bucket);
        periods.entry(start).or_insert(UsagePoint {
            period: start,
            data_rx: 0,
            data_tx: 0,
            data_total: 0,
            sms_mo: 0,
            sms_mt: 0,
        });
        day = day + Days::new(1);
    }
    for r in rows {
        if let Some(p) = periods.get_mut(&bucket_start(r.day, bucket)) {
            p.data_rx += r.data_rx;
            p.data_tx += r.data_tx;
            p.data_total += r.data_total;
            p.sms_mo += r.sms_mo;
            p.sms_mt += r.sms_mt;
        }
    }
    Ok(Json(UsageResponse { iccid: sim.iccid, from, to, bucket: bucket_name, items: periods.into_values().collect() }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// `data` (volumes in bytes) or `sms` (messages).
    pub kind: String,
    pub remaining: i64,
    pub total: Option<i64>,
    pub expiry_date: Option<NaiveDate>,
    pub last_added: Option<i64>,
    pub threshold_percentage: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaResponse {
    pub iccid: String,
    pub items: Vec<QuotaView>,
}

/// The provider's data and SMS quotas of a SIM, as last synced.
#[utoipa::path(get, path = "/sims/{iccid}/quota", tag = "sims", params(("iccid" = String, Path), RefreshQuery),
    responses((status = 200, body = QuotaResponse), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem)))]
async fn sim_quota(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(refresh): Query<RefreshQuery>,
) -> ApiResult<Json<QuotaResponse>> {
    let sim = app.store.get_sim(&iccid).await?;
    if refresh.refresh {
        let (syncer, r) = provider_ref_of(&app, &sim.iccid).await?;
        syncer.refresh_quotas_of(&r).await?;
    }
    let items = app
        .store
        .sim_quotas(sim.id)
        .await?
        .into_iter()
        .map(|q| QuotaView {
            kind: q.kind,
            remaining: q.remaining,
            total: q.total,
            expiry_date: q.expiry_date,
            last_added: q.last_added,
            threshold_percentage: q.threshold_percentage,
            updated_at: q.updated_at,
        })
        .collect();
    Ok(Json(QuotaResponse { iccid: sim.iccid, items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectivityView {
    pub iccid: String,
    /// ONLINE, ATTACHED, OFFLINE, … as the provider reports it.
    pub status: String,
    pub operator: Option<String>,
    pub country: Option<String>,
    pub rat: Option<String>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The SIM's last known network attachment; 404 until a connectivity sync has seen it.
#[utoipa::path(get, path = "/sims/{iccid}/connectivity", tag = "sims", params(("iccid" = String, Path), RefreshQuery),
    responses((status = 200, body = ConnectivityView), (status = 404, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem)))]
async fn sim_connectivity(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(refresh): Query<RefreshQuery>,
) -> ApiResult<Json<ConnectivityView>> {
    let sim = app.store.get_sim(&iccid).await?;
    if refresh.refresh {
        let (syncer, r) = provider_ref_of(&app, &sim.iccid).await?;
        syncer.refresh_connectivity_of(&r).await?;
    }
    let c = app
        .store
        .sim_connectivity(sim.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no connectivity known for SIM {iccid} yet")))?;
    Ok(Json(ConnectivityView {
        iccid: sim.iccid,
        status: c.status,
        operator: c.operator,
        country: c.country,
        rat: c.rat,
        last_seen_at: c.last_seen_at,
        updated_at: c.updated_at,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderActionView {
    pub id: i64,
    pub iccid: String,
    /// `set_status`, `set_label`, `top_up`, `set_auto_top_up`, `send_sms`, `reset_connectivity`,
    /// `transfer` or `extend`.
    pub action: String,
    /// What was asked, e.g. `{"status": "Disabled"}`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// `pending` until the provider confirmed it, then `done`; `failed` when it refused.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// For a refusal: a problem type saying why, e.g. `https://simfleet.dev/problems/sim-expired`.
    pub error_type: Option<String>,
    /// What the provider answered, e.g. `{"order_number": 2000000005}` for a top-up.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub requested_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

impl From<simfleet_store::OutboxItem> for ProviderActionView {
    fn from(o: simfleet_store::OutboxItem) -> Self {
        ProviderActionView {
            id: o.id,
            iccid: o.iccid,
            action: o.action,
            payload: serde_json::from_str(&o.payload).unwrap_or(serde_json::Value::Null),
            status: o.status,
            attempts: o.attempts,
            next_attempt_at: o.next_attempt_at,
            last_error: o.last_error,
            error_type: o.error_kind.map(|k| format!("https://simfleet.dev/problems/{k}")),
            result: o.result.and_then(|r| serde_json::from_str(&r).ok()),
            requested_by: o.requested_by,
            created_at: o.created_at,
            done_at: o.done_at,
        }
    }
}

/// Changes simfleet has to make at the provider for this SIM, newest first: pending ones are
/// not applied there yet.
#[utoipa::path(get, path = "/sims/{iccid}/provider-actions", tag = "sims", params(("iccid" = String, Path)),
    responses((status = 200, body = super::Items<ProviderActionView>), (status = 404, body = Problem)))]
async fn sim_provider_actions(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
) -> ApiResult<Json<super::Items<ProviderActionView>>> {
    let sim = app.store.get_sim(&iccid).await?;
    let items = app.store.sim_outbox(sim.id).await?.into_iter().map(ProviderActionView::from).collect();
    Ok(Json(super::Items { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkEventView {
    pub occurred_at: DateTime<Utc>,
    /// What happened, in the provider's words, e.g. `Create PDP Context`.
    pub event_type: String,
    /// `INFO`, `WARN` or `CRITICAL`.
    pub severity: Option<String>,
    /// The provider flags the event as needing attention.
    pub alert: bool,
    pub country: Option<String>,
    pub operator: Option<String>,
    pub mcc: Option<String>,
    pub mnc: Option<String>,
    pub imei: Option<String>,
    pub imsi: Option<String>,
}

/// Network events of a SIM reported by the provider (attach, PDP context, location update …),
/// newest first, as synced by the `events` job (`refresh=true` reads the newer ones first).
#[utoipa::path(get, path = "/sims/{iccid}/network-events", tag = "sims", params(("iccid" = String, Path), super::PageParams, RefreshQuery),
    responses((status = 200, body = super::Page<NetworkEventView>), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn sim_network_events(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(page): Query<super::PageParams>,
    Query(refresh): Query<RefreshQuery>,
) -> ApiResult<Json<super::Page<NetworkEventView>>> {
    let sim = app.store.get_sim(&iccid).await?;
    if refresh.refresh {
        let (syncer, r) = provider_ref_of(&app, &sim.iccid).await?;
        let newest = app
            .store
            .sim_network_events(sim.id, simfleet_store::PageRequest { limit: 1, cursor: None, with_total: false })
            .await?;
        syncer.refresh_network_events_of(&r, newest.items.first().map(|e| e.occurred_at)).await?;
    }
    let events = app.store.sim_network_events(sim.id, page.request()?).await?;
    Ok(Json(super::Page::from_store(events, |e| NetworkEventView {
        occurred_at: e.occurred_at,
        event_type: e.event_type,
        severity: e.severity,
        alert: e.alert,
        country: e.country,
        operator: e.operator,
        mcc: e.mcc,
        mnc: e.mnc,
        imei: e.imei,
        imsi: e.imsi,
    })))
}
