//! `/notification-channels` (admin): e-mail and webhook channels, a test send, and the
//! delivery log. Passwords and webhook secrets are sealed at rest and never returned.

use super::{Items, Page, PageParams};
use crate::app::AppState;
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::{Body, Json, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_domain::{AlertKind, Severity};
use simfleet_store::{ChannelInput, NotificationChannel};
use simfleet_sync::notify::{EmailConfig, WebhookConfig};
use simfleet_sync::Notifier;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, update_channel, delete_channel))
        .routes(routes!(test_channel))
        .routes(routes!(deliveries))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: i64,
    pub name: String,
    /// `email` or `webhook`.
    pub kind: String,
    pub enabled: bool,
    /// Only alerts of these severities; empty = all.
    pub severities: Vec<Severity>,
    /// Only alerts of these kinds; empty = all.
    pub kinds: Vec<AlertKind>,
    /// E-mail: `{host, port, security, username, from, to}`; webhook: `{url}`. No secrets.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// A password (e-mail) or signing secret (webhook) is stored; it is never shown.
    pub has_secret: bool,
    /// E-mail only: at most one message per this many minutes, summarising new alerts.
    pub digest_minutes: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<NotificationChannel> for ChannelView {
    fn from(c: NotificationChannel) -> Self {
        ChannelView {
            id: c.id,
            severities: c.severity_list().iter().filter_map(|s| Severity::parse(s)).collect(),
            kinds: c.kind_list().iter().filter_map(|k| AlertKind::parse(k)).collect(),
            config: serde_json::from_str(&c.config).unwrap_or_default(),
            has_secret: c.secret_enc.is_some(),
            name: c.name,
            kind: c.kind,
            enabled: c.enabled,
            digest_minutes: c.digest_minutes,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBody {
    pub name: String,
    /// `email` or `webhook`.
    pub kind: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub severities: Vec<Severity>,
    #[serde(default)]
    pub kinds: Vec<AlertKind>,
    /// E-mail: `{host, port, security: none|starttls|tls, username?, from, to: [..]}`; webhook: `{url}`.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// SMTP password or webhook signing secret (write-only). Omit on update to keep the stored one.
    pub secret: Option<String>,
    pub digest_minutes: Option<i32>,
}

impl std::fmt::Debug for ChannelBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelBody").field("name", &self.name).field("kind", &self.kind).finish_non_exhaustive()
    }
}

fn yes() -> bool {
    true
}

/// Validates a channel and seals its secret. `creating` demands a webhook secret.
pub fn channel_input(app: &AppState, body: ChannelBody, creating: bool, had_secret: bool) -> ApiResult<ChannelInput> {
    let mut v = Validator::default();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        v.add("name", "must be 1 to 100 characters");
    }
    let config = match body.kind.as_str() {
        "email" => match serde_json::from_value::<EmailConfig>(body.config.clone()) {
            Ok(c) => {
                if let Err((field, msg)) = c.validate() {
                    v.add(&format!("config.{field}"), msg);
                }
                if c.username.is_some() && body.secret.is_none() && !had_secret {
                    v.add("secret", "the SMTP password is required with a username");
                }
                serde_json::to_value(c).map_err(anyhow::Error::from)?
            }
            Err(e) => {
                v.add("config", format!("is not an e-mail configuration: {e}"));
                serde_json::Value::Null
            }
        },
        "webhook" => match serde_json::from_value::<WebhookConfig>(body.config.clone()) {
            Ok(c) => {
                if !(c.url.starts_with("http://") || c.url.starts_with("https://")) || reqwest_url_invalid(&c.url) {
                    v.add("config.url", "must be an http:// or https:// URL");
                }
                if creating && body.secret.as_deref().is_none_or(str::is_empty) {
                    v.add("secret", "a signing secret is required for webhooks");
                }
                serde_json::to_value(c).map_err(anyhow::Error::from)?
            }
            Err(e) => {
                v.add("config", format!("is not a webhook configuration: {e}"));
                serde_json::Value::Null
            }
        },
        _ => {
            v.add("kind", "must be email or webhook");
            serde_json::Value::Null
        }
    };
    if let Some(m) = body.digest_minutes {
        if body.kind != "email" {
            v.add("digest_minutes", "only e-mail channels have digests");
        } else if !(1..=10_080).contains(&m) {
            v.add("digest_minutes", "must be between 1 and 10080");
        }
    }
    v.finish()?;
    Ok(ChannelInput {
        name,
        kind: body.kind,
        enabled: body.enabled,
        severities: body.severities.iter().map(|s| s.as_str().to_owned()).collect(),
        kinds: body.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        config,
        secret_enc: body.secret.filter(|s| !s.is_empty()).map(|s| app.secrets.seal(&s)),
        digest_minutes: body.digest_minutes,
    })
}

