//! `/v1/sims…`: the 23 operations of sim-management.yml.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration as ChronoDuration, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{created, json_ok, page_headers, page_range, paging, parse_body, payment_method, App, Dialect, Query};
use crate::fleet::{LinkState, SimStatus};
use crate::state::{lookup_in, push_order, Lookup, SimState};
use crate::views;

const D: Dialect = Dialect::V1;

type R = Result<Response, Response>;

/// Body of a single or multiple SIM configuration (`Values_for_a_SIM_update`).
#[derive(Debug, Deserialize)]
pub struct SimUpdate {
    pub iccid: Option<String>,
    pub label: Option<String>,
    pub imei_lock: Option<bool>,
    pub status: Option<String>,
}

/// Filters (`q=imei:…,ip_address:…`) and sorts (`sort=ip_address,-imei`) SIM indices.
pub(crate) fn select_sims(state: &SimState, q: &super::Query, d: Dialect) -> Result<Vec<usize>, Response> {
    let inner = state.read();
    let mut filters = Vec::new();
    if let Some(raw) = q.get("q").filter(|s| !s.is_empty()) {
        for part in raw.split(',') {
            match part.split_once(':') {
                Some((k @ ("imei" | "ip_address"), v)) => filters.push((k.to_string(), v.to_string())),
                _ => return Err(d.error(StatusCode::BAD_REQUEST, &format!("Invalid filter '{part}'"))),
            }
        }
    }
    let mut idx: Vec<usize> = (0..inner.sims.len())
        .filter(|&i| {
            let s = &inner.sims[i];
            filters.iter().all(|(k, v)| if k == "imei" { &s.imei == v } else { &s.ip_address == v })
        })
        .collect();
    if let Some(raw) = q.get("sort").filter(|s| !s.is_empty()) {
        let mut keys = Vec::new();
        for k in raw.split(',') {
            let (desc, name) = k.strip_prefix('-').map_or((false, k), |n| (true, n));
            if !matches!(name, "imei" | "ip_address") {
                return Err(d.error(StatusCode::BAD_REQUEST, &format!("Invalid sort key '{k}'")));
            }
            keys.push((desc, name == "imei"));
        }
        idx.sort_by(|&a, &b| {
            for &(desc, imei) in &keys {
                let (sa, sb) = (&inner.sims[a], &inner.sims[b]);
                let o = if imei { sa.imei.cmp(&sb.imei) } else { ip_key(&sa.ip_address).cmp(&ip_key(&sb.ip_address)) };
                let o = if desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            a.cmp(&b)
        });
    }
    Ok(idx)
}

fn ip_key(ip: &str) -> Vec<u32> {
    ip.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// Renders a page of SIM cards (shared with v2: `SimsSim` has the same fields).
pub(crate) fn list_page(app: &App, q: &super::Query, d: Dialect) -> R {
    let (page, size) = paging(q, "pageSize", 10, 100, d)?;
    let unfiltered = q.get("q").is_none_or(|v| v.is_empty()) && q.get("sort").is_none_or(|v| v.is_empty());
    // Plain listing: index the page directly instead of materialising every SIM index.
    let (total, selected): (usize, Vec<usize>) = if unfiltered {
        let total = app.state.sim_count();
        (total, page_range(total, page, size).collect())
    } else {
        let idx = select_sims(&app.state, q, d)?;
        (idx.len(), idx[page_range(idx.len(), page, size)].to_vec())
    };
    let inner = app.state.read();
    let items: Vec<Value> = selected
        .iter()
        .map(|&i| {
            views::sim_card(&inner.sims[i], &app.state.quota_in(&inner, i, true), &app.state.quota_in(&inner, i, false))
        })
        .collect();
    Ok((page_headers(total, page, size), super::json_typed(&items)).into_response())
}

pub async fn list_sims(State(app): State<App>, q: Query) -> R {
    list_page(&app, &q, D)
}

fn sim_view(app: &App, iccid: &str, d: Dialect) -> R {
    let inner = app.state.read();
    let i = d.found(lookup_in(&inner, iccid), iccid)?;
    Ok(json_ok(views::sim_card(
        &inner.sims[i],
        &app.state.quota_in(&inner, i, true),
        &app.state.quota_in(&inner, i, false),
    )))
}

pub async fn get_sim(State(app): State<App>, Path(iccid): Path<String>) -> R {
    sim_view(&app, &iccid, D)
}

/// Validates one update; returns the SIM index and parsed status.
pub(crate) fn check_update(
    app: &App,
    u: &SimUpdate,
    path_iccid: Option<&str>,
    d: Dialect,
    require: bool,
) -> Result<(usize, Option<SimStatus>), Response> {
    let iccid = match (path_iccid, u.iccid.as_deref()) {
        (Some(p), _) => p,
        (None, Some(b)) => b,
        (None, None) => return Err(d.error(StatusCode::BAD_REQUEST, "Missing attribute 'iccid'")),
    };
    if require && (u.iccid.is_none() || u.status.is_none()) {
        return Err(d.error(StatusCode::BAD_REQUEST, "Missing attributes: 'iccid' and 'status' are required"));
    }
    let status = match u.status.as_deref() {
        None => None,
        Some(s) => Some(
            SimStatus::parse(s).ok_or_else(|| d.error(StatusCode::BAD_REQUEST, &format!("Invalid status '{s}'")))?,
        ),
    };
    let i = d.found(app.state.lookup(iccid), iccid)?;
    if app.state.read().sims[i].expired {
        let code = if d == Dialect::V1 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::CONFLICT };
        return Err(d.error(
            code,
            &format!(
                "The following SIMs are expired and cannot be modified via API. Only extensions are permitted: {iccid}"
            ),
        ));
    }
    Ok((i, status))
}

pub(crate) fn apply_update(state: &SimState, i: usize, u: &SimUpdate, status: Option<SimStatus>) {
    let mut inner = state.write();
    if let Some(s) = status {
        state.apply_status(&mut inner, i, s);
    }
    let sim = &mut inner.sims[i];
    if let Some(l) = &u.label {
        sim.label = Some(l.clone());
    }
    if let Some(lock) = u.imei_lock {
        sim.imei_lock = lock;
    }
}

/// `POST /v1/sims`: validated now, applied asynchronously shortly after (201 = queued).
pub async fn multi_config(State(app): State<App>, body: Bytes) -> R {
    let updates: Vec<SimUpdate> = parse_body(&body, D)?;
    let mut checked = Vec::with_capacity(updates.len());
    for u in updates {
        let (i, status) = check_update(&app, &u, None, D, true)?;
        checked.push((i, u, status));
    }
    let state = app.state.clone();
    let delay = Duration::from_millis(app.config.apply_delay_ms);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        for (i, u, status) in checked {
            apply_update(&state, i, &u, status);
        }
    });
    Ok(created())
}

