//! Who is calling, and what they may do.
//!
//! The [`authenticate`] middleware resolves the bearer credential once per request and
//! writes the audit row for mutating requests. Handlers state the role they need in their
//! signature with the [`Viewer`], [`Operator`] and [`Admin`] extractors.

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use simfleet_domain::Role;
use simfleet_store::{NewAuditEntry, Principal};
use std::net::SocketAddr;
use std::time::Duration;

pub const API_KEY_PREFIX: &str = "sfk_";
pub const LOGIN_TOKEN_PREFIX: &str = "sft_";
pub const SESSION_COOKIE: &str = "simfleet_session";

/// The outcome of looking at the request's credentials.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    /// A credential was given but is unknown, expired or revoked.
    Rejected,
    User(Principal),
}

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Caller::User(p) => Some(p),
            _ => None,
        }
    }
}

/// Set by the login handler on its response so that the audit row names who tried.
#[derive(Debug, Clone)]
pub struct AuditActor(pub String);

/// The name under which a principal appears in events and the audit log.
pub fn actor_name(p: &Principal) -> String {
    match &p.api_key {
        Some((_, key)) => format!("{} (key {key})", p.username),
        None => p.username.clone(),
    }
}

fn bearer(parts: &axum::http::HeaderMap) -> Option<String> {
    let value = parts.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

/// The value of the cookie `name`, if the request has one.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// How old a resolved credential may be when it only reads. A read-heavy client then costs
/// one credential lookup every two seconds instead of one per request. This process sees a
/// revocation or logout at once; other instances on the same database within this time.
/// Writes always check the database.
const READ_CREDENTIAL_MAX_AGE: Duration = Duration::from_secs(2);

async fn resolve(state: &AppState, token: &str, safe: bool) -> Result<Caller, ApiError> {
    let hash = crate::crypto::token_hash(token);
    let max_age = if safe { READ_CREDENTIAL_MAX_AGE } else { Duration::ZERO };
    let principal = if token.starts_with(API_KEY_PREFIX) {
        state.store.principal_for_api_key(&hash, max_age).await?
    } else if token.starts_with(LOGIN_TOKEN_PREFIX) {
        state.store.principal_for_login_token(&hash, max_age).await?
    } else {
        None
    };
    Ok(principal.map(Caller::User).unwrap_or(Caller::Rejected))
}

/// Resolves the caller, runs the request, and audits it when it tried to change something.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    // The dashboard's cookie authenticates pages and safe API reads only: a cookie is sent by
    // the browser on its own, so a mutating API call must carry its credential explicitly
    // (dashboard forms are guarded by CSRF tokens instead, see `web::csrf`).
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let cookie_allowed = safe || !req.uri().path().starts_with("/api/");
    let token = bearer(req.headers()).or_else(|| session_cookie(req.headers()).filter(|_| cookie_allowed));
    let caller = match token {
        Some(t) => resolve(&state, &t, safe).await?,
        None => Caller::Anonymous,
    };
    if let (Some(p), Some(user)) = (caller.principal(), req.extensions().get::<crate::observe::RequestUser>()) {
        user.set(actor_name(p));
    }
    req.extensions_mut().insert(caller.clone());

    let audited = !safe;
    if !audited {
        return Ok(next.run(req).await);
    }
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);

    let response = next.run(req).await;

    let (actor, role) = match (caller.principal(), response.extensions().get::<AuditActor>()) {
        (Some(p), _) => (Some(actor_name(p)), Some(p.role.as_str().to_owned())),
        (None, Some(AuditActor(name))) => (Some(name.clone()), None),
        (None, None) => (None, None),
    };
    let entry = NewAuditEntry {
        actor,
        role,
        method,
        path,
        route,
        status: i32::from(response.status().as_u16()),
        ip,
        request_id,
    };
    if let Err(e) = state.store.append_audit(&entry).await {
        // The change itself is done; losing its audit row must not go unnoticed.
        tracing::error!(error = %e, path = %entry.path, "could not write audit row");
    }
    Ok(response)
}

/// Any authenticated caller.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Caller>() {
            Some(Caller::User(p)) => Ok(Authenticated(p.clone())),
            Some(Caller::Rejected) => Err(ApiError::Unauthorized("the token is invalid, expired or revoked".into())),
            _ => Err(ApiError::Unauthorized("log in or send an API key as `Authorization: Bearer <token>`".into())),
        }
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Principal);

        impl $name {
            pub fn actor(&self) -> String {
                actor_name(&self.0)
            }
        }

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                let Authenticated(p) = Authenticated::from_request_parts(parts, state).await?;
                if !p.role.at_least($role) {
                    return Err(ApiError::Forbidden(format!(
                        "this needs the {} role; you are {}",
                        $role.as_str(),
                        p.role.as_str()
                    )));
                }
                Ok($name(p))
            }
        }
    };
}

role_extractor!(
    /// Any role: read access.
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// Operator or admin: inventory changes.
    Operator,
    Role::Operator
);
role_extractor!(
    /// Admin only.
    Admin,
    Role::Admin
);
