//! What every page handler needs: the signed-in user ([`Ctx`]), rendering with the common
//! layout context, one-shot flash messages, and errors rendered as HTML pages.

use super::templates::env;
use crate::app::AppState;
use crate::auth::{cookie, session_cookie, Caller};
use crate::error::{ApiError, FieldError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Value};
use simfleet_domain::Role;
use simfleet_store::{Principal, StoreError};
use std::collections::BTreeMap;

const FLASH_COOKIE: &str = "simfleet_flash";

/// Blocks framing, inline scripts and every origin but our own.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The signed-in user of a page request, with the CSRF token for its forms.
pub struct Ctx {
    pub user: Principal,
    pub csrf: String,
    flash: Option<String>,
    path: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, WebError> {
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
        let Some(Caller::User(user)) = parts.extensions.get::<Caller>().cloned() else {
            return Err(WebError::Login(path));
        };
        let session = session_cookie(&parts.headers).unwrap_or_default();
        let flash = cookie(&parts.headers, FLASH_COOKIE).and_then(|v| decode_flash(&v));
        Ok(Ctx { csrf: app.secrets.csrf_token(&session), user, flash, path })
    }
}

impl Ctx {
    pub fn can_operate(&self) -> bool {
        self.user.role.at_least(Role::Operator)
    }

    pub fn is_admin(&self) -> bool {
        self.user.role.at_least(Role::Admin)
    }

    pub fn actor(&self) -> String {
        crate::auth::actor_name(&self.user)
    }

    pub fn require(&self, role: Role) -> Result<(), WebError> {
        if self.user.role.at_least(role) {
            Ok(())
        } else {
            Err(WebError::Forbidden(format!(
                "This page needs the {} role; you are {}.",
                role.as_str(),
                self.user.role.as_str()
            )))
        }
    }

    /// Renders `template` with the layout's context (user, CSRF token, navigation, flash).
    pub fn render(&self, template: &str, page: Value) -> Result<Response, WebError> {
        self.render_status(StatusCode::OK, template, page)
    }

    pub fn render_status(&self, status: StatusCode, template: &str, page: Value) -> Result<Response, WebError> {
        let layout = context! {
            user => context! { username => self.user.username, role => self.user.role.as_str() },
            csrf => self.csrf,
            can_operate => self.can_operate(),
            is_admin => self.is_admin(),
            flash => self.flash,
            path => self.path,
        };
        let html = env()
            .get_template(template)
            .and_then(|t| t.render(context! { ..layout, ..page }))
            .map_err(|e| WebError::Internal(anyhow::anyhow!("template {template}: {e:#}")))?;
        let mut res = (status, html_headers(), html).into_response();
        if self.flash.is_some() {
            res.headers_mut().append(header::SET_COOKIE, clear_cookie(FLASH_COOKIE));
        }
        Ok(res)
    }
}

fn html_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

/// Renders a template outside a session (login, error pages).
pub fn render_public(status: StatusCode, template: &str, ctx: Value) -> Response {
    match env().get_template(template).and_then(|t| t.render(ctx)) {
        Ok(html) => (status, html_headers(), html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, template, "cannot render template");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A redirect after a successful POST, with a message shown once on the next page.
pub fn redirect_with(to: &str, message: impl AsRef<str>) -> Response {
    let mut res = Redirect::to(to).into_response();
    let value = format!(
        "{FLASH_COOKIE}={}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict",
        hex::encode(message.as_ref().as_bytes())
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn decode_flash(v: &str) -> Option<String> {
    hex::decode(v).ok().and_then(|b| String::from_utf8(b).ok()).map(|s| s.chars().take(300).collect())
}

pub fn clear_cookie(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"))
        .expect("cookie names are ASCII")
}

/// Field name → message, for showing errors next to form fields.
pub type FieldErrors = BTreeMap<String, String>;

/// Splits an API error into field errors a form can show, or passes it on.
pub fn field_errors(e: ApiError) -> Result<FieldErrors, WebError> {
    let list: Vec<FieldError> = match e {
        ApiError::Validation(list) => list,
        ApiError::Conflict { detail, field: Some(field) } | ApiError::Unprocessable { detail, field: Some(field) } => {
            vec![FieldError { field, message: detail }]
        }
        other => return Err(other.into()),
    };
    let mut out = FieldErrors::new();
    for FieldError { field, message } in list {
        out.entry(field).or_insert(message);
    }
    Ok(out)
}

/// An error rendered as a page (or, when not signed in, a redirect to the login page).
#[derive(Debug)]
pub enum WebError {
    /// Not signed in: go to the login page and come back to this path.
    Login(String),
    Forbidden(String),
    NotFound(String),
    BadRequest(String),
    Conflict(String),
    Internal(anyhow::Error),
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        let detail = e.problem().detail;
        match e {
            ApiError::Unauthorized(_) => WebError::Login("/overview".into()),
            ApiError::Forbidden(_) => WebError::Forbidden(detail),
            ApiError::NotFound(_) => WebError::NotFound(detail),
            ApiError::Conflict { .. } | ApiError::Transition(_) => WebError::Conflict(detail),
            ApiError::Internal(e) => WebError::Internal(e),
            _ => WebError::BadRequest(detail),
        }
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match self {
            WebError::Login(next) => {
                let to = format!("/login?next={}", urlencode(&next));
                return Redirect::to(&to).into_response();
            }
            WebError::Forbidden(d) => (StatusCode::FORBIDDEN, "Not allowed", d),
            WebError::NotFound(d) => (StatusCode::NOT_FOUND, "Not found", d),
            WebError::BadRequest(d) => (StatusCode::BAD_REQUEST, "Something is wrong with the request", d),
            WebError::Conflict(d) => (StatusCode::CONFLICT, "That cannot be done now", d),
            WebError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "dashboard request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "The error has been logged.".to_owned())
            }
        };
        render_public(status, "error.html", context! { status => status.as_u16(), title, detail })
    }
}

/// A form field's text, trimmed; `None` when left empty.
pub fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Percent-encodes everything but unreserved characters.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
