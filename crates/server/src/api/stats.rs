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
    OpenApiRouter::new().routes(routes!(by_status)).routes(routes!(by_tariff)).routes(routes!(activations))
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
    let mut v = Validator::default();
    let to = q.to.unwrap_or_else(|| simfleet_store::now().date_naive());
    let from = q.from.unwrap_or(to - Days::new(30));
    let bucket_name = q.bucket.clone().unwrap_or_else(|| "day".into());
    let bucket = match bucket_name.as_str() {
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
    if (to - from).num_days() > 3660 {
        v.add("from", "the range may span at most 10 years");
    }
    v.finish()?;
    let items = app.store.activations_over_time(from, to, bucket).await.map_err(ApiError::from)?;
    Ok(Json(SeriesResponse {
        from,
        to,
        bucket: bucket_name,
        items: items.into_iter().map(|b| PeriodCount { period: b.period, count: b.count }).collect(),
    }))
}
