//! `/login` and `/logout`. The session cookie holds a login token, so the dashboard shares
//! the API's lockout, expiry and revocation.

use super::csrf::{binding, PRE_SESSION_COOKIE};
use super::page::{clear_cookie, render_public};
use crate::api::auth::{try_login, LoginRequest};
use crate::app::AppState;
use crate::auth::{session_cookie, AuditActor, Caller, SESSION_COOKIE};
use crate::crypto::{new_token, token_hash};
use crate::error::ApiError;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use minijinja::context;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/login", get(login_page).post(login)).route("/logout", post(logout))
}

#[derive(Deserialize, Default)]
struct Next {
    next: Option<String>,
}

/// Only local paths: `/sims?x`, never `//evil.example` or `https://…`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.to_owned(),
        _ => "/overview".to_owned(),
    }
}

fn cookie_header(app: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"))
        .expect("cookie values are URL-safe ASCII")
}

fn login_form(app: &AppState, pre: &str, next: &str, username: &str, error: Option<String>) -> Response {
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    render_public(
        status,
        "login.html",
        context! { csrf => app.secrets.csrf_token(pre), next, username, error, provider => app.runner.is_some() },
    )
}

async fn login_page(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if matches!(caller, Caller::User(_)) {
        return Redirect::to(&next).into_response();
    }
    // A pre-session value binds the login form's CSRF token until there is a session.
    let (pre, fresh) = match binding(&headers).filter(|_| session_cookie(&headers).is_none()) {
        Some(p) => (p, false),
        None => (new_token("pre_"), true),
    };
    let mut res = login_form(&app, &pre, &next, "", None);
    if fresh {
        res.headers_mut().append(header::SET_COOKIE, cookie_header(&app, PRE_SESSION_COOKIE, &pre, 3600));
    }
    res
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(State(app): State<AppState>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let next = safe_next(f.next.as_deref());
    let actor = AuditActor(f.username.clone());
    let username = f.username.clone();
    let mut res = match try_login(&app, LoginRequest { username: f.username, password: f.password }).await {
        Ok(ok) => {
            let max_age = (ok.expires_at - simfleet_store::now()).num_seconds().max(0);
            let mut res = Redirect::to(&next).into_response();
            let h = res.headers_mut();
            h.append(header::SET_COOKIE, cookie_header(&app, SESSION_COOKIE, &ok.token, max_age));
            h.append(header::SET_COOKIE, clear_cookie(PRE_SESSION_COOKIE));
            res
        }
        Err(e) => {
            let message = match &e {
                ApiError::Unauthorized(_) => "Wrong username or password.".to_owned(),
                ApiError::TooManyRequests { .. } => {
                    "Too many failed attempts: this account is locked for a while. Try again later.".to_owned()
                }
                _ => return super::WebError::from(e).into_response(),
            };
            let pre = binding(&headers).unwrap_or_default();
            let mut res = login_form(&app, &pre, &next, &username, Some(message));
            if matches!(e, ApiError::TooManyRequests { .. }) {
                *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            }
            res
        }
    };
    res.extensions_mut().insert(actor);
    res
}

async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_cookie(&headers) {
        if let Err(e) = app.store.delete_login_token(&token_hash(&token)).await {
            return super::WebError::from(e).into_response();
        }
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie_header(&app, SESSION_COOKIE, "", 0));
    res
}
