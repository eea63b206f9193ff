//! HTTP routes: `v1`, `v2`, `misc` (oauth, orders, products, support) and `admin` (`/_sim`).
//!
//! Handlers and helpers return `Result<Response, Response>` (the error *is* the finished HTTP
//! answer, the usual axum idiom); boxing it would only add noise, hence the allow.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod misc;
pub mod v1;
pub mod v2;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::config::SimConfig;
use crate::faults::FaultControl;
use crate::state::{Lookup, SimState};

/// Shared by all handlers.
#[derive(Clone)]
pub struct App {
    pub state: Arc<SimState>,
    pub faults: Arc<FaultControl>,
    pub config: Arc<SimConfig>,
    /// `http://127.0.0.1:PORT`, for Location headers and links.
    pub base_url: Arc<str>,
}

pub type Query = axum::extract::Query<HashMap<String, String>>;

/// v1 / auth style error body: `{statusCode, errorCode, message}`.
pub fn v1_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"statusCode": status.as_u16(), "errorCode": code, "message": message}))).into_response()
}

/// v2 style error body: `{error_code, error_token, message}`.
pub fn v2_error(status: StatusCode, token: &str, message: &str) -> Response {
    (status, Json(json!({"error_code": 1000 + u32::from(status.as_u16()), "error_token": token, "message": message})))
        .into_response()
}

/// Which error dialect a route speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V1,
    V2,
}

impl Dialect {
    pub fn error(self, status: StatusCode, message: &str) -> Response {
        let token = match status {
            StatusCode::BAD_REQUEST => "BadRequest",
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::UNPROCESSABLE_ENTITY => "SimExpired",
            _ => "InternalServerError",
        };
        match self {
            Dialect::V1 => v1_error(status, token, message),
            Dialect::V2 => v2_error(status, token, message),
        }
    }

    /// Maps a lookup to the SIM index or a 403/404 response.
    pub fn found(self, lookup: Lookup, iccid: &str) -> Result<usize, Response> {
        match lookup {
            Lookup::Found(i) => Ok(i),
            Lookup::Foreign => Err(self.error(StatusCode::FORBIDDEN, "SIM does not belong to user.")),
            Lookup::Missing => Err(self.error(StatusCode::NOT_FOUND, &format!("SIM {iccid} not found."))),
        }
    }
}

/// Parses `page` and the page-size parameter, rejecting values outside `1..=max` with 400.
pub fn paging(
    q: &HashMap<String, String>,
    size_key: &str,
    default_size: usize,
    max: usize,
    d: Dialect,
) -> Result<(usize, usize), Response> {
    let parse = |key: &str, default: usize, max: usize| -> Result<usize, Response> {
        match q.get(key) {
            None => Ok(default),
            Some(raw) => match raw.parse::<usize>() {
                Ok(v) if (1..=max).contains(&v) => Ok(v),
                _ => Err(d.error(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid value '{raw}' for parameter {key}: expected an integer between 1 and {max}"),
                )),
            },
        }
    };
    Ok((parse("page", 1, usize::MAX)?, parse(size_key, default_size, max)?))
}

/// The page `page` (1-based) of `total` items of size `size`: index range.
pub fn page_range(total: usize, page: usize, size: usize) -> std::ops::Range<usize> {
    let start = (page - 1).saturating_mul(size).min(total);
    start..(start + size).min(total)
}

/// `X-Total-Count`, `X-Total-Pages`, `X-Current-Page`, `X-Count-Per-Page`.
pub fn page_headers(total: usize, page: usize, size: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    let pages = total.div_ceil(size);
    for (k, v) in
        [("x-total-count", total), ("x-total-pages", pages), ("x-current-page", page), ("x-count-per-page", size)]
    {
        h.insert(k, HeaderValue::from(v as u64));
    }
    h
}

/// Parses a JSON body, answering 400 on failure.
pub fn parse_body<T: DeserializeOwned>(body: &[u8], d: Dialect) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| d.error(StatusCode::BAD_REQUEST, &format!("Request body validation error: {e}")))
}

pub fn json_ok(v: Value) -> Response {
    Json(v).into_response()
}

/// Serialises straight into a pre-sized buffer (large bodies, no `Value` tree).
pub fn json_typed<T: serde::Serialize>(v: &T) -> Response {
    let mut buf = Vec::with_capacity(16 * 1024);
    match serde_json::to_writer(&mut buf, v) {
        Ok(()) => ([(axum::http::header::CONTENT_TYPE, "application/json")], buf).into_response(),
        Err(e) => v1_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", &e.to_string()),
    }
}

pub fn created() -> Response {
    StatusCode::CREATED.into_response()
}

/// `payment_method` query parameter: absent → banktransfer; unknown → 400 (spec example); a
/// credit card while the account has none saved (see [`SimState::set_credit_card_on_file`]) → 400.
pub fn payment_method(app: &App, q: &HashMap<String, String>, d: Dialect) -> Result<(), Response> {
    let invalid = || match d {
        Dialect::V1 | Dialect::V2 => {
            (StatusCode::BAD_REQUEST, Json(json!({"message": "Payment method used is not valid."}))).into_response()
        }
    };
    match q.get("payment_method").map(String::as_str) {
        Some("creditcard") if !app.state.credit_card_on_file() => Err(invalid()),
        None | Some("") | Some("banktransfer") | Some("creditcard") | Some("monthlyinvoice") | Some("boleto") => Ok(()),
        Some(_) => Err(invalid()),
    }
}
