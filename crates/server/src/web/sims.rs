//! `/sims`: the SIM list with filters, search, sort, keyset pages and bulk actions, and the
//! SIM detail page with lifecycle actions, PIN/PUK reveal, usage, quotas and history; the
//! provider's side (SMS, support, top-up, alerts, network events) comes from `sim_provider`.

use super::page::{opt, redirect_with, urlencode, Ctx, WebError};
use super::templates::script_json;
use crate::api::sims::{parse_filter, reveal, SimListQuery, SimView};
use crate::app::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Days, NaiveDate};
use minijinja::context;
use serde::{Deserialize, Serialize};
use simfleet_domain::{Action, Provider, Role, SimStatus, SimType};
use simfleet_store::{ActionRequest, Bucket, DailyUsage, PageRequest, SimFilter, SimSort, StoreError};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sims", get(list))
        .route("/sims/bulk", post(bulk))
        .route("/sims/{iccid}", get(detail))
        .route("/sims/{iccid}/actions/{action}", post(action))
        .route("/sims/{iccid}/secrets", post(secrets))
        .merge(super::sim_provider::router())
}

const PAGE_SIZE: u32 = 50;
/// Largest selection a bulk action takes (a page is 50; the limit guards hand-made posts).
const MAX_BULK: usize = 1000;

/// The list's query string as a form sends it: every field a string, empty meaning "any".
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(default)]
pub struct ListParams {
    pub status: String,
    #[serde(rename = "type")]
    pub sim_type: String,
    pub customer_id: String,
    pub tariff_plan_id: String,
    pub tag: String,
    pub provider: String,
    pub q: String,
    pub sort: String,
    pub cursor: String,
}

impl ListParams {
    fn filter(&self) -> Result<(SimFilter, SimSort), WebError> {
        let id = |s: &str, what: &str| -> Result<Option<i64>, WebError> {
            opt(s).map(|v| v.parse().map_err(|_| WebError::BadRequest(format!("{what} must be a number")))).transpose()
        };
        let q = SimListQuery {
            status: opt(&self.status),
            sim_type: opt(&self.sim_type),
            customer_id: id(&self.customer_id, "customer")?,
            tariff_plan_id: id(&self.tariff_plan_id, "tariff plan")?,
            tag: opt(&self.tag),
            provider: opt(&self.provider),
            q: opt(&self.q),
            sort: opt(&self.sort),
            limit: None,
            cursor: None,
            count: false,
        };
        Ok(parse_filter(&q)?)
    }

    /// The query string of this list without the cursor (for sort links and "first page").
    fn query(&self, cursor: Option<&str>) -> String {
        let mut pairs = vec![];
        for (k, v) in [
            ("status", &self.status),
            ("type", &self.sim_type),
            ("customer_id", &self.customer_id),
            ("tariff_plan_id", &self.tariff_plan_id),
            ("tag", &self.tag),
            ("provider", &self.provider),
            ("q", &self.q),
            ("sort", &self.sort),
        ] {
            if !v.trim().is_empty() {
                pairs.push(format!("{k}={}", urlencode(v.trim())));
            }
        }
        if let Some(c) = cursor {
            pairs.push(format!("cursor={}", urlencode(c)));
        }
        pairs.join("&")
    }

    fn is_filtered(&self) -> bool {
        !self.query(None).replace(&format!("sort={}", urlencode(self.sort.trim())), "").trim_matches('&').is_empty()
    }
}

#[derive(Serialize)]
struct Named {
    id: i64,
    name: String,
}

/// Customers and tariff plans for filters, pickers and name lookups.
async fn names(app: &AppState) -> Result<(Vec<Named>, Vec<Named>), WebError> {
    let page = PageRequest { limit: 1000, cursor: None, with_total: false };
    let (customers, plans) = tokio::try_join!(app.store.list_customers(None, page), app.store.list_tariff_plans(page))?;
    Ok((
        customers.items.into_iter().map(|c| Named { id: c.id, name: c.name }).collect(),
        plans.items.into_iter().map(|p| Named { id: p.id, name: p.name }).collect(),
    ))
}

fn lookup(list: &[Named]) -> HashMap<String, String> {
    list.iter().map(|n| (n.id.to_string(), n.name.clone())).collect()
}