fn reqwest_url_invalid(url: &str) -> bool {
    url.contains(char::is_whitespace) || url.split("://").nth(1).is_none_or(str::is_empty)
}

#[utoipa::path(get, path = "/notification-channels", tag = "alerts", responses((status = 200, body = Items<ChannelView>), (status = 403, body = Problem)))]
async fn list_channels(_: Admin, State(app): State<AppState>) -> ApiResult<Json<Items<ChannelView>>> {
    Ok(Json(Items { items: app.store.channels().await?.into_iter().map(ChannelView::from).collect() }))
}

/// Create a channel (admin).
#[utoipa::path(post, path = "/notification-channels", tag = "alerts", request_body = ChannelBody,
    responses((status = 201, body = ChannelView), (status = 422, body = Problem)))]
async fn create_channel(
    _: Admin,
    State(app): State<AppState>,
    Body(body): Body<ChannelBody>,
) -> ApiResult<(StatusCode, Json<ChannelView>)> {
    let input = channel_input(&app, body, true, false)?;
    Ok((StatusCode::CREATED, Json(app.store.create_channel(&input).await?.into())))
}

#[utoipa::path(get, path = "/notification-channels/{id}", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = ChannelView), (status = 404, body = Problem)))]
async fn get_channel(_: Admin, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<ChannelView>> {
    Ok(Json(app.store.channel(id).await?.into()))
}

/// Replace a channel's settings (admin); the stored secret stays unless `secret` is given.
#[utoipa::path(put, path = "/notification-channels/{id}", tag = "alerts", params(("id" = i64, Path)), request_body = ChannelBody,
    responses((status = 200, body = ChannelView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_channel(
    _: Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Body(body): Body<ChannelBody>,
) -> ApiResult<Json<ChannelView>> {
    let cur = app.store.channel(id).await?;
    let input = channel_input(&app, body, false, cur.secret_enc.is_some())?;
    Ok(Json(app.store.update_channel(id, &input).await?.into()))
}

/// Delete a channel and its pending notifications (admin).
#[utoipa::path(delete, path = "/notification-channels/{id}", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_channel(_: Admin, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    if !app.store.delete_channel(id).await? {
        return Err(ApiError::NotFound("notification channel not found".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub ok: bool,
    /// Why the message could not be sent.
    pub error: Option<String>,
}

/// Send a test message through the channel now and report the result (admin).
#[utoipa::path(post, path = "/notification-channels/{id}/test", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 200, body = TestResult), (status = 404, body = Problem)))]
async fn test_channel(_: Admin, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<TestResult>> {
    let channel = app.store.channel(id).await?;
    Ok(Json(send_test(&app, &channel).await))
}

/// Sends a test message through `channel` now; shared with the dashboard.
pub async fn send_test(app: &AppState, channel: &NotificationChannel) -> TestResult {
    let notifier = Notifier::new(app.store.clone(), Some(Arc::new(app.secrets.clone())));
    match notifier.send_test(channel).await {
        Ok(()) => TestResult { ok: true, error: None },
        Err(e) => TestResult { ok: false, error: Some(format!("{e:#}")) },
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub alert_id: i64,
    pub alert_kind: String,
    pub severity: String,
    pub iccid: Option<String>,
    /// `pending`, `delivered` or `failed` (gave up).
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The channel's delivery log, newest first (admin).
#[utoipa::path(get, path = "/notification-channels/{id}/deliveries", tag = "alerts", params(("id" = i64, Path), DeliveryQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = 404, body = Problem)))]
async fn deliveries(
    _: Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Page<DeliveryView>>> {
    app.store.channel(id).await?;
    let page = PageParams { limit: q.limit, cursor: q.cursor, count: false };
    Ok(Json(Page::from_store(app.store.channel_deliveries(id, page.request()?).await?, |d| DeliveryView {
        id: d.id,
        alert_id: d.alert_id,
        alert_kind: d.kind,
        severity: d.severity,
        iccid: d.iccid,
        status: d.status,
        attempts: d.attempts,
        last_error: d.last_error,
        next_attempt_at: d.next_attempt_at,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
    })))
}
