//! `/provider/support`: support requests with the provider: the list with status filter, each
//! request with its communication thread, and the form that opens one (optionally about SIMs,
//! prefilled from a SIM's page). Opening one goes through the API's own function.

use super::page::{field_errors, redirect_with, urlencode, Ctx, FieldErrors, WebError};
use super::provider::provider_message;
use crate::api::support::{self, NewTicket, TicketView};
use crate::app::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};
use simfleet_domain::Role;
use simfleet_store::PageRequest;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/provider/support", get(list).post(create))
        .route("/provider/support/new", get(new_form))
        .route("/provider/support/refresh", post(refresh))
        .route("/provider/support/{id}", get(detail))
}

const STATUSES: [&str; 3] = ["OPEN", "IN_PROGRESS", "CLOSED"];

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListParams {
    status: String,
    cursor: String,
}

async fn list(ctx: Ctx, State(app): State<AppState>, Query(q): Query<ListParams>) -> Result<Response, WebError> {
    let status = (!q.status.is_empty()).then_some(q.status.as_str());
    let cursor = (!q.cursor.is_empty()).then_some(q.cursor.as_str());
    let page = app.store.list_tickets(status, None, PageRequest { limit: 50, cursor, with_total: true }).await?;
    let next = page.next_cursor.as_deref().map(|c| format!("status={}&cursor={}", urlencode(&q.status), urlencode(c)));
    let mut tickets: Vec<TicketView> = Vec::with_capacity(page.items.len());
    for t in page.items {
        // The list shows the SIMs each request is about: one small lookup per row of a page.
        let (row, sims) = app.store.get_ticket(t.id).await?;
        tickets.push(support::view(row, Some(sims)));
    }
    ctx.render(
        "provider/support_list.html",
        context! {
            nav => "support", tickets, total => page.total, next, status => q.status, statuses => STATUSES,
            has_provider => app.runner.is_some(),
        },
    )
}

async fn refresh(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let result = match crate::api::provider_actions::provider(&app) {
        Ok(syncer) => syncer.refresh_tickets().await.map_err(crate::error::ApiError::from),
        Err(e) => Err(e),
    };
    let message = match result {
        Ok(_) => "Support requests and their threads read from the provider.".to_owned(),
        Err(e) => format!("Not refreshed. {}", provider_message(e)?),
    };
    Ok(redirect_with("/provider/support", message))
}

async fn detail(ctx: Ctx, State(app): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    let (row, sims) = app.store.get_ticket(id).await?;
    ctx.render("provider/support_detail.html", context! { nav => "support", ticket => support::view(row, Some(sims)) })
}

/// The request form; `iccids` is a list separated by commas, spaces or lines.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(default)]
pub struct TicketForm {
    pub subject: String,
    pub text: String,
    pub reply_to: String,
    pub iccids: String,
}

impl TicketForm {
    fn ticket(&self) -> NewTicket {
        let reply_to = self.reply_to.trim();
        NewTicket {
            subject: self.subject.clone(),
            text: self.text.clone(),
            reply_to: (!reply_to.is_empty()).then(|| reply_to.to_owned()),
            iccids: self
                .iccids
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

fn render_form(ctx: &Ctx, form: &TicketForm, errors: &FieldErrors) -> Result<Response, WebError> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    ctx.render_status(status, "provider/support_new.html", context! { nav => "support", form, errors })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewParams {
    iccid: String,
}

async fn new_form(ctx: Ctx, Query(q): Query<NewParams>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    render_form(&ctx, &TicketForm { iccids: q.iccid, ..TicketForm::default() }, &FieldErrors::new())
}

async fn create(ctx: Ctx, State(app): State<AppState>, Form(form): Form<TicketForm>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    match support::open_ticket(&app, form.ticket(), &ctx.actor()).await {
        Ok(t) => {
            let case = t.case_id.as_deref().map(|c| format!(" as case {c}")).unwrap_or_default();
            Ok(redirect_with(
                &format!("/provider/support/{}", t.id),
                format!("Support request sent to the provider{case}."),
            ))
        }
        Err(e @ crate::error::ApiError::Validation(_)) => render_form(&ctx, &form, &field_errors(e)?),
        Err(e) => {
            let message = provider_message(e)?;
            render_form(&ctx, &form, &FieldErrors::from([("general".to_owned(), message)]))
        }
    }
}
