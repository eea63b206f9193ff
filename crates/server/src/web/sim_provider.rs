//! Provider actions on SIMs from the dashboard: SMS (send, cancel), top-up, connectivity reset
//! and extension, for one SIM from its page or for a selection from the SIM list. They queue
//! through the same functions as the API's bulk endpoints (the outbox delivers them). The SIM
//! page's one live provider read (the data-traffic-limit state) is here too.

use super::page::{opt, redirect_with, urlencode, Ctx, WebError};
use super::provider::provider_message;
use crate::api::provider_actions::{
    auto_top_up_sims, extend_sims, imei_lock_sims, reset_sims, sms_sims, top_up_sims, transfer_sims, SmsRequest,
    PAYMENT_METHODS,
};
use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::{Form, Router};
use chrono::NaiveDateTime;
use minijinja::context;
use serde::Deserialize;
use simfleet_domain::Role;
use simfleet_store::{AlertFilter, PageRequest, SmsFilter};
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sims/{iccid}/sms", post(send_sms))
        .route("/sims/{iccid}/sms/refresh", post(refresh_sms))
        .route("/sims/{iccid}/sms/{id}/cancel", post(cancel_sms))
        .route("/sims/{iccid}/topup", post(top_up))
        .route("/sims/{iccid}/reset-connectivity", post(reset))
        .route("/sims/{iccid}/imei-lock", post(imei_lock))
        .route("/sims/{iccid}/extend", post(extend))
        .route("/sims/{iccid}/auto-topup", post(auto_top_up))
}

/// Payment methods (value, label) for the top-up and extension forms; none chosen means the
/// provider's default.
pub fn payment_methods() -> Vec<(&'static str, String)> {
    PAYMENT_METHODS.iter().map(|m| (*m, payment_label(m))).collect()
}

fn payment_label(method: &str) -> String {
    match method {
        "banktransfer" => "Bank transfer".into(),
        "creditcard" => "Credit card".into(),
        "monthlyinvoice" => "Monthly invoice".into(),
        other => super::templates::label(other),
    }
}

fn back(iccid: &str, tab: &str) -> String {
    format!("/sims/{}#{tab}", urlencode(iccid))
}

/// The SMS form of the SIM page (and, with its text and expiry, of the SIM list). Only what a
/// form cannot carry as the API's types is read here; the API's own checks judge the rest.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SmsForm {
    pub payload: String,
    /// `datetime-local` (UTC): when the provider stops trying to deliver it.
    pub expiry: String,
    /// User data header, hex.
    pub udh: String,
    /// Data coding scheme.
    pub dcs: String,
}

impl SmsForm {
    pub fn request(&self) -> Result<SmsRequest, String> {
        let expiry_date = match opt(&self.expiry) {
            Some(e) => Some(
                NaiveDateTime::parse_from_str(&e, "%Y-%m-%dT%H:%M")
                    .map_err(|_| "expiry: must be a date and time".to_owned())?
                    .and_utc(),
            ),
            None => None,
        };
        let dcs = match opt(&self.dcs) {
            Some(d) => Some(d.parse::<i64>().map_err(|_| "dcs: must be a whole number".to_owned())?),
            None => None,
        };
        Ok(SmsRequest { payload: self.payload.clone(), udh: opt(&self.udh), dcs, expiry_date, source_address: None })
    }
}

/// What a queueing call leads to: a message for the next page.
fn queued(
    result: crate::error::ApiResult<Vec<crate::api::provider_data::ProviderActionView>>,
    done: impl Fn(usize) -> String,
) -> Result<String, WebError> {
    match result {
        Ok(items) => Ok(done(items.len())),
        Err(e) => Ok(format!("Not queued. {}", provider_message(e)?)),
    }
}

async fn send_sms(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Form(f): Form<SmsForm>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    app.store.get_sim(&iccid).await?;
    let message = match f.request() {
        Ok(sms) => queued(sms_sims(&app, std::slice::from_ref(&iccid), sms, &ctx.actor()).await, |_| {
            "SMS queued: it is listed with its delivery status once the provider accepted it.".to_owned()
        })?,
        Err(e) => format!("Not sent. {e}"),
    };
    Ok(redirect_with(&back(&iccid, "sms"), message))
}

/// Reads the SIM's messages from the provider now (a read, so every role may).
async fn refresh_sms(
    _signed_in: Ctx,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
) -> Result<Response, WebError> {
    let sim = app.store.get_sim(&iccid).await?;
    let message = match crate::api::sms::refresh(&app, &sim).await {
        Ok(()) => "SMS read from the provider.".to_owned(),
        Err(e) => format!("SMS not read. {}", provider_message(e)?),
    };
    Ok(redirect_with(&back(&iccid, "sms"), message))
}

