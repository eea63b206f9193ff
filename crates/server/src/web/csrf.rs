//! CSRF protection for every dashboard POST.
//!
//! The token is HMAC(secret key, session credential): the session cookie's login token, or
//! before login a random pre-session cookie. A form sends it as the `_csrf` field; a
//! multipart upload, whose body the guard does not parse, sends it as `?_csrf=` in its
//! action URL. Anything else is refused with 403 before a handler runs. The session cookie
//! is also `SameSite=Strict`, so a cross-site form would not carry it in the first place.

use super::page::render_public;
use crate::app::AppState;
use crate::auth::{cookie, session_cookie};
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use minijinja::context;

pub const PRE_SESSION_COOKIE: &str = "simfleet_pre";
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// The credential a form's token is bound to.
pub fn binding(headers: &HeaderMap) -> Option<String> {
    session_cookie(headers).or_else(|| cookie(headers, PRE_SESSION_COOKIE))
}

pub async fn guard(State(app): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(bound_to) = binding(req.headers()) else {
        return forbidden("Your session has no form token. Reload the page and try again.");
    };
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (req, token) = if is_form {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
            return forbidden("The form is too large.");
        };
        let token = form_field(&bytes, "_csrf").await;
        (Request::from_parts(parts, Body::from(bytes)), token)
    } else {
        let query = req.uri().query().unwrap_or("").to_owned();
        let token = form_field(query.as_bytes(), "_csrf").await;
        (req, token)
    };
    match token {
        Some(t) if app.secrets.csrf_valid(&bound_to, &t) => next.run(req).await,
        _ => forbidden("The form's security token is missing or wrong. Reload the page and submit it again."),
    }
}

async fn form_field(bytes: &[u8], name: &str) -> Option<String> {
    let req = Request::builder()
        .method(Method::POST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(bytes.to_vec()))
        .ok()?;
    // `Form` is axum's urlencoded parser; a request wrapper avoids another dependency.
    let parsed = axum::Form::<Vec<(String, String)>>::from_request(req, &()).await.ok()?;
    parsed.0.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn forbidden(detail: &str) -> Response {
    render_public(StatusCode::FORBIDDEN, "error.html", context! { status => 403, title => "Request refused", detail })
}
