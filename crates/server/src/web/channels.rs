//! `/alerts/channels` (admin, as in the API): e-mail and webhook notification channels, a test
//! send and the delivery log. Validation and sealing are the API's; passwords and webhook
//! secrets are write-only and never put into a page.

use super::page::{field_errors, redirect_with, Ctx, FieldErrors, WebError};
use crate::api::notifications::{channel_input, send_test, ChannelBody, ChannelView};
use crate::app::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Value};
use simfleet_domain::{AlertKind, Role, Severity};
use simfleet_store::{NotificationChannel, PageRequest};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts/channels", get(list).post(create))
        .route("/alerts/channels/new", get(new))
        .route("/alerts/channels/{id}", get(edit).post(update))
        .route("/alerts/channels/{id}/test", post(test))
        .route("/alerts/channels/{id}/delete", post(delete))
}

/// A posted form: repeated keys (the severity and kind checkboxes) are kept.
type Pairs = Vec<(String, String)>;

/// What the form shows: single values by field name, and the checked severities and kinds.
#[derive(Default)]
struct Values {
    fields: BTreeMap<String, String>,
    severities: Vec<String>,
    kinds: Vec<String>,
}

impl Values {
    /// The posted form without its secret, which is never sent back.
    fn from_form(f: &Pairs) -> Self {
        let mut v = Values::default();
        for (k, val) in f {
            match k.as_str() {
                "severities" => v.severities.push(val.clone()),
                "kinds" => v.kinds.push(val.clone()),
                "secret" | "_csrf" => {}
                _ => {
                    v.fields.insert(k.clone(), val.clone());
                }
            }
        }
        v
    }

    fn from_channel(c: &ChannelView) -> Self {
        let cfg = |k: &str| match &c.config[k] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
            _ => String::new(),
        };
        let mut fields = BTreeMap::from([
            ("name".to_owned(), c.name.clone()),
            ("enabled".to_owned(), if c.enabled { "on".to_owned() } else { String::new() }),
            ("digest_minutes".to_owned(), c.digest_minutes.map(|m| m.to_string()).unwrap_or_default()),
        ]);
        for k in ["host", "port", "security", "username", "from", "to", "url"] {
            fields.insert(format!("config.{k}"), cfg(k));
        }
        Values {
            fields,
            severities: c.severities.iter().map(|s| s.as_str().to_owned()).collect(),
            kinds: c.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }
}

fn one<'a>(f: &'a Pairs, key: &str) -> &'a str {
    f.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()).unwrap_or("")
}

/// The form as the API's channel body; numbers that do not parse are field errors.
fn body(kind: &str, f: &Pairs) -> (ChannelBody, FieldErrors) {
    let mut errors = FieldErrors::new();
    let opt = |k: &str| Some(one(f, k)).filter(|v| !v.is_empty()).map(str::to_owned);
    let config = if kind == "email" {
        let port = match one(f, "config.port").parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                errors.insert("config.port".into(), "must be a port number (1 to 65535)".into());
                0
            }
        };
        let to: Vec<&str> =
            one(f, "config.to").split([',', ';', '\n']).map(str::trim).filter(|t| !t.is_empty()).collect();
        json!({
            "host": one(f, "config.host"), "port": port, "security": one(f, "config.security"),
            "username": opt("config.username"), "from": one(f, "config.from"), "to": to,
        })
    } else {
        json!({ "url": one(f, "config.url") })
    };
    let digest_minutes = match one(f, "digest_minutes") {
        "" => None,
        v => match v.parse::<i32>() {
            Ok(m) => Some(m),
            Err(_) => {
                errors.insert("digest_minutes".into(), "must be a whole number".into());
                None
            }
        },
    };
    // Taken as typed: a secret may well begin or end with a space.
    let secret = f.iter().find(|(k, _)| k == "secret").map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let body = ChannelBody {
        name: one(f, "name").to_owned(),
        kind: kind.to_owned(),
        enabled: f.iter().any(|(k, _)| k == "enabled"),
        severities: f.iter().filter(|(k, _)| k == "severities").filter_map(|(_, v)| Severity::parse(v)).collect(),
        kinds: f.iter().filter(|(k, _)| k == "kinds").filter_map(|(_, v)| AlertKind::parse(v)).collect(),
        config,
        secret,
        digest_minutes,
    };
    (body, errors)
}

async fn list(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let channels: Vec<ChannelView> = app.store.channels().await?.into_iter().map(ChannelView::from).collect();
    ctx.render("alerts/channels.html", context! { nav => "alerts", tab => "channels", channels })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewQuery {
    kind: String,
}

fn channel_kind(kind: &str) -> Result<&'static str, WebError> {
    match kind {
        "email" | "" => Ok("email"),
        "webhook" => Ok("webhook"),
        other => Err(WebError::BadRequest(format!("no channel kind {other:?}: e-mail or webhook"))),
    }
}

