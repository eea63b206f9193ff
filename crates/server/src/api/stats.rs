//! `/stats/*`: aggregates for charts.

use super::Items;
use crate::app::AppState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::Json;
use crate::extract::Query;
use axum::extract::State;
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use simfleet_domain::SimStatus;
use simfleet_store::Bucket;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(by_status))
        .routes(routes!(by_tariff))
        .routes(routes!(activations))
        .routes(routes!(usage_trend))
        .routes(routes!(top_consumers))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCount {
    pub status: SimStatus,
    pub count: i64,
}

/// Number of SIMs in each status (all six, zeros included).
#[utoipa::path(get, path = "/stats/sim-by-status", tag = "stats", responses((status = 200, body = Items<StatusCount>)))]
async fn by_status(_: Viewer, State(app): State<AppState>) -> ApiResult<Json<Items<StatusCount>>> {
    let items =
        app.store.sims_by_status().await?.into_iter().map(|(status, count)| StatusCount { status, count }).collect();
    Ok(Json(Items { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TariffCountView {
    /// `null` for SIMs without a tariff plan.
    pub tariff_plan_id: Option<i64>,
    pub name: Option<String>,
    pub count: i64,
}

/// Number of SIMs per tariff plan, largest first.
#[utoipa::path(get, path = "/stats/sim-by-tariff", tag = "stats", responses((status = 200, body = Items<TariffCountView>)))]
async fn by_tariff(_: Viewer, State(app): State<AppState>) -> ApiResult<Json<Items<TariffCountView>>> {
    let items = app
        .store
        .sims_by_tariff()
        .await?
        .into_iter()
        .map(|t| TariffCountView { tariff_plan_id: t.tariff_plan_id, name: t.name, count: t.count })
        .collect();
    Ok(Json(Items { items }))
}

/// Ten years of days: the longest range a statistic covers.
const MAX_RANGE_DAYS: i64 = 3660;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day (UTC), default 30 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (UTC), default today.
    pub to: Option<NaiveDate>,
    /// `day` (default), `week` (from Monday) or `month`.
    pub bucket: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodCount {
    /// First day of the period.
    pub period: NaiveDate,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesResponse {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bucket: String,
    pub items: Vec<PeriodCount>,
}

/// Activations per day, week or month; empty periods are zeros.
#[utoipa::path(get, path = "/stats/activations-over-time", tag = "stats", params(RangeQuery),
    responses((status = 200, body = SeriesResponse), (status = 422, body = Problem)))]
async fn activations(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<SeriesResponse>> {
    let (from, to, bucket, bucket_name) = range(&q, 30, MAX_RANGE_DAYS)?;
    let items = app.store.activations_over_time(from, to, bucket).await.map_err(ApiError::from)?;
    Ok(Json(SeriesResponse {
        from,
        to,
        bucket: bucket_name,
        items: items.into_iter().map(|b| PeriodCount { period: b.period, count: b.count }).collect(),
    }))
}

/// Validated `from`/`to`/`bucket` of a range query, `from` defaulting to `default_days` before `to`.
pub(crate) fn range(
    q: &RangeQuery,
    default_days: u64,
    max_days: i64,
) -> ApiResult<(NaiveDate, NaiveDate, Bucket, String)> {
    let mut v = Validator::default();
    let to = q.to.unwrap_or_else(|| simfleet_store::now().date_naive());
    let from = q.from.unwrap_or(to - Days::new(default_days));
    let name = q.bucket.clone().unwrap_or_else(|| "day".into());
    let bucket = match name.as_str() {
        "day" => Bucket::Day,
        "week" => Bucket::Week,
        "month" => Bucket::Month,
        _ => {
            v.add("bucket", "must be day, week or month");
            Bucket::Day
        }
    };
    if from > to {
        v.add("from", "must not be after `to`");
    }
    if (to - from).num_days() > max_days {
        v.add("from", format!("the range may span at most {max_days} days"));
    }
    v.finish()?;
    Ok((from, to, bucket, name))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageTrendPoint {
    /// First day of the period.
    pub period: NaiveDate,
    pub data_total: i64,
    pub data_rx: i64,
    pub data_tx: i64,
    pub sms_mo: i64,
    pub sms_mt: i64,
    /// Most SIMs with traffic on one day of the period.
    pub active_sims: i64,
    /// Mean of `data_total` over this period and the six before it (day buckets only).
    pub data_moving_average_7: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageTrendResponse {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bucket: String,
    pub items: Vec<UsageTrendPoint>,
}

/// Fleet usage (bytes and SMS) per day, week or month, with a 7-day moving average.
#[utoipa::path(get, path = "/stats/usage-trend", tag = "stats", params(RangeQuery),
    responses((status = 200, body = UsageTrendResponse), (status = 422, body = Problem)))]
async fn usage_trend(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<UsageTrendResponse>> {
    let (from, to, bucket, name) = range(&q, 30, MAX_RANGE_DAYS)?;
    // Six extra days feed the moving average of the first ones.
    let days = app.store.fleet_usage(from - Days::new(6), to).await?;
    let by_day: std::collections::HashMap<NaiveDate, &simfleet_store::FleetDay> =
        days.iter().map(|d| (d.day, d)).collect();
    let mut points: Vec<UsageTrendPoint> = Vec::new();
    let mut day = from;
    while day <= to {
        let start = simfleet_store::bucket_start(day, bucket).max(from);
        if points.last().is_none_or(|p| p.period != start) {
            points.push(UsageTrendPoint {
                period: start,
                data_total: 0,
                data_rx: 0,
                data_tx: 0,
                sms_mo: 0,
                sms_mt: 0,
                active_sims: 0,
                data_moving_average_7: None,
            });
        }
        let p = points.last_mut().expect("just pushed");
        if let Some(d) = by_day.get(&day) {
            p.data_total += d.data_total;
            p.data_rx += d.data_rx;
            p.data_tx += d.data_tx;
            p.sms_mo += d.sms_mo;
            p.sms_mt += d.sms_mt;
            p.active_sims = p.active_sims.max(d.active_sims);
        }
        if bucket == Bucket::Day {
            let window: i64 = (0..7).map(|k| by_day.get(&(day - Days::new(k))).map_or(0, |d| d.data_total)).sum();
            p.data_moving_average_7 = Some(window as f64 / 7.0);
        }
        day = day + Days::new(1);
    }
    Ok(Json(UsageTrendResponse { from, to, bucket: name, items: points }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopQuery {
    /// First day (UTC), default 30 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last day (UTC), default today.
    pub to: Option<NaiveDate>,
    /// 1–1000, default 10.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopConsumerView {
    pub iccid: String,
    pub label: Option<String>,
    /// Bytes in the period.
    pub data_total: i64,
    /// SMS sent and received in the period.
    pub sms_total: i64,
}

/// The SIMs that used the most data in a period.
#[utoipa::path(get, path = "/stats/top-consumers", tag = "stats", params(TopQuery),
    responses((status = 200, body = Items<TopConsumerView>), (status = 422, body = Problem)))]
async fn top_consumers(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<TopQuery>,
) -> ApiResult<Json<Items<TopConsumerView>>> {
    let (from, to, _, _) = range(&RangeQuery { from: q.from, to: q.to, bucket: None }, 30, MAX_RANGE_DAYS)?;
    let limit = q.limit.unwrap_or(10);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "must be between 1 and 1000"));
    }
    let items = app
        .store
        .top_consumers(from, to, limit)
        .await?
        .into_iter()
        .map(|t| TopConsumerView { iccid: t.iccid, label: t.label, data_total: t.data_total, sms_total: t.sms_total })
        .collect();
    Ok(Json(Items { items }))
}