pub async fn put_sim(State(app): State<App>, Path(iccid): Path<String>, body: Bytes) -> R {
    let u: SimUpdate = parse_body(&body, D)?;
    let (i, status) = check_update(&app, &u, Some(&iccid), D, true)?;
    apply_update(&app.state, i, &u, status);
    Ok(StatusCode::OK.into_response())
}

pub async fn get_status(State(app): State<App>, Path(iccid): Path<String>) -> R {
    let inner = app.state.read();
    let i = D.found(lookup_in(&inner, &iccid), &iccid)?;
    Ok(json_ok(views::connectivity_v1(&inner.sims[i])))
}

#[derive(Deserialize)]
struct Transfer {
    target_organisation: Option<i64>,
    #[serde(default)]
    iccid_ranges: Vec<Value>,
    #[serde(default)]
    iccids: Vec<String>,
}

pub async fn sim_transfer(State(app): State<App>, body: Bytes) -> R {
    let t: Transfer = parse_body(&body, D)?;
    if t.iccids.is_empty() && t.iccid_ranges.is_empty() {
        return Err(D.error(StatusCode::BAD_REQUEST, "Either iccids or iccid_ranges is required"));
    }
    for iccid in &t.iccids {
        let i = D.found(app.state.lookup(iccid), iccid)?;
        not_expired(&app, i, iccid, D)?;
    }
    app.state.write().transfers.push(
        json!({"target_organisation": t.target_organisation, "iccid_ranges": t.iccid_ranges, "iccids": t.iccids}),
    );
    Ok(created())
}

fn flag(q: &Query, key: &str, default: bool) -> Result<bool, Response> {
    match q.get(key).map(String::as_str) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(D.error(StatusCode::BAD_REQUEST, &format!("Invalid boolean '{v}' for {key}"))),
    }
}

