//! `/overview`: KPI tiles and the fleet's charts, from aggregate queries only (no SIM rows
//! are loaded), with the chart data embedded in the page so that it takes one request.

use super::page::{Ctx, WebError};
use super::templates::script_json;
use crate::app::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, Days};
use minijinja::context;
use serde::Serialize;
use simfleet_domain::SimStatus;
use simfleet_store::{Bucket, FleetDay};

pub fn router() -> Router<AppState> {
    Router::new().route("/overview", get(overview)).route("/overview.json", get(overview_json))
}

/// Share of the data quota below which an active SIM counts as at risk.
const LOW_QUOTA_PERCENT: i64 = 10;

#[derive(Serialize)]
pub struct TrendPoint {
    pub day: chrono::NaiveDate,
    pub value: i64,
    /// Mean of this day and the six before it that are in the series.
    pub avg7: i64,
}

/// Daily data volume with a trailing 7-day moving average.
pub fn trend(days: &[FleetDay]) -> Vec<TrendPoint> {
    days.iter()
        .enumerate()
        .map(|(i, d)| {
            let window = &days[i.saturating_sub(6)..=i];
            let avg7 = window.iter().map(|w| w.data_total).sum::<i64>() / window.len() as i64;
            TrendPoint { day: d.day, value: d.data_total, avg7 }
        })
        .collect()
}

/// Open and acknowledged alerts per severity.
#[derive(Serialize, Default)]
pub struct AlertCounts {
    pub critical: i64,
    pub warning: i64,
    pub info: i64,
    /// Of those not resolved, how many someone has acknowledged.
    pub acknowledged: i64,
}

/// The overview's key figures: what the tiles show and `/overview.json` returns.
#[derive(Serialize)]
pub struct Kpis {
    pub total: i64,
    pub active: i64,
    pub active_percent: Option<i64>,
    pub suspended: i64,
    pub available: i64,
    pub reserved: i64,
    pub used_today: i64,
    pub used_month: i64,
    pub activations_90d: i64,
    pub low_quota: i64,
    pub alerts: AlertCounts,
}

/// What both the page and its JSON need, from aggregate queries.
struct Facts {
    by_status: Vec<(SimStatus, i64)>,
    activations: Vec<simfleet_store::BucketCount>,
    usage: Vec<FleetDay>,
    jobs: Vec<simfleet_store::JobRun>,
    kpis: Kpis,
}

fn alert_counts(rows: &[(String, String, i64)]) -> AlertCounts {
    let mut c = AlertCounts::default();
    for (severity, state, n) in rows {
        if state == "acknowledged" {
            c.acknowledged += n;
            continue;
        }
        match severity.as_str() {
            "critical" => c.critical += n,
            "warning" => c.warning += n,
            _ => c.info += n,
        }
    }
    c
}

async fn facts(app: &AppState) -> Result<Facts, WebError> {
    let today = chrono::Utc::now().date_naive();
    let from = today - Days::new(89);
    let month_start = today.with_day(1).expect("day 1 exists");
    let store = &app.store;
    let (by_status, activations, usage, jobs, low_quota, alerts) = tokio::try_join!(
        store.sims_by_status(),
        store.activations_over_time(from, today, Bucket::Day),
        store.fleet_usage(from.min(month_start), today),
        store.last_job_runs(),
        store.sims_low_on_data(LOW_QUOTA_PERCENT),
        store.active_alert_counts(),
    )?;
    let count = |s: SimStatus| by_status.iter().find(|(st, _)| *st == s).map(|(_, n)| *n).unwrap_or(0);
    let total: i64 = by_status.iter().map(|(_, n)| n).sum();
    let active = count(SimStatus::Active);
    let kpis = Kpis {
        total,
        active,
        active_percent: (total > 0).then(|| (active as f64 * 100.0 / total as f64).round() as i64),
        suspended: count(SimStatus::Suspended),
        available: count(SimStatus::Available),
        reserved: count(SimStatus::Reserved),
        used_today: usage.iter().find(|d| d.day == today).map(|d| d.data_total).unwrap_or(0),
        used_month: usage.iter().filter(|d| d.day >= month_start).map(|d| d.data_total).sum(),
        activations_90d: activations.iter().map(|b| b.count).sum(),
        low_quota,
        alerts: alert_counts(&alerts),
    };
    let usage = usage.into_iter().filter(|d| d.day >= from).collect();
    Ok(Facts { by_status, activations, usage, jobs, kpis })
}

async fn overview(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    let (f, by_tariff) = tokio::try_join!(facts(&app), async { Ok(app.store.sims_by_tariff().await?) })?;
    let status_data: Vec<_> = f
        .by_status
        .iter()
        .map(
            |(s, n)| serde_json::json!({ "key": s.as_str(), "label": super::templates::label(s.as_str()), "value": n }),
        )
        .collect();
    let tariff_data: Vec<_> = by_tariff
        .iter()
        .map(|t| serde_json::json!({ "label": t.name.clone().unwrap_or_else(|| "No plan".into()), "value": t.count, "id": t.tariff_plan_id }))
        .collect();
    let activation_data: Vec<_> =
        f.activations.iter().map(|b| serde_json::json!({ "day": b.period, "value": b.count })).collect();
    let charts = serde_json::json!({
        "status": status_data, "tariff": tariff_data, "activations": activation_data, "usage": trend(&f.usage),
    });
    ctx.render(
        "overview.html",
        context! {
            nav => "overview",
            kpis => f.kpis, low_quota_percent => LOW_QUOTA_PERCENT,
            last_usage_day => f.usage.last().map(|d| d.day.to_string()),
            statuses => status_data, tariffs => tariff_data,
            has_usage => !f.usage.is_empty(),
            jobs => f.jobs, provider => app.runner.is_some(),
            charts => script_json(&charts),
        },
    )
}

/// A sync run as the overview's table shows it.
#[derive(Serialize)]
struct JobRow {
    job: String,
    label: String,
    status: String,
    status_label: String,
    started_at: chrono::DateTime<chrono::Utc>,
    items_ok: i64,
    items_failed: i64,
}

/// `/overview.json`: the tiles' figures and the last sync runs, for the page's live refresh.
/// Not signed in is a 401 here rather than a redirect to the login page.
async fn overview_json(ctx: Result<Ctx, WebError>, State(app): State<AppState>) -> Response {
    if ctx.is_err() {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "error": "not signed in" }))).into_response();
    }
    match facts(&app).await {
        Ok(f) => {
            let label = super::templates::label;
            let jobs: Vec<JobRow> = f
                .jobs
                .into_iter()
                .map(|r| JobRow {
                    label: label(&r.job),
                    status_label: label(&r.status),
                    job: r.job,
                    status: r.status,
                    started_at: r.started_at,
                    items_ok: r.items_ok,
                    items_failed: r.items_failed,
                })
                .collect();
            let mut res = Json(serde_json::json!({ "kpis": f.kpis, "jobs": jobs })).into_response();
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => e.into_response(),
    }
}
