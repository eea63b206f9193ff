//! `/tariff-plans`.

use super::{non_empty, Page, PageParams};
use crate::app::AppState;
use crate::auth::{Admin, Viewer};
use crate::error::{ApiResult, Problem, Validator};
use crate::extract::Json;
use crate::extract::{double_option, Body, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_domain::{Money, SimType};
use simfleet_store::{TariffPlan, TariffPlanInput};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_plans, create_plan)).routes(routes!(get_plan, update_plan, delete_plan))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TariffPlanView {
    pub id: i64,
    pub name: String,
    /// Exact decimal string, e.g. `"4.99"`.
    #[schema(value_type = String, example = "4.99")]
    pub monthly_price: Money,
    pub currency: String,
    #[serde(rename = "type")]
    pub plan_type: SimType,
    pub description: Option<String>,
    pub sim_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<TariffPlan> for TariffPlanView {
    fn from(t: TariffPlan) -> Self {
        TariffPlanView {
            id: t.id,
            name: t.name,
            monthly_price: t.monthly_price,
            currency: t.currency,
            plan_type: t.plan_type,
            description: t.description,
            sim_count: t.sim_count,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffPlanRequest {
    pub name: Option<String>,
    /// Decimal string with at most 4 decimal places.
    pub monthly_price: Option<String>,
    /// ISO 4217 code, default EUR.
    pub currency: Option<String>,
    /// `prepaid`, `postpaid` or `data_only`.
    #[serde(rename = "type")]
    pub plan_type: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

pub(crate) fn build(req: TariffPlanRequest, current: Option<TariffPlan>) -> ApiResult<TariffPlanInput> {
    let mut v = Validator::default();
    let name = non_empty(req.name).or(current.as_ref().map(|c| c.name.clone()));
    if name.as_ref().is_none_or(|n| n.chars().count() > 100) {
        v.add("name", "is required, at most 100 characters");
    }
    let price = v
        .check("monthly_price", req.monthly_price.as_deref(), Money::parse)
        .or(current.as_ref().map(|c| c.monthly_price));
    if price.is_none() && req.monthly_price.is_none() {
        v.add("monthly_price", "is required");
    }
    let currency = req
        .currency
        .map(|c| c.trim().to_uppercase())
        .or(current.as_ref().map(|c| c.currency.clone()))
        .unwrap_or_else(|| "EUR".into());
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        v.add("currency", "must be a three-letter ISO 4217 code");
    }
    let plan_type = v
        .check("type", req.plan_type.as_deref(), |s| SimType::parse(s).ok_or("must be prepaid, postpaid or data_only"))
        .or(current.as_ref().map(|c| c.plan_type))
        .unwrap_or(SimType::DataOnly);
    let description = match req.description {
        Some(d) => non_empty(d),
        None => current.and_then(|c| c.description),
    };
    v.finish()?;
    Ok(TariffPlanInput {
        name: name.expect("validated"),
        monthly_price: price.expect("validated"),
        currency,
        plan_type,
        description,
    })
}

#[utoipa::path(get, path = "/tariff-plans", tag = "tariff-plans", params(PageParams), responses((status = 200, body = Page<TariffPlanView>)))]
async fn list_plans(
    _: Viewer,
    State(app): State<AppState>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<TariffPlanView>>> {
    Ok(Json(Page::from_store(app.store.list_tariff_plans(page.request()?).await?, TariffPlanView::from)))
}

#[utoipa::path(get, path = "/tariff-plans/{id}", tag = "tariff-plans", params(("id" = i64, Path)),
    responses((status = 200, body = TariffPlanView), (status = 404, body = Problem)))]
async fn get_plan(_: Viewer, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<TariffPlanView>> {
    Ok(Json(app.store.get_tariff_plan(id).await?.into()))
}

#[utoipa::path(post, path = "/tariff-plans", tag = "tariff-plans", request_body = TariffPlanRequest,
    responses((status = 201, body = TariffPlanView), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_plan(
    _: Admin,
    State(app): State<AppState>,
    Body(req): Body<TariffPlanRequest>,
) -> ApiResult<(StatusCode, Json<TariffPlanView>)> {
    let input = build(req, None)?;
    Ok((StatusCode::CREATED, Json(app.store.create_tariff_plan(&input).await?.into())))
}

#[utoipa::path(patch, path = "/tariff-plans/{id}", tag = "tariff-plans", params(("id" = i64, Path)), request_body = TariffPlanRequest,
    responses((status = 200, body = TariffPlanView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_plan(
    _: Admin,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Body(req): Body<TariffPlanRequest>,
) -> ApiResult<Json<TariffPlanView>> {
    let current = app.store.get_tariff_plan(id).await?;
    let input = build(req, Some(current))?;
    Ok(Json(app.store.update_tariff_plan(id, &input).await?.into()))
}

/// Delete a plan no SIM uses (409 otherwise).
#[utoipa::path(delete, path = "/tariff-plans/{id}", tag = "tariff-plans", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_plan(_: Admin, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.store.delete_tariff_plan(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