pub async fn connectivity_info(State(app): State<App>, Path(iccid): Path<String>, q: Query) -> R {
    let received = Utc::now();
    let (subscriber, ussd) = (flag(&q, "subscriber", true)?, flag(&q, "ussd", false)?);
    let inner = app.state.read();
    let i = D.found(lookup_in(&inner, &iccid), &iccid)?;
    Ok(json_ok(views::connectivity_info(&inner.sims[i], subscriber, ussd, received)))
}

/// Queues a connectivity reset: the SIM drops to ATTACHED and an event is recorded.
pub(crate) fn reset(app: &App, iccid: &str, d: Dialect) -> R {
    let i = d.found(app.state.lookup(iccid), iccid)?;
    if app.state.read().sims[i].expired {
        return Err(d.error(
            if d == Dialect::V1 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::CONFLICT },
            "SIM expired",
        ));
    }
    let state = app.state.clone();
    let delay = Duration::from_millis(app.config.apply_delay_ms);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut inner = state.write();
        let sim = &mut inner.sims[i];
        if sim.connectivity.state == LinkState::Online {
            sim.connectivity.state = LinkState::Attached;
        }
        state.push_event(&mut inner, i, 12, "Connectivity reset", false, 0);
    });
    Ok(created())
}

pub async fn reset_connectivity(State(app): State<App>, Path(iccid): Path<String>) -> R {
    reset(&app, &iccid, D)
}

/// Sorts events by `timestamp` / `id` keys (`-` for descending); default: chronological.
pub(crate) fn sort_events(
    events: &mut [crate::state::SimEvent],
    sort: Option<&String>,
    d: Dialect,
) -> Result<(), Response> {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return Ok(());
    };
    let mut keys = Vec::new();
    for k in sort.split(',') {
        let (desc, name) = k.strip_prefix('-').map_or((false, k), |n| (true, n));
        match name {
            "timestamp" | "id" => keys.push((desc, name == "id")),
            _ => return Err(d.error(StatusCode::BAD_REQUEST, &format!("Invalid sort key '{k}'"))),
        }
    }
    events.sort_by(|a, b| {
        for &(desc, id) in &keys {
            let o = if id { a.id.cmp(&b.id) } else { a.timestamp.cmp(&b.timestamp) };
            let o = if desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    Ok(())
}

pub async fn events(State(app): State<App>, Path(iccid): Path<String>, q: Query) -> R {
    let (page, size) = paging(&q, "pageSize", 10, 1000, D)?;
    let mut inner = app.state.write();
    let i = D.found(lookup_in(&inner, &iccid), &iccid)?;
    let mut all = app.state.events_of(&mut inner, i).clone();
    sort_events(&mut all, q.get("sort"), D)?;
    let sim = &inner.sims[i];
    let items: Vec<Value> = all[page_range(all.len(), page, size)].iter().map(|e| views::event_v1(sim, e)).collect();
    let body = json!({"events": items, "totalEvents": all.len(), "totalPages": all.len().div_ceil(size)});
    Ok((page_headers(all.len(), page, size), axum::Json(body)).into_response())
}

fn date_param(q: &Query, key: &str) -> Result<Option<NaiveDate>, Response> {
    match q.get(key).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d").map(Some).map_err(|_| {
            D.error(StatusCode::BAD_REQUEST, &format!("Invalid date '{raw}' for {key}: expected YYYY-MM-DD"))
        }),
    }
}

/// Usage between `start_dt` and `end_dt` (defaults: the last 30 days), limited to the history.
pub async fn usage(State(app): State<App>, Path(iccid): Path<String>, q: Query) -> R {
    let end = date_param(&q, "end_dt")?.unwrap_or_else(|| app.state.today());
    let start = date_param(&q, "start_dt")?.unwrap_or(end - ChronoDuration::days(29));
    if start > end {
        return Err(D.error(StatusCode::BAD_REQUEST, "start_dt must not be after end_dt"));
    }
    let inner = app.state.read();
    let i = D.found(lookup_in(&inner, &iccid), &iccid)?;
    let stats = app.state.usage_range(&inner, i, start, end).iter().map(|(d, u)| views::daily(*d, u)).collect();
    Ok(super::json_typed(&views::DailyUsage { stats }))
}

