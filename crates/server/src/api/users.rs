//! `/users` (admin) and `/api-keys` (each user their own; admin all).

use super::Items;
use crate::app::AppState;
use crate::auth::{Admin, Authenticated, API_KEY_PREFIX};
use crate::crypto::{hash_password, new_token, token_hash};
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::Body;
use crate::extract::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_domain::Role;
use simfleet_store::{ApiKey, User};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(update_user, delete_user))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// Set while the account is locked after failed logins.
    pub locked_until: Option<DateTime<Utc>>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            username: u.username,
            role: u.role,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            locked_until: u.locked_until,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    /// At least 10 characters.
    pub password: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub role: Option<Role>,
    pub password: Option<String>,
}

pub const MIN_PASSWORD_LEN: usize = 10;

/// Checks a new username; the rule the CLI applies too.
pub fn check_username(name: &str) -> Result<(), &'static str> {
    let ok = (2..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err("must be 2 to 64 letters, digits or . _ - @")
    }
}

pub fn check_password(p: &str) -> Result<(), String> {
    if p.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    Ok(())
}

pub(crate) async fn hash(password: String) -> ApiResult<String> {
    Ok(tokio::task::spawn_blocking(move || hash_password(&password)).await.map_err(anyhow::Error::from)??)
}

#[utoipa::path(get, path = "/users", tag = "users", responses((status = 200, body = Items<UserView>), (status = 403, body = Problem)))]
async fn list_users(_: Admin, State(app): State<AppState>) -> ApiResult<Json<Items<UserView>>> {
    Ok(Json(Items { items: app.store.list_users().await?.into_iter().map(UserView::from).collect() }))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_user(
    _: Admin,
    State(app): State<AppState>,
    Body(req): Body<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let mut v = Validator::default();
    let username = req.username.trim().to_owned();
    if let Err(e) = check_username(&username) {
        v.add("username", e);
    }
    if let Err(e) = check_password(&req.password) {
        v.add("password", e);
    }
    v.finish()?;
    let user = app.store.create_user(&username, &hash(req.password).await?, req.role).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Change a user's role or password (also lifts a login lock).
#[utoipa::path(patch, path = "/users/{username}", tag = "users", params(("username" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_user(
    admin: Admin,
    State(app): State<AppState>,
    Path(username): Path<String>,
    Body(req): Body<UpdateUser>,
) -> ApiResult<Json<UserView>> {
    if let Some(p) = &req.password {
        check_password(p).map_err(|e| ApiError::field("password", e))?;
    }
    if username == admin.0.username && req.role.is_some_and(|r| r != Role::Admin) {
        return Err(ApiError::field("role", "you cannot take the admin role from yourself"));
    }
    let hashed = match req.password {
        Some(p) => Some(hash(p).await?),
        None => None,
    };
    Ok(Json(app.store.update_user(&username, req.role, hashed.as_deref()).await?.into()))
}

#[utoipa::path(delete, path = "/users/{username}", tag = "users", params(("username" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn delete_user(admin: Admin, State(app): State<AppState>, Path(username): Path<String>) -> ApiResult<StatusCode> {
    if username == admin.0.username {
        return Err(ApiError::field("username", "you cannot delete yourself"));
    }
    app.store.delete_user(&username).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            username: k.username,
            role: k.role,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    pub name: String,
    /// Defaults to your own role; cannot exceed it.
    pub role: Option<Role>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The secret, shown this once only. Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Your API keys (admin: everyone's).
#[utoipa::path(get, path = "/api-keys", tag = "users", responses((status = 200, body = Items<ApiKeyView>)))]
async fn list_keys(Authenticated(p): Authenticated, State(app): State<AppState>) -> ApiResult<Json<Items<ApiKeyView>>> {
    let owner = (p.role != Role::Admin).then_some(p.user_id);
    Ok(Json(Items { items: app.store.list_api_keys(owner).await?.into_iter().map(ApiKeyView::from).collect() }))
}

/// Create an API key for yourself. The secret is in this response only; simfleet keeps a hash.
#[utoipa::path(post, path = "/api-keys", tag = "users", request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 422, body = Problem)))]
async fn create_key(
    Authenticated(p): Authenticated,
    State(app): State<AppState>,
    Body(req): Body<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let mut v = Validator::default();
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        v.add("name", "must be 1 to 100 characters");
    }
    let role = req.role.unwrap_or(p.role);
    if !p.role.at_least(role) {
        v.add("role", format!("cannot exceed your own role ({})", p.role));
    }
    if req.expires_at.is_some_and(|t| t <= Utc::now()) {
        v.add("expires_at", "must be in the future");
    }
    v.finish()?;
    let secret = new_token(API_KEY_PREFIX);
    let prefix: String = secret.chars().take(API_KEY_PREFIX.len() + 6).collect();
    let key = app.store.create_api_key(p.user_id, name, &prefix, &token_hash(&secret), role, req.expires_at).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key: key.into(), secret })))
}

/// Revoke an API key (your own; admin: any).
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = ApiKeyView), (status = 404, body = Problem)))]
async fn revoke_key(
    Authenticated(p): Authenticated,
    State(app): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiKeyView>> {
    let key = app.store.get_api_key(id).await?;
    if key.user_id != p.user_id && p.role != Role::Admin {
        return Err(ApiError::NotFound("API key not found".into()));
    }
    Ok(Json(app.store.revoke_api_key(id).await?.into()))
}