async fn new(ctx: Ctx, Query(q): Query<NewQuery>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let kind = channel_kind(&q.kind)?;
    let mut values = Values::default();
    values.fields.insert("enabled".into(), "on".into());
    if kind == "email" {
        values.fields.insert("config.port".into(), "587".into());
        values.fields.insert("config.security".into(), "starttls".into());
    }
    let page = FormPage { kind, channel: None, deliveries: vec![] };
    render_form(&ctx, page, &values, &FieldErrors::new())
}

struct FormPage {
    kind: &'static str,
    channel: Option<ChannelView>,
    deliveries: Vec<simfleet_store::Delivery>,
}

fn render_form(ctx: &Ctx, p: FormPage, values: &Values, errors: &FieldErrors) -> Result<Response, WebError> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let action = p.channel.as_ref().map(|c| format!("/alerts/channels/{}", c.id)).unwrap_or("/alerts/channels".into());
    let title = match (&p.channel, p.kind) {
        (Some(c), _) => c.name.clone(),
        (None, "email") => "New e-mail channel".to_owned(),
        (None, _) => "New webhook".to_owned(),
    };
    ctx.render_status(
        status,
        "alerts/channel_form.html",
        context! {
            nav => "alerts", tab => "channels", kind => p.kind, action, title,
            has_secret => p.channel.as_ref().is_some_and(|c| c.has_secret),
            channel => p.channel, deliveries => p.deliveries,
            values => values.fields, checked_severities => values.severities, checked_kinds => values.kinds,
            errors, has_errors => !errors.is_empty(),
            severities => Severity::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            kinds => AlertKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        },
    )
}

fn kind_of(c: &NotificationChannel) -> &'static str {
    if c.kind == "webhook" {
        "webhook"
    } else {
        "email"
    }
}

async fn edit_page(
    ctx: &Ctx,
    app: &AppState,
    c: NotificationChannel,
    values: Option<Values>,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let log = app.store.channel_deliveries(c.id, PageRequest { limit: 25, cursor: None, with_total: false }).await?;
    let kind = kind_of(&c);
    let view = ChannelView::from(c);
    let values = values.unwrap_or_else(|| Values::from_channel(&view));
    render_form(ctx, FormPage { kind, channel: Some(view), deliveries: log.items }, &values, errors)
}

async fn edit(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let c = app.store.channel(id).await?;
    edit_page(&ctx, &app, c, None, &FieldErrors::new()).await
}

async fn create(ctx: Ctx, State(app): State<AppState>, Form(f): Form<Pairs>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let kind = channel_kind(one(&f, "kind"))?;
    let (body, mut errors) = body(kind, &f);
    if errors.is_empty() {
        let created = match channel_input(&app, body, true, false) {
            Ok(input) => app.store.create_channel(&input).await.map_err(Into::into),
            Err(e) => Err(e),
        };
        match created {
            Ok(c) => {
                return Ok(redirect_with(
                    &format!("/alerts/channels/{}", c.id),
                    format!("Channel “{}” created.", c.name),
                ))
            }
            Err(e) => errors = field_errors(e)?,
        }
    }
    render_form(&ctx, FormPage { kind, channel: None, deliveries: vec![] }, &Values::from_form(&f), &errors)
}

async fn update(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Form(f): Form<Pairs>,
) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let current = app.store.channel(id).await?;
    let (body, mut errors) = body(kind_of(&current), &f);
    if errors.is_empty() {
        let saved = match channel_input(&app, body, false, current.secret_enc.is_some()) {
            Ok(input) => app.store.update_channel(id, &input).await.map_err(Into::into),
            Err(e) => Err(e),
        };
        match saved {
            Ok(c) => {
                return Ok(redirect_with(&format!("/alerts/channels/{id}"), format!("Channel “{}” saved.", c.name)))
            }
            Err(e) => errors = field_errors(e)?,
        }
    }
    edit_page(&ctx, &app, current, Some(Values::from_form(&f)), &errors).await
}

async fn test(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let c = app.store.channel(id).await?;
    let result = send_test(&app, &c).await;
    let message = match result.error {
        None => format!("Test message sent through “{}”.", c.name),
        Some(e) => format!("The test message through “{}” failed: {e}", c.name),
    };
    Ok(redirect_with(&format!("/alerts/channels/{id}"), message))
}

async fn delete(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let c = app.store.channel(id).await?;
    app.store.delete_channel(id).await?;
    Ok(redirect_with("/alerts/channels", format!("Channel “{}” deleted.", c.name)))
}