fn quota(app: &App, iccid: &str, data: bool) -> R {
    let inner = app.state.read();
    let i = D.found(lookup_in(&inner, iccid), iccid)?;
    Ok(json_ok(views::quota_v1(&app.state.quota_in(&inner, i, data), data)))
}

pub async fn quota_data(State(app): State<App>, Path(iccid): Path<String>) -> R {
    quota(&app, &iccid, true)
}

pub async fn quota_sms(State(app): State<App>, Path(iccid): Path<String>) -> R {
    quota(&app, &iccid, false)
}

/// Paged SMS list for v1 (`pageSize`) and v2 (`per_page`).
/// 422 (v1) / 409 (v2) for an expired SIM: only extensions are permitted.
pub(crate) fn not_expired(app: &App, i: usize, iccid: &str, d: Dialect) -> Result<(), Response> {
    if app.state.read().sims[i].expired {
        let code = if d == Dialect::V1 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::CONFLICT };
        return Err(d.error(
            code,
            &format!(
                "The following SIMs are expired and cannot be modified via API. Only extensions are permitted: {iccid}"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn sms_page(app: &App, iccid: &str, q: &Query, d: Dialect) -> R {
    let (page, size) = match d {
        Dialect::V1 => paging(q, "pageSize", 10, 100, d)?,
        Dialect::V2 => paging(q, "per_page", 20, 1000, d)?,
    };
    not_expired(app, d.found(app.state.lookup(iccid), iccid)?, iccid, d)?;
    let mut inner = app.state.write();
    let i = d.found(lookup_in(&inner, iccid), iccid)?;
    let all = app.state.sms_of(&mut inner, i).clone();
    let sim = &inner.sims[i];
    let items: Vec<Value> = all[page_range(all.len(), page, size)]
        .iter()
        .map(|s| if d == Dialect::V1 { views::sms_v1(sim, s) } else { views::sms_v2(sim, s) })
        .collect();
    Ok((page_headers(all.len(), page, size), axum::Json(Value::Array(items))).into_response())
}

pub async fn list_sms(State(app): State<App>, Path(iccid): Path<String>, q: Query) -> R {
    sms_page(&app, &iccid, &q, D)
}

/// `SMSMessage` request body.
#[derive(Debug, Deserialize)]
pub struct SmsMessage {
    pub source_address: Option<String>,
    pub payload: Option<String>,
    pub udh: Option<String>,
    pub dcs: Option<u32>,
    pub source_address_type: Option<SourceAddressType>,
    pub expiry_date: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SourceAddressType {
    pub id: Option<f64>,
}

/// Stores an MT-SMS: delivered at once to an online/attached device, pending otherwise.
pub(crate) fn send_sms(app: &App, iccid: &str, body: &[u8], d: Dialect) -> Result<u64, Response> {
    let m: SmsMessage = parse_body(body, d)?;
    let Some(payload) = m.payload.filter(|p| !p.is_empty()) else {
        return Err(d.error(StatusCode::BAD_REQUEST, "Missing attribute 'payload'"));
    };
    if m.udh.as_deref().is_some_and(|u| !u.chars().all(|c| c.is_ascii_hexdigit())) {
        return Err(d.error(StatusCode::BAD_REQUEST, "udh must be a hex string"));
    }
    let sat = m.source_address_type.and_then(|t| t.id).map_or(145, |v| v as u32);
    if ![145, 161, 208].contains(&sat) {
        return Err(d.error(StatusCode::BAD_REQUEST, "Invalid source_address_type"));
    }
    let i = d.found(app.state.lookup(iccid), iccid)?;
    let mut inner = app.state.write();
    if inner.sims[i].expired {
        return Err(d.error(
            if d == Dialect::V1 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::CONFLICT },
            "SIM expired",
        ));
    }
    let now = Utc::now();
    let reachable = inner.sims[i].connectivity.state != LinkState::Offline;
    let expiry = m
        .expiry_date
        .as_deref()
        .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
        .map_or(now + ChronoDuration::days(1), |e| e.with_timezone(&Utc));
    let id = SimState::next_id(&mut inner);
    let sms = crate::state::Sms {
        id,
        sim_index: i,
        mt: true,
        status: if reachable { crate::state::SmsStatus::Delivered } else { crate::state::SmsStatus::Pending },
        submit: now,
        delivery: reachable.then_some(now),
        expiry,
        payload,
        source_address: m.source_address.unwrap_or_else(|| "1234567890".into()),
        source_address_type: sat,
        dcs: m.dcs.unwrap_or(0),
        udh: m.udh.unwrap_or_default(),
    };
    app.state.sms_of(&mut inner, i).push(sms);
    Ok(id)
}

pub async fn post_sms(State(app): State<App>, Path(iccid): Path<String>, body: Bytes) -> R {
    send_sms(&app, &iccid, &body, D)?;
    Ok(created())
}

pub(crate) fn sms_id(raw: &str, d: Dialect) -> Result<u64, Response> {
    raw.parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0 && v.fract() == 0.0)
        .map(|v| v as u64)
        .ok_or_else(|| d.error(StatusCode::BAD_REQUEST, &format!("Invalid SMS id '{raw}'")))
}

pub(crate) fn get_one_sms(app: &App, iccid: &str, id: &str, d: Dialect) -> R {
    let id = sms_id(id, d)?;
    let mut inner = app.state.write();
    let i = d.found(lookup_in(&inner, iccid), iccid)?;
    let Some(s) = app.state.sms_of(&mut inner, i).iter().find(|s| s.id == id).cloned() else {
        return Err(d.error(StatusCode::NOT_FOUND, "SMS not found"));
    };
    let sim = &inner.sims[i];
    Ok(json_ok(if d == Dialect::V1 { views::sms_v1(sim, &s) } else { views::sms_v2(sim, &s) }))
}

pub async fn get_sms(State(app): State<App>, Path((iccid, id)): Path<(String, String)>) -> R {
    get_one_sms(&app, &iccid, &id, D)
}

/// Cancels a buffered (pending) SMS; delivered ones cannot be cancelled.
pub(crate) fn cancel_sms(app: &App, iccid: &str, id: &str, d: Dialect) -> Result<u64, Response> {
    let id = sms_id(id, d)?;
    not_expired(app, d.found(app.state.lookup(iccid), iccid)?, iccid, d)?;
    let mut inner = app.state.write();
    let i = d.found(lookup_in(&inner, iccid), iccid)?;
    let list = app.state.sms_of(&mut inner, i);
    match list.iter().position(|s| s.id == id) {
        None => Err(d.error(StatusCode::NOT_FOUND, "SMS not found")),
        Some(p) if list[p].status != crate::state::SmsStatus::Pending => {
            Err(d.error(StatusCode::BAD_REQUEST, "Only pending SMS can be cancelled"))
        }
        Some(p) => {
            list.remove(p);
            Ok(id)
        }
    }
}

pub async fn delete_sms(State(app): State<App>, Path((iccid, id)): Path<(String, String)>) -> R {
    cancel_sms(&app, &iccid, &id, D)?;
    Ok(StatusCode::OK.into_response())
}

/// Single top-up for v1 and v2: 201 with `Location` of the created order.
pub(crate) fn top_up(app: &App, iccid: &str, q: &Query, d: Dialect) -> R {
    payment_method(app, q, d)?;
    let i = d.found(app.state.lookup(iccid), iccid)?;
    if d == Dialect::V1 && app.state.read().sims[i].expired {
        return Err(d.error(StatusCode::UNPROCESSABLE_ENTITY, "SIM expired"));
    }
    let n = app.state.top_up(iccid).unwrap_or_default();
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("{}/v1/orders/{n}", app.base_url))]).into_response())
}

