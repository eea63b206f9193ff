//! `/auth/login`, `/auth/logout`, `/auth/me`.

use crate::app::AppState;
use crate::auth::{AuditActor, Authenticated, LOGIN_TOKEN_PREFIX};
use crate::crypto::{new_token, token_hash, verify_password};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Body;
use crate::extract::Json;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use simfleet_domain::Role;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(logout)).routes(routes!(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    pub username: String,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserInfo,
}

/// Exchange a username and password for a bearer token.
///
/// After repeated failures the account is locked for a while (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn login(State(app): State<AppState>, Body(req): Body<LoginRequest>) -> Response {
    let actor = AuditActor(req.username.clone());
    let mut res = match try_login(&app, req).await {
        Ok(ok) => Json(ok).into_response(),
        Err(e) => e.into_response(),
    };
    res.extensions_mut().insert(actor);
    res
}

pub(crate) async fn try_login(app: &AppState, req: LoginRequest) -> ApiResult<LoginResponse> {
    let user = app.store.user_by_name(req.username.trim()).await?;
    let now = simfleet_store::now();
    if let Some(until) = user.as_ref().and_then(|u| u.locked_until).filter(|t| *t > now) {
        return Err(ApiError::TooManyRequests {
            detail: "too many failed logins; this account is locked for a while".into(),
            retry_after_secs: (until - now).num_seconds().max(1) as u64,
        });
    }
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| app.decoy_hash.clone());
    let password = req.password;
    let valid =
        tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.map_err(anyhow::Error::from)?;
    let Some(user) = user else {
        return Err(ApiError::Unauthorized("invalid username or password".into()));
    };
    if !valid {
        let lock = TimeDelta::from_std(app.config.login_lock).unwrap_or(TimeDelta::minutes(15));
        app.store.record_login_failure(user.id, app.config.login_max_failures, lock).await?;
        return Err(ApiError::Unauthorized("invalid username or password".into()));
    }
    app.store.record_login_success(user.id).await?;
    let token = new_token(LOGIN_TOKEN_PREFIX);
    let expires_at = now + TimeDelta::from_std(app.config.token_ttl).unwrap_or(TimeDelta::hours(12));
    app.store.create_login_token(user.id, &token_hash(&token), expires_at).await?;
    Ok(LoginResponse { token, expires_at, user: UserInfo { username: user.username, role: user.role } })
}

/// Revoke the bearer token used for this request.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = Problem)))]
async fn logout(
    Authenticated(p): Authenticated,
    State(app): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    if p.api_key.is_some() {
        return Err(ApiError::BadRequest(
            "API keys are revoked with DELETE /api/v1/api-keys/{id}, not logged out".into(),
        ));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim().to_owned()));
    if let Some(token) = token {
        app.store.delete_login_token(&token_hash(&token)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub username: String,
    pub role: Role,
    /// Set when the request was made with an API key.
    pub api_key: Option<String>,
}

/// Who the caller is.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = MeResponse), (status = 401, body = Problem)))]
async fn me(Authenticated(p): Authenticated) -> Json<MeResponse> {
    Json(MeResponse { username: p.username, role: p.role, api_key: p.api_key.map(|(_, name)| name) })
}