async fn cancel_sms(
    ctx: Ctx,
    State(app): State<AppState>,
    Path((iccid, id)): Path<(String, i64)>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let message = match crate::api::sms::cancel(&app, &iccid, id, &ctx.actor()).await {
        Ok(()) => format!("SMS {id} cancelled at the provider."),
        Err(e) => format!("SMS {id} not cancelled. {}", provider_message(e)?),
    };
    Ok(redirect_with(&back(&iccid, "sms"), message))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PaymentForm {
    payment_method: String,
}

async fn top_up(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Form(f): Form<PaymentForm>,
) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    app.store.get_sim(&iccid).await?;
    let result = top_up_sims(&app, std::slice::from_ref(&iccid), opt(&f.payment_method), &ctx.actor()).await;
    let message = queued(result, |_| "Top-up queued: the provider confirms it with an order.".to_owned())?;
    Ok(redirect_with(&back(&iccid, "connectivity"), message))
}

async fn reset(ctx: Ctx, State(app): State<AppState>, Path(iccid): Path<String>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    app.store.get_sim(&iccid).await?;
    let result = reset_sims(&app, std::slice::from_ref(&iccid), &ctx.actor()).await;
    let message = queued(result, |_| "Connectivity reset queued: the device re-attaches once it is done.".to_owned())?;
    Ok(redirect_with(&back(&iccid, "connectivity"), message))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ImeiLockForm {
    /// `on` or `off`.
    lock: String,
}

async fn imei_lock(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Form(f): Form<ImeiLockForm>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    app.store.get_sim(&iccid).await?;
    let on = f.lock == "on";
    let result = imei_lock_sims(&app, std::slice::from_ref(&iccid), on, &ctx.actor()).await;
    let message = queued(result, |_| {
        if on {
            "IMEI lock queued: the SIM will work only in the device it is in now.".to_owned()
        } else {
            "Release of the IMEI lock queued: the SIM will work in any device.".to_owned()
        }
    })?;
    Ok(redirect_with(&back(&iccid, "details"), message))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AutoTopUpForm {
    /// `on` or `off`.
    auto_top_up: String,
}

async fn auto_top_up(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Form(f): Form<AutoTopUpForm>,
) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    app.store.get_sim(&iccid).await?;
    let on = f.auto_top_up == "on";
    let result = auto_top_up_sims(&app, std::slice::from_ref(&iccid), on, &ctx.actor()).await;
    let message = queued(result, |_| {
        if on {
            "Automatic top-up queued: the provider tops the SIM up when its volume runs out (invoiced).".to_owned()
        } else {
            "Turning automatic top-up off queued.".to_owned()
        }
    })?;
    Ok(redirect_with(&back(&iccid, "details"), message))
}

/// The SIM's automatic top-up as last set through simfleet (the provider does not report it):
/// `on`/`off` with who set it and when, or the change still on its way. `None` when never set.
pub fn auto_top_up_state(outbox: &[simfleet_store::OutboxItem]) -> Option<serde_json::Value> {
    let item = outbox.iter().find(|o| o.action == "set_auto_top_up" && o.status != "failed")?;
    let enabled = serde_json::from_str::<serde_json::Value>(&item.payload).ok()?["enabled"].as_bool()?;
    Some(serde_json::json!({
        "enabled": enabled,
        "pending": item.status == "pending",
        "by": item.requested_by,
        "at": item.done_at.unwrap_or(item.created_at),
    }))
}

async fn extend(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Form(f): Form<PaymentForm>,
) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    app.store.get_sim(&iccid).await?;
    let result = extend_sims(&app, std::slice::from_ref(&iccid), None, opt(&f.payment_method), &ctx.actor()).await;
    let message = queued(result, |_| {
        "Extension queued: the provider renews the SIM's lifetime and volume (invoiced).".to_owned()
    })?;
    Ok(redirect_with(&back(&iccid, "connectivity"), message))
}