pub async fn topup(State(app): State<App>, Path(iccid): Path<String>, q: Query) -> R {
    top_up(&app, &iccid, &q, D)
}

pub async fn topup_multi(State(app): State<App>, q: Query, body: Bytes) -> R {
    payment_method(&app, &q, D)?;
    let iccids: Vec<String> = parse_body(&body, D)?;
    if iccids.is_empty() {
        return Err(D.error(StatusCode::BAD_REQUEST, "At least one ICCID is required"));
    }
    let mut idx = Vec::new();
    for iccid in &iccids {
        let i = D.found(app.state.lookup(iccid), iccid)?;
        if app.state.read().sims[i].expired {
            return Err(D.error(StatusCode::UNPROCESSABLE_ENTITY, &format!("The following SIMs are expired and cannot be modified via API. Only extensions are permitted: {iccid}")));
        }
        idx.push(i);
    }
    let mut inner = app.state.write();
    for &i in &idx {
        app.state.top_up_in(&mut inner, i);
    }
    let sims = idx.iter().map(|&i| inner.sims[i].iccid.clone()).collect();
    let n = push_order(&mut inner, "BULK_TOPUP", sims, vec![(1002, idx.len() as u64)]);
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("{}/v1/orders/{n}", app.base_url))]).into_response())
}

