//! `/support-tickets`: support requests with the provider, with their communication thread,
//! optionally about some SIMs.

use super::provider_actions::provider;
use super::{non_empty, Page, PageParams};
use crate::app::AppState;
use crate::auth::{Operator, Viewer};
use crate::error::{ApiResult, Problem, Validator};
use crate::extract::{Body, Json, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_store::{ProviderTicket, TicketRow};
use simfleet_sync::onence::models::NewServiceRequest;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tickets, create_ticket))
        .routes(routes!(refresh_tickets))
        .routes(routes!(get_ticket))
        .routes(routes!(sim_tickets))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    pub id: i64,
    /// The provider's case id (null until the provider listed the new case).
    pub case_id: Option<String>,
    pub subject: String,
    pub text: String,
    pub reply_to: Option<String>,
    /// OPEN, IN_PROGRESS or CLOSED.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub solved_at: Option<DateTime<Utc>>,
    /// The thread: `[{id, date, direction (IN/OUT), originator, subject, text, channel}]`.
    #[schema(value_type = Vec<Object>)]
    pub communications: Vec<serde_json::Value>,
    pub created_by: Option<String>,
    /// The SIMs it is about (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sims: Option<Vec<String>>,
    pub synced_at: DateTime<Utc>,
}

pub(crate) fn view(t: TicketRow, sims: Option<Vec<String>>) -> TicketView {
    TicketView {
        id: t.id,
        case_id: t.case_id,
        subject: t.subject,
        text: t.text,
        reply_to: t.reply_to,
        status: t.status,
        created_at: t.created_at,
        solved_at: t.solved_at,
        communications: serde_json::from_str(&t.communications).unwrap_or_default(),
        created_by: t.created_by,
        sims,
        synced_at: t.synced_at,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketsQuery {
    /// OPEN, IN_PROGRESS or CLOSED.
    pub status: Option<String>,
    /// Read the tickets from the provider first.
    #[serde(default)]
    pub refresh: bool,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

/// Support tickets, newest first.
#[utoipa::path(get, path = "/support-tickets", tag = "provider", params(TicketsQuery),
    responses((status = 200, body = Page<TicketView>)))]
async fn list_tickets(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<TicketsQuery>,
) -> ApiResult<Json<Page<TicketView>>> {
    if q.refresh {
        provider(&app)?.refresh_tickets().await?;
    }
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(app.store.list_tickets(q.status.as_deref(), None, page.request()?).await?, |t| {
        view(t, None)
    })))
}

/// Re-read the tickets and their threads from the provider (operator).
#[utoipa::path(post, path = "/support-tickets/refresh", tag = "provider",
    responses((status = 200, body = Page<TicketView>), (status = 403, body = Problem), (status = 503, body = Problem)))]
async fn refresh_tickets(_: Operator, State(app): State<AppState>) -> ApiResult<Json<Page<TicketView>>> {
    provider(&app)?.refresh_tickets().await?;
    let page = PageParams { limit: None, cursor: None, count: true };
    Ok(Json(Page::from_store(app.store.list_tickets(None, None, page.request()?).await?, |t| view(t, None))))
}

/// One ticket with its communication thread and SIMs.
#[utoipa::path(get, path = "/support-tickets/{id}", tag = "provider", params(("id" = i64, Path)),
    responses((status = 200, body = TicketView), (status = 404, body = Problem)))]
async fn get_ticket(_: Viewer, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<TicketView>> {
    let (t, sims) = app.store.get_ticket(id).await?;
    Ok(Json(view(t, Some(sims))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    pub subject: String,
    pub text: String,
    /// Where the provider's support answers.
    pub reply_to: Option<String>,
    /// SIMs the request is about; their ICCIDs are added to the text sent to the provider.
    #[serde(default)]
    pub iccids: Vec<String>,
}

/// Open a support request with the provider (operator). Answers 201 with the ticket.
#[utoipa::path(post, path = "/support-tickets", tag = "provider", request_body = NewTicket,
    responses((status = 201, body = TicketView), (status = 403, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn create_ticket(
    op: Operator,
    State(app): State<AppState>,
    Body(req): Body<NewTicket>,
) -> ApiResult<(StatusCode, Json<TicketView>)> {
    Ok((StatusCode::CREATED, Json(open_ticket(&app, req, &op.actor()).await?)))
}

/// Validates `req`, sends it to the provider and records it with the SIMs it is about.
pub(crate) async fn open_ticket(app: &AppState, req: NewTicket, actor: &str) -> ApiResult<TicketView> {
    let syncer = provider(app)?;
    let mut v = Validator::default();
    let subject = non_empty(Some(req.subject)).unwrap_or_default();
    let text = non_empty(Some(req.text)).unwrap_or_default();
    if subject.is_empty() || subject.chars().count() > 200 {
        v.add("subject", "must be 1 to 200 characters");
    }
    if text.is_empty() {
        v.add("text", "must not be empty");
    }
    let reply_to = non_empty(req.reply_to);
    if reply_to.as_deref().is_some_and(|r| !r.contains('@') || r.contains(char::is_whitespace)) {
        v.add("reply_to", "must be an e-mail address");
    }
    let mut sims = Vec::new();
    for iccid in &req.iccids {
        match app.store.get_sim(iccid).await {
            Ok(s) => sims.push(s),
            Err(simfleet_store::StoreError::NotFound(_)) => v.add("iccids", format!("unknown SIM {iccid}")),
            Err(e) => return Err(e.into()),
        }
    }
    v.finish()?;
    let full_text = if sims.is_empty() {
        text.clone()
    } else {
        let list: Vec<&str> = sims.iter().map(|s| s.iccid.as_str()).collect();
        format!("{text}\n\nSIMs: {}", list.join(", "))
    };
    let known: std::collections::HashSet<String> = app.store.ticket_case_ids().await?.into_iter().collect();
    let request = NewServiceRequest {
        reply_to_mail: reply_to.clone(),
        sender_name: Some(actor.to_owned()),
        subject: Some(subject.clone()),
        text: Some(full_text.clone()),
    };
    syncer.client().create_service_request(&request).await?;
    // The provider does not answer with the case id: find the new case in its list.
    let found = syncer.fetch_tickets().await.ok().and_then(|all| {
        all.into_iter().find(|t| !known.contains(&t.case_id) && t.subject == subject && t.text == full_text)
    });
    let case_known = found.is_some();
    let ticket = found.unwrap_or_else(|| ProviderTicket {
        case_id: String::new(),
        subject,
        text: full_text,
        status: "OPEN".into(),
        created_at: simfleet_store::now(),
        solved_at: None,
        communications: "[]".into(),
    });
    let sim_ids: Vec<i64> = sims.iter().map(|s| s.id).collect();
    let row = app.store.create_ticket(&ticket, reply_to.as_deref(), case_known, &sim_ids, actor).await?;
    let (row, sims) = app.store.get_ticket(row.id).await?;
    Ok(view(row, Some(sims)))
}

/// The support tickets about a SIM, newest first.
#[utoipa::path(get, path = "/sims/{iccid}/support-tickets", tag = "provider", params(("iccid" = String, Path), TicketsQuery),
    responses((status = 200, body = Page<TicketView>), (status = 404, body = Problem)))]
async fn sim_tickets(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(q): Query<TicketsQuery>,
) -> ApiResult<Json<Page<TicketView>>> {
    let sim = app.store.get_sim(&iccid).await?;
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(app.store.list_tickets(q.status.as_deref(), Some(sim.id), page.request()?).await?, |t| {
        view(t, None)
    })))
}
