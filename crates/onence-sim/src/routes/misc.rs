//! `POST /oauth/token`, orders, products and support.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{json_ok, page_headers, page_range, paging, parse_body, v1_error, App, Dialect, Query};
use crate::state::{push_order, ServiceRequest};
use crate::views;

type R = Result<Response, Response>;

/// OAuth2 client credentials with HTTP Basic. Errors follow `Bearer_Token_400`; a known client
/// with a wrong secret answers 401.
pub async fn token(State(app): State<App>, headers: HeaderMap, body: Bytes) -> R {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(v1_error(StatusCode::BAD_REQUEST, "UnsupportedContentTypeError", "Content-Type not supported"));
    }
    let creds = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let Some(creds) = creds else {
        return Err(v1_error(
            StatusCode::BAD_REQUEST,
            "AuthValidationError",
            "Auth header validation error: Missing attributes 'username'",
        ));
    };
    let (user, pass) = creds.split_once(':').unwrap_or((creds.as_str(), ""));
    if pass.is_empty() {
        return Err(v1_error(
            StatusCode::BAD_REQUEST,
            "AuthValidationError",
            "Auth header validation error: Missing attributes 'password'",
        ));
    }
    let grant = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("grant_type").and_then(Value::as_str).map(str::to_owned));
    match grant.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(v1_error(
                StatusCode::BAD_REQUEST,
                "BodyValidationError",
                "Request body validation error: unsupported 'grant_type'",
            ))
        }
        None => {
            return Err(v1_error(
                StatusCode::BAD_REQUEST,
                "BodyValidationError",
                "Request body validation error: Missing attributes 'grant_type'",
            ))
        }
    }
    if user != app.config.client_id {
        return Err(v1_error(StatusCode::BAD_REQUEST, "BadCredentials", "User does not exist."));
    }
    if pass != app.config.client_secret {
        return Err(v1_error(StatusCode::UNAUTHORIZED, "BadCredentials", "Bad credentials."));
    }
    let (token, ttl) = app.state.issue_token();
    app.faults.count_token_issued();
    let (user_key, scope_key) =
        if app.config.token_example_field_names { ("user_id", "score") } else { ("userId", "scope") };
    Ok(json_ok(json!({
        "status_code": 200,
        "access_token": token,
        "token_type": "bearer",
        "expires_in": ttl.as_secs(),
        user_key: user,
        scope_key: "all",
    })))
}

pub async fn list_orders(State(app): State<App>, q: Query) -> R {
    let (page, size) = paging(&q, "pageSize", 10, 10, Dialect::V1)?;
    let mut orders = app.state.orders();
    if let Some(sort) = q.get("sort").filter(|s| !s.is_empty()) {
        for key in sort.split(',').rev() {
            let (desc, name) = key.strip_prefix('-').map_or((false, key), |n| (true, n));
            match name {
                "order_number" => orders.sort_by_key(|o| o.number),
                "order_status" => orders.sort_by(|a, b| a.status.cmp(&b.status)),
                "order_date" => orders.sort_by_key(|o| o.date),
                _ => return Err(Dialect::V1.error(StatusCode::BAD_REQUEST, &format!("Invalid sort key '{key}'"))),
            }
            if desc {
                orders.reverse();
            }
        }
    }
    let items: Vec<Value> =
        orders[page_range(orders.len(), page, size)].iter().map(|o| views::order(o, &app.base_url)).collect();
    Ok((page_headers(orders.len(), page, size), axum::Json(Value::Array(items))).into_response())
}

#[derive(Deserialize)]
struct AdditionalOrder {
    products: Option<Vec<OrderedProduct>>,
    delivery_address: Option<Value>,
    customer_reference: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderedProduct {
    product_id: Option<u64>,
    quantity: Option<u64>,
}

/// `POST /v1/orders`: 201 with the new order's `Location`.
pub async fn create_order(State(app): State<App>, body: Bytes) -> R {
    let o: AdditionalOrder = parse_body(&body, Dialect::V1)?;
    let Some(products) = o.products.filter(|p| !p.is_empty()) else {
        return Err(Dialect::V1.error(StatusCode::BAD_REQUEST, "Missing attribute 'products'"));
    };
    let mut lines = Vec::new();
    for p in products {
        match (p.product_id, p.quantity) {
            (Some(id), Some(q)) if q >= 1 && [1001, 1002, 1003].contains(&id) => lines.push((id, q)),
            _ => return Err(Dialect::V1.error(StatusCode::BAD_REQUEST, "Invalid product or quantity")),
        }
    }
    let n = {
        let mut inner = app.state.write();
        let n = push_order(&mut inner, "ADDITIONAL_ORDER", Vec::new(), lines);
        if let Some(last) = inner.orders.last_mut() {
            last.status = "IN_PROGRESS".into();
            last.shipping_address = o.delivery_address;
            last.customer_reference = o.customer_reference;
        }
        n
    };
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("{}/v1/orders/{n}", app.base_url))]).into_response())
}

pub async fn get_order(State(app): State<App>, Path(number): Path<String>) -> R {
    let n: u64 =
        number.parse().map_err(|_| Dialect::V1.error(StatusCode::BAD_REQUEST, "order_number must be an integer"))?;
    let o = app
        .state
        .orders()
        .into_iter()
        .find(|o| o.number == n)
        .ok_or_else(|| Dialect::V1.error(StatusCode::NOT_FOUND, "Order not found"))?;
    Ok(json_ok(views::order(&o, &app.base_url)))
}

pub async fn products() -> Response {
    json_ok(views::products())
}

pub async fn list_support(State(app): State<App>, q: Query) -> R {
    let (page, size) = paging(&q, "pageSize", 1, 100, Dialect::V1)?;
    let all = app.state.service_requests();
    let items: Vec<Value> = all[page_range(all.len(), page, size)].iter().map(views::service_request).collect();
    Ok((page_headers(all.len(), page, size), axum::Json(Value::Array(items))).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewRequest {
    reply_to_mail: Option<String>,
    sender_name: Option<String>,
    subject: Option<String>,
    text: Option<String>,
}

pub async fn create_support(State(app): State<App>, body: Bytes) -> R {
    let r: NewRequest = parse_body(&body, Dialect::V1)?;
    let (Some(subject), Some(text)) = (r.subject, r.text) else {
        return Err(Dialect::V1.error(StatusCode::BAD_REQUEST, "Missing attributes 'subject' and 'text'"));
    };
    let mut inner = app.state.write();
    let case_id = (12 + inner.support.len()).to_string();
    inner.support.push(ServiceRequest {
        case_id,
        created: Utc::now(),
        status: "OPEN".into(),
        subject,
        text,
        reply_to: r.reply_to_mail,
        sender: r.sender_name,
        replies: Vec::new(),
        solved: None,
    });
    Ok(StatusCode::CREATED.into_response())
}