async fn list(ctx: Ctx, State(app): State<AppState>, Query(params): Query<ListParams>) -> Result<Response, WebError> {
    let (filter, sort) = params.filter()?;
    let cursor = opt(&params.cursor);
    let page = PageRequest { limit: PAGE_SIZE, cursor: cursor.as_deref(), with_total: true };
    let (result, (customers, plans)) = tokio::try_join!(
        async { app.store.list_sims(&filter, sort, page).await.map_err(WebError::from) },
        names(&app)
    )?;
    let sims: Vec<SimView> = result.items.into_iter().map(SimView::from).collect();
    let next = result.next_cursor.as_deref().map(|c| params.query(Some(c)));
    let here = format!("/sims?{}", params.query(opt(&params.cursor).as_deref()));
    ctx.render(
        "sims/list.html",
        context! {
            nav => "sims",
            sims, total => result.total, next, first => (!params.cursor.is_empty()).then(|| params.query(None)),
            params => params.clone(), filtered => params.is_filtered(), here,
            customers => lookup(&customers), plans => lookup(&plans),
            customer_list => customers, plan_list => plans,
            statuses => SimStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            types => SimType::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            providers => Provider::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            export_query => params.query(None),
            payment_methods => super::sim_provider::payment_methods(),
        },
    )
}

fn back_to(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == "back")
        .map(|(_, v)| v.clone())
        .filter(|v| v.starts_with("/sims") && !v.starts_with("//"))
        .unwrap_or_else(|| "/sims".into())
}

/// One form for every bulk action: `iccid` repeated, `action`, and `tag` or `reason`.
async fn bulk(
    ctx: Ctx,
    State(app): State<AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let field =
        |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let iccids: Vec<String> = pairs.iter().filter(|(k, _)| k == "iccid").map(|(_, v)| v.clone()).collect();
    let back = back_to(&pairs);
    if iccids.is_empty() {
        return Ok(redirect_with(&back, "Select at least one SIM first."));
    }
    if iccids.len() > MAX_BULK {
        return Err(WebError::BadRequest(format!("select at most {MAX_BULK} SIMs at once")));
    }
    let action = field("action");
    if action == "export" {
        return export_selected(&app, &iccids).await;
    }
    if let Some(message) = super::sim_provider::bulk(&ctx, &app, &action, &iccids, field).await? {
        return Ok(redirect_with(&back, message));
    }
    ctx.require(Role::Operator)?;
    let actor = ctx.actor();
    let message = match action.as_str() {
        "suspend" | "activate" => {
            let act = if action == "suspend" { Action::Suspend } else { Action::Activate };
            let reason = opt(&field("reason"));
            let (mut done, mut skipped) = (0, 0);
            // Each SIM's transition is checked and recorded on its own: one may be ACTIVE and
            // the next already SUSPENDED, and that must not undo the others.
            for iccid in &iccids {
                let mut req = ActionRequest::new(act, &actor);
                req.note = reason.clone();
                match app.store.apply_action(iccid, &req).await {
                    Ok(_) => done += 1,
                    Err(StoreError::Rule(_) | StoreError::NotFound(_)) => skipped += 1,
                    Err(e) => return Err(e.into()),
                }
            }
            let verb = if act == Action::Suspend { "Suspended" } else { "Activated" };
            if skipped > 0 {
                format!("{verb} {done} SIM(s); {skipped} skipped because their status does not allow it.")
            } else {
                format!("{verb} {done} SIM(s).")
            }
        }
        "tag" => {
            let tag = field("tag");
            if tag.is_empty() || tag.chars().count() > 64 {
                return Ok(redirect_with(&back, "Enter a tag of 1 to 64 characters to add."));
            }
            let n = app.store.add_tag_to_sims(&iccids, &tag, &actor).await?;
            format!("Tagged {n} SIM(s) with “{tag}”.")
        }
        other => return Err(WebError::BadRequest(format!("unknown bulk action {other:?}"))),
    };
    Ok(redirect_with(&back, message))
}

