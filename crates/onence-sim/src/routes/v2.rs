//! `/v2/sims…`: the 13 operations of sim-management-v2.yml.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::v1::{self, SimUpdate};
use super::{json_ok, page_headers, page_range, paging, parse_body, App, Dialect, Query};
use crate::state::lookup_in;
use crate::views;

const D: Dialect = Dialect::V2;

type R = Result<Response, Response>;

pub async fn list_sims(State(app): State<App>, q: Query) -> R {
    v1::list_page(&app, &q, D)
}

pub async fn get_sim(State(app): State<App>, Path(iccid): Path<String>) -> R {
    let inner = app.state.read();
    let i = D.found(lookup_in(&inner, &iccid), &iccid)?;
    Ok(json_ok(views::sim_card(
        &inner.sims[i],
        &app.state.quota_in(&inner, i, true),
        &app.state.quota_in(&inner, i, false),
    )))
}

/// `PUT /v2/sims/{iccid}`: all fields optional (`SimsSimUpdateReq`); expired SIMs answer 409.
pub async fn put_sim(State(app): State<App>, Path(iccid): Path<String>, body: Bytes) -> R {
    let u: SimUpdate = parse_body(&body, D)?;
    if u.iccid.as_deref().is_some_and(|b| b != iccid) {
        return Err(D.error(StatusCode::BAD_REQUEST, "ICCID in body does not match the path"));
    }
    let (i, status) = v1::check_update(&app, &u, Some(&iccid), D, false)?;
    v1::apply_update(&app.state, i, &u, status);
    Ok(StatusCode::OK.into_response())
}

pub async fn reset(State(app): State<App>, Path(iccid): Path<String>) -> R {
    v1::reset(&app, &iccid, D)
}

fn quota(app: &App, iccid: &str, data: bool) -> R {
    let inner = app.state.read();
    let i = D.found(lookup_in(&inner, iccid), iccid)?;
    let id = (i as u64 + 1) * 2 - u64::from(data);
    Ok(json_ok(views::quota_v2(&app.state.quota_in(&inner, i, data), data, id)))
}

pub async fn quota_data(State(app): State<App>, Path(iccid): Path<String>) -> R {
    quota(&app, &iccid, true)
}

pub async fn quota_sms(State(app): State<App>, Path(iccid): Path<String>) -> R {
    quota(&app, &iccid, false)
}

pub async fn status(State(app): State<App>, Path(iccid): Path<String>) -> R {
    let inner = app.state.read();
    let i = D.found(lookup_in(&inner, &iccid), &iccid)?;
    let reached = app.state.monthly_data_limit_reached(&inner, i);
    Ok(json_ok(views::connectivity_v2(&inner.sims[i], reached)))
}

pub async fn post_sms(State(app): State<App>, Path(iccid): Path<String>, body: Bytes) -> R {
    let id = v1::send_sms(&app, &iccid, &body, D)?;
    Ok((StatusCode::CREATED, axum::Json(json!({"id": id.to_string()}))).into_response())
}

pub async fn list_sms(State(app): State<App>, Path(iccid): Path<String>, q: Query) -> R {
    v1::sms_page(&app, &iccid, &q, D)
}

pub async fn get_sms(State(app): State<App>, Path((iccid, id)): Path<(String, String)>) -> R {
    v1::get_one_sms(&app, &iccid, &id, D)
}

pub async fn delete_sms(State(app): State<App>, Path((iccid, id)): Path<(String, String)>) -> R {
    let id = v1::cancel_sms(&app, &iccid, &id, D)?;
    Ok(json_ok(json!({"id": id.to_string()})))
}

/// Events as a bare array, paged with the same headers as the SIM list.
pub async fn events(State(app): State<App>, Path(iccid): Path<String>, q: Query) -> R {
    let (page, size) = paging(&q, "pageSize", 10, 1000, D)?;
    let mut inner = app.state.write();
    let i = D.found(lookup_in(&inner, &iccid), &iccid)?;
    let mut all = app.state.events_of(&mut inner, i).clone();
    v1::sort_events(&mut all, q.get("sort"), D)?;
    let sim = &inner.sims[i];
    let items: Vec<Value> = all[page_range(all.len(), page, size)].iter().map(|e| views::event_v2(sim, e)).collect();
    Ok((page_headers(all.len(), page, size), axum::Json(Value::Array(items))).into_response())
}

pub async fn topup(State(app): State<App>, Path(iccid): Path<String>, q: Query) -> R {
    v1::top_up(&app, &iccid, &q, D)
}
