//! `/overview`: KPI tiles and the fleet's charts, from aggregate queries only (no SIM rows
//! are loaded), with the chart data embedded in the page so that it takes one request.

use super::page::{Ctx, WebError};
use super::templates::script_json;
use crate::app::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Datelike, Days};
use minijinja::context;
use serde::Serialize;
use simfleet_domain::SimStatus;
use simfleet_store::{Bucket, FleetDay};

pub fn router() -> Router<AppState> {
    Router::new().route("/overview", get(overview))
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

async fn overview(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    let today = chrono::Utc::now().date_naive();
    let from = today - Days::new(89);
    let month_start = today.with_day(1).expect("day 1 exists");
    let store = &app.store;
    let (by_status, by_tariff, activations, usage, jobs, low_quota) = tokio::try_join!(
        store.sims_by_status(),
        store.sims_by_tariff(),
        store.activations_over_time(from, today, Bucket::Day),
        store.fleet_usage(from.min(month_start), today),
        store.last_job_runs(),
        store.sims_low_on_data(LOW_QUOTA_PERCENT),
    )?;
    let count = |s: SimStatus| by_status.iter().find(|(st, _)| *st == s).map(|(_, n)| *n).unwrap_or(0);
    let total: i64 = by_status.iter().map(|(_, n)| n).sum();
    let used_today = usage.iter().find(|d| d.day == today).map(|d| d.data_total).unwrap_or(0);
    let used_month: i64 = usage.iter().filter(|d| d.day >= month_start).map(|d| d.data_total).sum();
    let last_usage_day = usage.last().map(|d| d.day.to_string());
    let status_data: Vec<_> = by_status
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
        activations.iter().map(|b| serde_json::json!({ "day": b.period, "value": b.count })).collect();
    let trend_data = trend(&usage.iter().filter(|d| d.day >= from).cloned().collect::<Vec<_>>());
    let charts = serde_json::json!({
        "status": status_data, "tariff": tariff_data, "activations": activation_data, "usage": trend_data,
    });
    ctx.render(
        "overview.html",
        context! {
            nav => "overview",
            total, active => count(SimStatus::Active), suspended => count(SimStatus::Suspended),
            available => count(SimStatus::Available), reserved => count(SimStatus::Reserved),
            used_today, used_month, last_usage_day, low_quota, low_quota_percent => LOW_QUOTA_PERCENT,
            activations_90d => activations.iter().map(|b| b.count).sum::<i64>(),
            statuses => status_data, tariffs => tariff_data,
            has_usage => !usage.is_empty(),
            jobs => jobs, provider => app.runner.is_some(),
            charts => script_json(&charts),
        },
    )
}
