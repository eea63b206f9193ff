//! `/sms`: the SMS of the whole fleet, to and from the devices, newest first as last synced,
//! with direction, status and SIM filters and keyset pages. The same store query as
//! `GET /api/v1/sms`; sending and cancelling stay on each SIM's page.

use super::page::{opt, urlencode, Ctx, WebError};
use crate::api::sms::{sms_filter, SmsView};
use crate::app::AppState;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde::{Deserialize, Serialize};
use simfleet_store::PageRequest;

pub fn router() -> Router<AppState> {
    Router::new().route("/sms", get(list))
}

const PAGE_SIZE: u32 = 50;
const DIRECTIONS: [&str; 2] = ["MO", "MT"];
/// The delivery statuses the provider reports.
const STATUSES: [&str; 6] = ["PENDING", "BUFFERED", "DELIVERED", "FAILED", "EXPIRED", "CANCELLED"];

/// The list's query string as its filter form sends it: empty means "any".
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(default)]
struct SmsParams {
    direction: String,
    status: String,
    iccid: String,
    cursor: String,
}

impl SmsParams {
    fn is_filtered(&self) -> bool {
        !(self.direction.is_empty() && self.status.is_empty() && self.iccid.trim().is_empty())
    }

    fn link(&self, cursor: Option<&str>) -> String {
        format!(
            "direction={}&status={}&iccid={}&cursor={}",
            urlencode(&self.direction),
            urlencode(&self.status),
            urlencode(self.iccid.trim()),
            urlencode(cursor.unwrap_or_default())
        )
    }
}

async fn list(ctx: Ctx, State(app): State<AppState>, Query(p): Query<SmsParams>) -> Result<Response, WebError> {
    let sim_id = match opt(&p.iccid) {
        Some(iccid) => Some(app.store.get_sim(&iccid).await?.id),
        None => None,
    };
    let filter = sms_filter(sim_id, opt(&p.direction), opt(&p.status))?;
    let cursor = opt(&p.cursor);
    let page = PageRequest { limit: PAGE_SIZE, cursor: cursor.as_deref(), with_total: true };
    let result = app.store.list_sms(&filter, page).await?;
    let next = result.next_cursor.as_deref().map(|c| p.link(Some(c)));
    let first = cursor.is_some().then(|| p.link(None));
    let messages: Vec<SmsView> = result.items.into_iter().map(SmsView::from).collect();
    ctx.render(
        "provider/sms.html",
        context! {
            nav => "sms", messages, total => result.total, next, first, filtered => p.is_filtered(), params => p,
            directions => DIRECTIONS, statuses => STATUSES,
        },
    )
}