async fn export_selected(app: &AppState, iccids: &[String]) -> Result<Response, WebError> {
    let mut out = csv_line(&[
        "iccid",
        "status",
        "type",
        "msisdn",
        "imsi",
        "imei",
        "label",
        "tags",
        "customer_id",
        "tariff_plan_id",
        "provider",
        "created_at",
    ]);
    for iccid in iccids {
        let s = match app.store.get_sim(iccid).await {
            Ok(s) => s,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let or = |v: &Option<String>| v.clone().unwrap_or_default();
        let id = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        out.push_str(&csv_line(&[
            &s.iccid,
            s.status.as_str(),
            s.sim_type.as_str(),
            &or(&s.msisdn),
            &or(&s.imsi),
            &or(&s.imei),
            &or(&s.label),
            &s.tags.join(";"),
            &id(s.customer_id),
            &id(s.tariff_plan_id),
            s.provider.as_str(),
            &s.created_at.to_rfc3339(),
        ]));
    }
    Ok(csv_response("simfleet-selected-sims.csv", out))
}

/// One CSV line; cells a spreadsheet would run as a formula are neutralised as in exports.
pub fn csv_line(cells: &[&str]) -> String {
    let cells: Vec<String> = cells
        .iter()
        .map(|c| {
            let c = simfleet_io::export::neutralise_csv_cell(c);
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.into_owned()
            }
        })
        .collect();
    format!("{}\r\n", cells.join(","))
}

pub fn csv_response(file_name: &str, body: String) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DetailParams {
    bucket: String,
}

#[derive(Serialize)]
struct UsagePoint {
    day: NaiveDate,
    rx: i64,
    tx: i64,
    total: i64,
    sms: i64,
}

/// Sums daily usage into day, week or month buckets.
fn bucketed(days: &[DailyUsage], bucket: Bucket) -> Vec<UsagePoint> {
    let mut out: Vec<UsagePoint> = Vec::new();
    for d in days {
        let start = simfleet_store::bucket_start(d.day, bucket);
        match out.last_mut() {
            Some(p) if p.day == start => {
                p.rx += d.data_rx;
                p.tx += d.data_tx;
                p.total += d.data_total;
                p.sms += d.sms_mo + d.sms_mt;
            }
            _ => out.push(UsagePoint {
                day: start,
                rx: d.data_rx,
                tx: d.data_tx,
                total: d.data_total,
                sms: d.sms_mo + d.sms_mt,
            }),
        }
    }
    out
}