#[derive(Deserialize)]
struct AutoTopup {
    enabled: Option<bool>,
    #[serde(default)]
    iccids: Vec<String>,
}

pub async fn auto_topup(State(app): State<App>, body: Bytes) -> R {
    let r: AutoTopup = parse_body(&body, D)?;
    let Some(enabled) = r.enabled else {
        return Err(D.error(StatusCode::BAD_REQUEST, "Missing attribute 'enabled'"));
    };
    let mut idx = Vec::new();
    for iccid in &r.iccids {
        let i = D.found(app.state.lookup(iccid), iccid)?;
        not_expired(&app, i, iccid, D)?;
        idx.push(i);
    }
    let mut inner = app.state.write();
    for i in idx {
        inner.sims[i].auto_topup = enabled;
    }
    Ok(created())
}

pub async fn get_limits(State(app): State<App>) -> R {
    Ok(json_ok(views::limits(&app.state.limits())))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetLimits {
    data_limit_id: Option<u32>,
    sms_mt_limit_id: Option<u32>,
    sms_mo_limit_id: Option<u32>,
}

pub async fn set_limits(State(app): State<App>, body: Bytes) -> R {
    let r: SetLimits = parse_body(&body, D)?;
    let valid = |service: &str, id: Option<u32>| -> Result<(), Response> {
        match id {
            Some(id) if !crate::state::limit_options(service).is_some_and(|o| o.iter().any(|(i, _, _)| *i == id)) => {
                Err(D.error(StatusCode::NOT_FOUND, &format!("Unknown {service} limit id {id}")))
            }
            _ => Ok(()),
        }
    };
    valid("data", r.data_limit_id)?;
    valid("smsMT", r.sms_mt_limit_id)?;
    valid("smsMO", r.sms_mo_limit_id)?;
    let mut inner = app.state.write();
    let l = &mut inner.limits;
    l.data = r.data_limit_id.unwrap_or(l.data);
    l.sms_mt = r.sms_mt_limit_id.unwrap_or(l.sms_mt);
    l.sms_mo = r.sms_mo_limit_id.unwrap_or(l.sms_mo);
    Ok(created())
}

/// `GET /v1/sims/{service}/limits` (the path parameter shares the `{iccid}` slot in the router).
pub async fn selectable_limits(Path(service): Path<String>) -> R {
    views::limit_choices(&service)
        .map(json_ok)
        .ok_or_else(|| D.error(StatusCode::NOT_FOUND, &format!("Unknown service '{service}'")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Extension {
    #[serde(default)]
    iccids: Vec<String>,
    product_id: Option<u64>,
}

/// Extends SIMs: clears expiry, renews quotas, records an order.
pub async fn extension(State(app): State<App>, q: Query, body: Bytes) -> R {
    payment_method(&app, &q, D)?;
    let r: Extension = parse_body(&body, D)?;
    if r.iccids.is_empty() {
        return Err(D.error(StatusCode::BAD_REQUEST, "At least one ICCID is required"));
    }
    let mut idx = Vec::new();
    for iccid in &r.iccids {
        match app.state.lookup(iccid) {
            Lookup::Found(i) => idx.push(i),
            other => {
                return Err(D.found(other, iccid).err().unwrap_or_else(|| D.error(StatusCode::NOT_FOUND, "not found")))
            }
        }
    }
    let mut inner = app.state.write();
    for &i in &idx {
        app.state.extend_in(&mut inner, i);
    }
    let sims = idx.iter().map(|&i| inner.sims[i].iccid.clone()).collect();
    push_order(&mut inner, "TARIFF_CHANGE", sims, vec![(r.product_id.unwrap_or(1001), idx.len() as u64)]);
    Ok(created())
}
