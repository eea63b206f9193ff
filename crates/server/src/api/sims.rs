//! `/sims`: the SIM inventory.

use super::{non_empty, Page, PageParams};
use crate::app::AppState;
use crate::auth::{Operator, Viewer};
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::Json;
use crate::extract::{double_option, Body, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_domain::{Action, EventKind, Iccid, Imei, Imsi, Msisdn, Provider, SimStatus, SimType};
use simfleet_store::{NewEvent, NewSim, Sim, SimEvent, SimFilter, SimPatch, SimSort};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sims, create_sim))
        .routes(routes!(get_sim, update_sim))
        .routes(routes!(bulk_update))
        .routes(routes!(sim_events))
        .routes(routes!(reveal_secrets))
}

/// A SIM as the API shows it. PIN and PUK are never part of it: see `GET /sims/{iccid}/secrets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimView {
    #[schema(example = "8988228066602306776")]
    pub iccid: String,
    pub status: SimStatus,
    #[serde(rename = "type")]
    pub sim_type: SimType,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub imei: Option<String>,
    pub label: Option<String>,
    pub tags: Vec<String>,
    pub customer_id: Option<i64>,
    pub tariff_plan_id: Option<i64>,
    pub activation_code: Option<String>,
    pub provider: Provider,
    /// As the provider last reported it (1NCE: `Enabled` or `Disabled`).
    pub provider_status: Option<String>,
    /// Whether the provider locks the SIM to the device it is in (the IMEI).
    pub imei_lock: Option<bool>,
    pub ip_address: Option<String>,
    pub has_pin: bool,
    pub has_puk: bool,
    /// Lifecycle actions possible from the current status.
    pub allowed_actions: Vec<Action>,
    #[serde(serialize_with = "super::rfc3339::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "super::rfc3339::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl From<Sim> for SimView {
    fn from(s: Sim) -> Self {
        SimView {
            allowed_actions: s.status.allowed_actions(),
            has_pin: s.pin_enc.is_some(),
            has_puk: s.puk_enc.is_some(),
            iccid: s.iccid,
            status: s.status,
            sim_type: s.sim_type,
            msisdn: s.msisdn,
            imsi: s.imsi,
            imei: s.imei,
            label: s.label,
            tags: s.tags,
            customer_id: s.customer_id,
            tariff_plan_id: s.tariff_plan_id,
            activation_code: s.activation_code,
            provider: s.provider,
            provider_status: s.provider_status,
            imei_lock: s.imei_lock,
            ip_address: s.ip_address,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimListQuery {
    /// One status or several separated by commas, e.g. `ACTIVE,SUSPENDED`.
    pub status: Option<String>,
    /// `prepaid`, `postpaid` or `data_only`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub sim_type: Option<String>,
    pub customer_id: Option<i64>,
    pub tariff_plan_id: Option<i64>,
    pub tag: Option<String>,
    /// `none` or `1nce`.
    pub provider: Option<String>,
    /// Prefix of the ICCID, MSISDN, IMSI or label.
    pub q: Option<String>,
    /// `iccid` (default), `created_at` or `updated_at`; prefix `-` for descending.
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

/// Turns list query parameters into a store filter, reporting every bad one.
pub fn parse_filter(q: &SimListQuery) -> ApiResult<(SimFilter, SimSort)> {
    let mut v = Validator::default();
    let mut filter = SimFilter {
        customer_id: q.customer_id,
        tariff_plan_id: q.tariff_plan_id,
        tag: non_empty(q.tag.clone()),
        q: non_empty(q.q.clone()),
        ..Default::default()
    };
    if let Some(s) = &q.status {
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match SimStatus::parse(part) {
                Some(st) => filter.statuses.push(st),
                None => v.add("status", format!("unknown status {part:?}")),
            }
        }
    }
    filter.sim_type =
        v.check("type", q.sim_type.as_deref(), |s| SimType::parse(s).ok_or("must be prepaid, postpaid or data_only"));
    filter.provider = v.check("provider", q.provider.as_deref(), |s| Provider::parse(s).ok_or("must be none or 1nce"));
    let sort = v
        .check("sort", q.sort.as_deref(), |s| {
            SimSort::parse(s).ok_or("must be iccid, created_at or updated_at, optionally prefixed with -")
        })
        .unwrap_or_default();
    v.finish()?;
    Ok((filter, sort))
}

/// List SIMs with filters, prefix search, sorting and cursor pagination.
#[utoipa::path(get, path = "/sims", tag = "sims", params(SimListQuery),
    responses((status = 200, body = Page<SimView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn list_sims(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<SimListQuery>,
) -> ApiResult<Json<Page<SimView>>> {
    let (filter, sort) = parse_filter(&q)?;
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    let result = app.store.list_sims(&filter, sort, page.request()?).await?;
    Ok(Json(Page::from_store(result, SimView::from)))
}

/// Get one SIM.
#[utoipa::path(get, path = "/sims/{iccid}", tag = "sims", params(("iccid" = String, Path)),
    responses((status = 200, body = SimView), (status = 404, body = Problem)))]
async fn get_sim(_: Viewer, State(app): State<AppState>, Path(iccid): Path<String>) -> ApiResult<Json<SimView>> {
    Ok(Json(app.store.get_sim(&iccid).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSim {
    #[schema(example = "8988228066602306776")]
    pub iccid: String,
    pub imsi: Option<String>,
    /// E.164, with or without `+`; stored as digits.
    pub msisdn: Option<String>,
    pub imei: Option<String>,
    /// `prepaid`, `postpaid` or `data_only` (default).
    #[serde(rename = "type")]
    pub sim_type: Option<String>,
    /// Initial status, default `AVAILABLE`. `RESERVED`, `ACTIVE` and `SUSPENDED` need a customer.
    pub status: Option<String>,
    /// 4–8 digits; stored encrypted.
    pub pin: Option<String>,
    /// 8 digits; stored encrypted.
    pub puk: Option<String>,
    pub label: Option<String>,
    pub tags: Option<Vec<String>>,
    pub customer_id: Option<i64>,
    pub tariff_plan_id: Option<i64>,
    /// `none` (default) or `1nce`.
    pub provider: Option<String>,
}

pub fn check_pin(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    if (4..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err("must be 4 to 8 digits")
    }
}

pub fn check_puk(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err("must be 8 digits")
    }
}

pub fn check_label(s: &str) -> Result<Option<String>, &'static str> {
    let s = s.trim();
    if s.chars().count() > 200 {
        return Err("must be at most 200 characters");
    }
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

pub fn check_tags(v: &mut Validator, tags: &[String]) {
    if tags.len() > 50 {
        v.add("tags", "at most 50 tags");
    }
    if let Some(t) = tags.iter().find(|t| t.trim().chars().count() > 64) {
        v.add("tags", format!("tag {t:?} is longer than 64 characters"));
    }
}

async fn check_references(
    app: &AppState,
    v: &mut Validator,
    customer: Option<i64>,
    tariff: Option<i64>,
) -> ApiResult<()> {
    if let Some(id) = customer {
        match app.store.get_customer(id).await {
            Err(simfleet_store::StoreError::NotFound(_)) => {
                v.add("customer_id", format!("customer {id} does not exist"))
            }
            other => drop(other?),
        }
    }
    if let Some(id) = tariff {
        match app.store.get_tariff_plan(id).await {
            Err(simfleet_store::StoreError::NotFound(_)) => {
                v.add("tariff_plan_id", format!("tariff plan {id} does not exist"))
            }
            other => drop(other?),
        }
    }
    Ok(())
}

/// Add a SIM to the inventory.
#[utoipa::path(post, path = "/sims", tag = "sims", request_body = CreateSim,
    responses((status = 201, body = SimView), (status = 400, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_sim(
    op: Operator,
    State(app): State<AppState>,
    Body(req): Body<CreateSim>,
) -> ApiResult<(StatusCode, Json<SimView>)> {
    let mut v = Validator::default();
    let iccid = v.check("iccid", Some(&req.iccid), Iccid::parse);
    let imsi = v.check("imsi", req.imsi.as_deref(), Imsi::parse);
    let msisdn = v.check("msisdn", req.msisdn.as_deref(), Msisdn::parse);
    let imei = v.check("imei", req.imei.as_deref(), Imei::parse);
    let sim_type =
        v.check("type", req.sim_type.as_deref(), |s| SimType::parse(s).ok_or("must be prepaid, postpaid or data_only"));
    let status = v.check("status", req.status.as_deref(), |s| SimStatus::parse(s).ok_or("unknown status"));
    let provider = v.check("provider", req.provider.as_deref(), |s| Provider::parse(s).ok_or("must be none or 1nce"));
    let pin = v.check("pin", req.pin.as_deref(), check_pin);
    let puk = v.check("puk", req.puk.as_deref(), check_puk);
    let label = v.check("label", req.label.as_deref(), check_label).flatten();
    let tags = req.tags.clone().unwrap_or_default();
    check_tags(&mut v, &tags);
    let status = status.unwrap_or(SimStatus::Available);
    if status == SimStatus::Terminated {
        v.add("status", "a new SIM cannot start TERMINATED");
    }
    if matches!(status, SimStatus::Reserved | SimStatus::Active | SimStatus::Suspended) && req.customer_id.is_none() {
        v.add("customer_id", format!("a {status} SIM needs a customer"));
    }
    check_references(&app, &mut v, req.customer_id, req.tariff_plan_id).await?;
    v.finish()?;

    let new = NewSim {
        iccid: iccid.expect("validated").to_string(),
        imsi: imsi.map(String::from),
        msisdn: msisdn.map(String::from),
        imei: imei.map(String::from),
        sim_type: sim_type.unwrap_or(SimType::DataOnly),
        status,
        pin_enc: pin.map(|p| app.secrets.seal(&p)),
        puk_enc: puk.map(|p| app.secrets.seal(&p)),
        label,
        tags,
        customer_id: req.customer_id,
        tariff_plan_id: req.tariff_plan_id,
        provider: provider.unwrap_or(Provider::None),
        provider_ref: None,
        provider_status: None,
        imei_lock: None,
        ip_address: None,
    };
    let sim = app.store.create_sim(&new, &op.actor()).await?;
    Ok((StatusCode::CREATED, Json(sim.into())))
}

/// Fields to change; a field left out stays as it is, `null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSim {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub imsi: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub msisdn: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub imei: Option<Option<String>>,
    #[serde(rename = "type")]
    pub sim_type: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub pin: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub puk: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub label: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub customer_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub tariff_plan_id: Option<Option<i64>>,
}

fn optional<T, E: std::fmt::Display>(
    v: &mut Validator,
    field: &str,
    value: &Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    match value {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => v.check(field, Some(s), parse).map(Some),
    }
}

pub async fn build_patch(app: &AppState, req: &UpdateSim) -> ApiResult<SimPatch> {
    let mut v = Validator::default();
    let patch = SimPatch {
        imsi: optional(&mut v, "imsi", &req.imsi, |s| Imsi::parse(s).map(String::from)),
        msisdn: optional(&mut v, "msisdn", &req.msisdn, |s| Msisdn::parse(s).map(String::from)),
        imei: optional(&mut v, "imei", &req.imei, |s| Imei::parse(s).map(String::from)),
        sim_type: v.check("type", req.sim_type.as_deref(), |s| {
            SimType::parse(s).ok_or("must be prepaid, postpaid or data_only")
        }),
        pin_enc: optional(&mut v, "pin", &req.pin, |s| check_pin(s).map(|p| app.secrets.seal(&p))),
        puk_enc: optional(&mut v, "puk", &req.puk, |s| check_puk(s).map(|p| app.secrets.seal(&p))),
        label: optional(&mut v, "label", &req.label, check_label).map(Option::flatten),
        tags: req.tags.clone(),
        customer_id: req.customer_id,
        tariff_plan_id: req.tariff_plan_id,
    };
    if let Some(tags) = &req.tags {
        check_tags(&mut v, tags);
    }
    check_references(app, &mut v, req.customer_id.flatten(), req.tariff_plan_id.flatten()).await?;
    v.finish()?;
    if patch.is_empty() {
        return Err(ApiError::BadRequest("nothing to change: give at least one field".into()));
    }
    Ok(patch)
}

/// Change a SIM's attributes (not its status: use the lifecycle actions).
#[utoipa::path(patch, path = "/sims/{iccid}", tag = "sims", params(("iccid" = String, Path)), request_body = UpdateSim,
    responses((status = 200, body = SimView), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_sim(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Body(req): Body<UpdateSim>,
) -> ApiResult<Json<SimView>> {
    let patch = build_patch(&app, &req).await?;
    Ok(Json(app.store.update_sim(&iccid, &patch, &op.actor()).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkUpdate {
    /// Up to 10,000 SIMs.
    pub iccids: Vec<String>,
    pub changes: UpdateSim,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub updated: u64,
}

/// Apply the same change to many SIMs, all or nothing.
#[utoipa::path(post, path = "/sims/bulk", tag = "sims", request_body = BulkUpdate,
    responses((status = 200, body = BulkResult), (status = 422, body = Problem)))]
async fn bulk_update(
    op: Operator,
    State(app): State<AppState>,
    Body(req): Body<BulkUpdate>,
) -> ApiResult<Json<BulkResult>> {
    if req.iccids.is_empty() || req.iccids.len() > 10_000 {
        return Err(ApiError::field("iccids", "give between 1 and 10,000 ICCIDs"));
    }
    let patch = build_patch(&app, &req.changes).await?;
    let updated = app.store.bulk_update_sims(&req.iccids, &patch, &op.actor()).await?;
    Ok(Json(BulkResult { updated }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub iccid: String,
    /// CREATED, UPDATED, ASSIGNED, RESERVED, ACTIVATED, SUSPENDED, REPORTED_LOST, TERMINATED, SWAPPED, IMPORTED, …
    pub kind: String,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub note: Option<String>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl From<SimEvent> for EventView {
    fn from(e: SimEvent) -> Self {
        EventView {
            id: e.id,
            iccid: e.iccid,
            kind: e.kind,
            old_status: e.old_status,
            new_status: e.new_status,
            note: e.note,
            actor: e.actor,
            created_at: e.created_at,
        }
    }
}

/// A SIM's event history, newest first.
#[utoipa::path(get, path = "/sims/{iccid}/events", tag = "sims", params(("iccid" = String, Path), PageParams),
    responses((status = 200, body = Page<EventView>), (status = 404, body = Problem)))]
async fn sim_events(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<EventView>>> {
    let events = app.store.sim_events(&iccid, page.request()?).await?;
    Ok(Json(Page::from_store(events, EventView::from)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimSecrets {
    pub iccid: String,
    pub pin: Option<String>,
    pub puk: Option<String>,
}

/// Reveal a SIM's PIN and PUK (operator and admin). Each reveal is recorded in the SIM's history.
#[utoipa::path(get, path = "/sims/{iccid}/secrets", tag = "sims", params(("iccid" = String, Path)),
    responses((status = 200, body = SimSecrets), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn reveal_secrets(
    op: Operator,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
) -> ApiResult<Json<SimSecrets>> {
    Ok(Json(reveal(&app, &iccid, &op.actor()).await?))
}

/// Decrypts a SIM's PIN and PUK and records the reveal in its history. The caller has
/// checked that `actor` may see them.
pub(crate) async fn reveal(app: &AppState, iccid: &str, actor: &str) -> ApiResult<SimSecrets> {
    let sim = app.store.get_sim(iccid).await?;
    let open = |s: &Option<String>| s.as_deref().map(|s| app.secrets.open(s)).transpose();
    let (pin, puk) = (open(&sim.pin_enc)?, open(&sim.puk_enc)?);
    app.store
        .add_sim_event(
            sim.id,
            &NewEvent { kind: EventKind::SecretsRevealed, old_status: None, new_status: None, note: None, actor },
        )
        .await?;
    Ok(SimSecrets { iccid: sim.iccid, pin, puk })
}