/// A bulk action of the SIM list that goes to the provider, or `None` when `action` is not one.
pub async fn bulk(
    ctx: &Ctx,
    app: &AppState,
    action: &str,
    iccids: &[String],
    field: impl Fn(&str) -> String,
) -> Result<Option<String>, WebError> {
    let actor = ctx.actor();
    let message = match action {
        "topup" => {
            ctx.require(Role::Admin)?;
            let result = top_up_sims(app, iccids, opt(&field("payment_method")), &actor).await;
            queued(result, |n| format!("Top-up queued for {n} SIM(s); the provider confirms each with an order."))?
        }
        "auto-topup-on" | "auto-topup-off" => {
            ctx.require(Role::Admin)?;
            let on = action == "auto-topup-on";
            let result = auto_top_up_sims(app, iccids, on, &actor).await;
            queued(result, |n| format!("Automatic top-up {} queued for {n} SIM(s).", if on { "on" } else { "off" }))?
        }
        "reset-connectivity" => {
            ctx.require(Role::Operator)?;
            queued(reset_sims(app, iccids, &actor).await, |n| format!("Connectivity reset queued for {n} SIM(s)."))?
        }
        "transfer" => {
            ctx.require(Role::Admin)?;
            let Ok(target) = field("target_organisation").parse::<i64>() else {
                return Ok(Some("Enter the provider's id of the organisation that receives the SIMs.".to_owned()));
            };
            let result = transfer_sims(app, iccids, target, &actor).await;
            queued(result, |n| format!("Transfer of {n} SIM(s) to organisation {target} queued."))?
        }
        "extend" => {
            ctx.require(Role::Admin)?;
            let result = extend_sims(app, iccids, None, opt(&field("payment_method")), &actor).await;
            queued(result, |n| format!("Extension queued for {n} SIM(s); the provider renews each (invoiced)."))?
        }
        "sms" => {
            ctx.require(Role::Operator)?;
            let form = SmsForm { payload: field("payload"), expiry: field("expiry"), ..SmsForm::default() };
            match form.request() {
                Ok(sms) => queued(sms_sims(app, iccids, sms, &actor).await, |n| format!("SMS queued for {n} SIM(s)."))?,
                Err(e) => format!("Not sent. {e}"),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(message))
}

/// The SIM page's provider sections: SMS (with those still queued), support requests, alerts,
/// network events, and whether the provider reported the SIM expired.
pub async fn sections(
    app: &AppState,
    sim_id: i64,
    outbox: &[simfleet_store::OutboxItem],
) -> Result<minijinja::Value, WebError> {
    let page = |limit| PageRequest { limit, cursor: None, with_total: false };
    let sms_filter = SmsFilter { sim_id: Some(sim_id), ..SmsFilter::default() };
    let alert_filter = AlertFilter { sim_id: Some(sim_id), ..AlertFilter::default() };
    let (sms, tickets, alerts, network) = tokio::try_join!(
        app.store.list_sms(&sms_filter, page(50)),
        app.store.list_tickets(None, Some(sim_id), page(20)),
        app.store.list_alerts(&alert_filter, page(20)),
        app.store.sim_network_events(sim_id, page(20)),
    )?;
    let queued_sms: Vec<_> = outbox
        .iter()
        .filter(|o| o.action == "send_sms" && o.status != "done")
        .map(|o| {
            let payload: serde_json::Value = serde_json::from_str(&o.payload).unwrap_or_default();
            let text = &payload["payload"];
            serde_json::json!({ "payload": text, "status": o.status, "created_at": o.created_at, "last_error": o.last_error })
        })
        .collect();
    let sms: Vec<crate::api::sms::SmsView> = sms.items.into_iter().map(Into::into).collect();
    let tickets: Vec<_> = tickets.items.into_iter().map(|t| crate::api::support::view(t, None)).collect();
    Ok(context! {
        sms, queued_sms, tickets, alerts => alerts.items, network_events => network.items,
        expiry => super::sim_provider::expiry_state(outbox),
        payment_methods => super::sim_provider::payment_methods(),
    })
}

/// Whether the provider answered that this SIM expired, with no extension asked for since
/// (actions newest first).
pub fn expiry_state(outbox: &[simfleet_store::OutboxItem]) -> Option<&'static str> {
    for o in outbox {
        if o.action == "extend" && o.status != "failed" {
            return (o.status == "pending").then_some("extension_pending");
        }
        if o.status == "failed" && o.error_kind.as_deref() == Some("sim-expired") {
            return Some("expired");
        }
    }
    None
}

/// How long the SIM page waits for the provider's live answer before it says so and renders.
const LIVE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the SIM reached the account's monthly data limit, read from the provider now as
/// `GET /api/v1/sims/{iccid}/data-traffic-limit` reads it: the provider's `REACHED` or
/// `NOT_REACHED`, or `not_reported`, `unreachable` (an outage, or no answer within
/// [`LIVE_TIMEOUT`]) or `not_configured`. Never an error: the page shows it as a short text.
pub async fn data_traffic_limit(app: &AppState, iccid: &str) -> String {
    if app.runner.is_none() {
        return "not_configured".to_owned();
    }
    let read = async {
        match crate::api::limits::data_traffic_limit_state(app, iccid).await {
            Ok(state) => state.unwrap_or_else(|| "not_reported".into()),
            Err(ApiError::Provider { slug: "provider-unavailable", .. }) => "unreachable".to_owned(),
            Err(e) => {
                tracing::debug!(iccid, error = ?e, "the provider gave no data-traffic-limit state");
                "not_reported".to_owned()
            }
        }
    };
    tokio::time::timeout(LIVE_TIMEOUT, read).await.unwrap_or_else(|_| "unreachable".to_owned())
}
