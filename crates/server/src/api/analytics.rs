//! Fleet analytics: per-SIM quota forecast, SIMs at risk, usage heatmap and anomalies.

use super::Items;
use crate::app::AppState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::{Json, Query};
use axum::extract::{Path, State};
use chrono::{Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use simfleet_domain::alerts::{forecast, Forecast, ANOMALY_MIN_K, FORECAST_WINDOW_DAYS};
use simfleet_domain::AlertKind;
use simfleet_store::{Anomaly, FleetDay};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sim_forecast))
        .routes(routes!(sims_at_risk))
        .routes(routes!(usage_heatmap))
        .routes(routes!(anomalies))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastResponse {
    pub iccid: String,
    #[serde(flatten)]
    pub forecast: Forecast,
}

/// Where a SIM's data quota is heading: days left and the projected exhaustion date, with the
/// method stated.
#[utoipa::path(get, path = "/sims/{iccid}/forecast", tag = "stats", params(("iccid" = String, Path)),
    responses((status = 200, body = ForecastResponse), (status = 404, body = Problem)))]
async fn sim_forecast(
    _: Viewer,
    State(app): State<AppState>,
    Path(iccid): Path<String>,
) -> ApiResult<Json<ForecastResponse>> {
    let sim = app.store.get_sim(&iccid).await?;
    let quota = app
        .store
        .sim_quotas(sim.id)
        .await?
        .into_iter()
        .find(|q| q.kind == "data")
        .ok_or_else(|| ApiError::NotFound(format!("no data quota known for SIM {iccid} yet")))?;
    let today = Utc::now().date_naive();
    let usage = app.store.sim_usage(sim.id, today - Days::new(FORECAST_WINDOW_DAYS - 1), today).await?;
    let daily: Vec<i64> = usage.iter().map(|u| u.data_total).collect();
    Ok(Json(ForecastResponse { iccid: sim.iccid, forecast: forecast(quota.remaining, &daily, today) }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RiskQuery {
    /// Horizon in days (default 30).
    pub days: Option<i64>,
    /// At most this many SIMs (default 100, max 1000).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimAtRiskView {
    pub iccid: String,
    pub label: Option<String>,
    pub remaining_bytes: i64,
    pub daily_rate_bytes: f64,
    pub days_left: f64,
    pub exhaustion_date: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimsAtRisk {
    pub days: i64,
    pub method: String,
    pub items: Vec<SimAtRiskView>,
}

/// SIMs whose data quota runs out within `days` at their recent rate, soonest first.
#[utoipa::path(get, path = "/stats/sims-at-risk", tag = "stats", params(RiskQuery),
    responses((status = 200, body = SimsAtRisk), (status = 422, body = Problem)))]
async fn sims_at_risk(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<RiskQuery>,
) -> ApiResult<Json<SimsAtRisk>> {
    let days = q.days.unwrap_or(30);
    let limit = q.limit.unwrap_or(100);
    let mut v = Validator::default();
    if !(1..=3650).contains(&days) {
        v.add("days", "must be between 1 and 3650");
    }
    if !(1..=1000).contains(&limit) {
        v.add("limit", "must be between 1 and 1000");
    }
    v.finish()?;
    let today = Utc::now().date_naive();
    let rows = app.store.sims_at_risk(today, days, limit).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let rate = r.window_used as f64 / r.window_days.max(1) as f64;
            let days_left = r.remaining as f64 / rate;
            SimAtRiskView {
                iccid: r.iccid,
                label: r.label,
                remaining_bytes: r.remaining,
                daily_rate_bytes: rate,
                days_left,
                exhaustion_date: today.checked_add_days(Days::new(days_left.ceil() as u64)),
            }
        })
        .collect();
    let method = forecast(1, &[1], today).method;
    Ok(Json(SimsAtRisk { days, method, items }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeatmapQuery {
    /// Weeks back from the current one (default 12, max 52).
    pub weeks: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeatmapCell {
    /// Monday of the week.
    pub week: NaiveDate,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: u32,
    pub day: NaiveDate,
    pub data_total: i64,
    pub active_sims: i64,
}

/// Fleet data use per weekday × week, from the daily rollup (days without usage are 0).
#[utoipa::path(get, path = "/stats/usage-heatmap", tag = "stats", params(HeatmapQuery),
    responses((status = 200, body = Items<HeatmapCell>), (status = 422, body = Problem)))]
async fn usage_heatmap(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<HeatmapQuery>,
) -> ApiResult<Json<Items<HeatmapCell>>> {
    let weeks = q.weeks.unwrap_or(12);
    if !(1..=52).contains(&weeks) {
        return Err(ApiError::field("weeks", "must be between 1 and 52"));
    }
    let today = Utc::now().date_naive();
    let this_monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let from = this_monday - Days::new(7 * u64::from(weeks - 1));
    let rows = app.store.fleet_usage(from, today).await?;
    Ok(Json(Items { items: heatmap_cells(&rows, from, today) }))
}

/// One cell per day from `from` to `to`, from the daily rollup (days without usage are 0).
pub fn heatmap_cells(rows: &[FleetDay], from: NaiveDate, to: NaiveDate) -> Vec<HeatmapCell> {
    let by_day: std::collections::HashMap<NaiveDate, (i64, i64)> =
        rows.iter().map(|r| (r.day, (r.data_total, r.active_sims))).collect();
    from.iter_days()
        .take_while(|day| *day <= to)
        .map(|day| {
            let (data_total, active_sims) = by_day.get(&day).copied().unwrap_or((0, 0));
            let weekday = day.weekday().number_from_monday();
            HeatmapCell { week: day - Days::new(u64::from(weekday - 1)), weekday, day, data_total, active_sims }
        })
        .collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnomalyQuery {
    /// The day to examine (default yesterday, the last complete day).
    pub day: Option<NaiveDate>,
    /// The k of median + k × MAD, 2 to 1000 (default: the usage_anomaly rule's threshold).
    pub k: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnomalyView {
    pub iccid: String,
    pub day: NaiveDate,
    pub data_total: i64,
    /// Baseline over the 28 days before `day`.
    pub median: f64,
    pub mad: f64,
    pub baseline_days: i64,
    /// median + k × MAD: the day was above this.
    pub threshold: f64,
    pub k: i64,
}

/// SIMs whose data use on a day was far above their own robust baseline, with that baseline.
#[utoipa::path(get, path = "/stats/anomalies", tag = "stats", params(AnomalyQuery),
    responses((status = 200, body = Items<AnomalyView>), (status = 422, body = Problem)))]
async fn anomalies(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<AnomalyQuery>,
) -> ApiResult<Json<Items<AnomalyView>>> {
    let k = anomaly_k(&app, q.k).await?;
    let limit = q.limit.unwrap_or(100);
    let mut v = Validator::default();
    if !(ANOMALY_MIN_K..=1000).contains(&k) {
        v.add("k", format!("must be between {ANOMALY_MIN_K} and 1000"));
    }
    if !(1..=1000).contains(&limit) {
        v.add("limit", "must be between 1 and 1000");
    }
    v.finish()?;
    let day = q.day.unwrap_or_else(|| Utc::now().date_naive() - Days::new(1));
    let items = app.store.usage_anomalies(day, k, limit).await?.into_iter().map(|a| AnomalyView::new(a, k)).collect();
    Ok(Json(Items { items }))
}

/// `k` if given, else the usage_anomaly rule's threshold.
pub async fn anomaly_k(app: &AppState, k: Option<i64>) -> ApiResult<i64> {
    match k {
        Some(k) => Ok(k),
        None => Ok(app.store.alert_rule(AlertKind::UsageAnomaly).await?.threshold),
    }
}

impl AnomalyView {
    pub fn new(a: Anomaly, k: i64) -> Self {
        AnomalyView {
            iccid: a.iccid,
            day: a.day,
            data_total: a.data_total,
            median: a.median,
            mad: a.mad,
            baseline_days: a.baseline_days,
            threshold: a.threshold,
            k,
        }
    }
}