#[derive(Serialize)]
struct QuotaGauge {
    kind: String,
    remaining: i64,
    total: Option<i64>,
    used_percent: Option<i64>,
    expiry_date: Option<NaiveDate>,
    /// Days until the quota runs out at the last seven days' pace.
    days_left: Option<i64>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

async fn detail(
    ctx: Ctx,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
    Query(p): Query<DetailParams>,
) -> Result<Response, WebError> {
    render_detail(&ctx, &app, &iccid, &p.bucket, None).await
}

async fn render_detail(
    ctx: &Ctx,
    app: &AppState,
    iccid: &str,
    bucket: &str,
    revealed: Option<crate::api::sims::SimSecrets>,
) -> Result<Response, WebError> {
    let sim = app.store.get_sim(iccid).await?;
    let today = chrono::Utc::now().date_naive();
    let events_page = PageRequest { limit: 100, cursor: None, with_total: false };
    let live = sim.provider != Provider::None;
    let (events, usage, quotas, connectivity, outbox, (customers, plans), data_limit) = tokio::try_join!(
        async { app.store.sim_events(iccid, events_page).await.map_err(WebError::from) },
        async { app.store.sim_usage(sim.id, today - Days::new(179), today).await.map_err(WebError::from) },
        async { app.store.sim_quotas(sim.id).await.map_err(WebError::from) },
        async { app.store.sim_connectivity(sim.id).await.map_err(WebError::from) },
        async { app.store.sim_outbox(sim.id).await.map_err(WebError::from) },
        names(app),
        async {
            Ok::<_, WebError>(if live { Some(super::sim_provider::data_traffic_limit(app, iccid).await) } else { None })
        },
    )?;
    let provider = super::sim_provider::sections(app, sim.id, &outbox).await?;
    let auto_top_up = super::sim_provider::auto_top_up_state(&outbox);
    let (bucket_kind, bucket) = match bucket {
        "week" => (Bucket::Week, "week"),
        "month" => (Bucket::Month, "month"),
        _ => (Bucket::Day, "day"),
    };
    let week_pace: i64 = {
        let recent: Vec<_> = usage.iter().rev().take(7).collect();
        if recent.is_empty() {
            0
        } else {
            recent.iter().map(|d| d.data_total).sum::<i64>() / recent.len() as i64
        }
    };
    let gauges: Vec<QuotaGauge> = quotas
        .into_iter()
        .map(|q| {
            let used_percent = q.total.filter(|t| *t > 0).map(|t| ((t - q.remaining).max(0) * 100 / t).min(100));
            let days_left = (q.kind == "data" && week_pace > 0).then(|| q.remaining / week_pace);
            QuotaGauge {
                kind: q.kind,
                remaining: q.remaining,
                total: q.total,
                used_percent,
                expiry_date: q.expiry_date,
                days_left,
                updated_at: q.updated_at,
            }
        })
        .collect();
    let points = bucketed(&usage, bucket_kind);
    let usage_total: i64 = usage.iter().map(|d| d.data_total).sum();
    let may_reveal = ctx.user.role.may_see_secrets() && (sim.pin_enc.is_some() || sim.puk_enc.is_some());
    let view = SimView::from(sim);
    let actions: Vec<&str> =
        if ctx.can_operate() { view.allowed_actions.iter().map(|a| a.as_str()).collect() } else { vec![] };
    let events: Vec<crate::api::sims::EventView> = events.items.into_iter().map(Into::into).collect();
    let outbox: Vec<_> = outbox
        .into_iter()
        .map(|o| {
            // A delivered top-up names the order it created.
            let order_number = o
                .result
                .as_deref()
                .filter(|_| o.action == "top_up" && o.status == "done")
                .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                .and_then(|r| r["order_number"].as_i64());
            serde_json::json!({ "action": o.action, "status": o.status, "attempts": o.attempts, "last_error": o.last_error, "created_at": o.created_at, "order_number": order_number })
        })
        .collect();
    ctx.render(
        "sims/detail.html",
        context! {
            nav => "sims",
            customer_name => view.customer_id.and_then(|id| customers.iter().find(|c| c.id == id).map(|c| c.name.clone())),
            plan_name => view.tariff_plan_id.and_then(|id| plans.iter().find(|c| c.id == id).map(|c| c.name.clone())),
            sim => view, actions, may_reveal, revealed,
            customer_list => customers,
            events, gauges, connectivity, outbox, bucket, data_limit, auto_top_up,
            has_usage => !points.is_empty(), usage_total, usage_days => usage.len(),
            usage => script_json(&points),
            ..provider,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActionForm {
    reason: String,
    activation_code: String,
    customer_id: String,
    new_iccid: String,
}

async fn action(
    ctx: Ctx,
    State(app): State<AppState>,
    Path((iccid, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let actor = ctx.actor();
    let back = format!("/sims/{}", urlencode(&iccid));
    let act = Action::ALL
        .into_iter()
        .find(|a| a.as_str() == action)
        .ok_or_else(|| WebError::NotFound(format!("no lifecycle action {action:?}")))?;
    if act == Action::Swap {
        let new_iccid = f.new_iccid.trim();
        if new_iccid.is_empty() {
            return Ok(redirect_with(&back, "Enter the ICCID of the AVAILABLE card that takes over."));
        }
        return match app.store.swap_sim(&iccid, new_iccid, opt(&f.reason).as_deref(), &actor).await {
            Ok((_, new)) => Ok(redirect_with(
                &format!("/sims/{}", urlencode(&new.iccid)),
                format!("Swapped: {} now carries the line.", new.iccid),
            )),
            Err(e) => {
                Ok(redirect_with(&back, format!("Swap refused: {}", crate::error::ApiError::from(e).problem().detail)))
            }
        };
    }
    let code = opt(&f.activation_code);
    let mut req = ActionRequest::new(act, &actor);
    req.note = opt(&f.reason);
    req.activation_code = code.as_deref();
    if act == Action::Reserve {
        req.customer_id = opt(&f.customer_id).and_then(|c| c.parse().ok());
    }
    match app.store.apply_action(&iccid, &req).await {
        Ok(sim) => Ok(redirect_with(
            &back,
            format!(
                "{} — the SIM is now {}.",
                super::templates::label(act.as_str()),
                super::templates::label(sim.status.as_str())
            ),
        )),
        Err(e @ (StoreError::Rule(_) | StoreError::Conflict { .. })) => {
            Ok(redirect_with(&back, format!("Not done: {}", crate::error::ApiError::from(e).problem().detail)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Reveals PIN and PUK through the same path as `GET /api/v1/sims/{iccid}/secrets`, which
/// records the reveal in the SIM's history. A POST, because it leaves a trace.
async fn secrets(ctx: Ctx, State(app): State<AppState>, Path(iccid): Path<String>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let revealed = reveal(&app, &iccid, &ctx.actor()).await?;
    render_detail(&ctx, &app, &iccid, "day", Some(revealed)).await
}
