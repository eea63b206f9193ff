//! `/customers`.

use super::sims::SimView;
use super::{non_empty, Page, PageParams};
use crate::app::AppState;
use crate::auth::{Operator, Viewer};
use crate::error::{ApiResult, Problem, Validator};
use crate::extract::Json;
use crate::extract::{double_option, Body, Query};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use simfleet_store::{Customer, CustomerInput, PageRequest, SimFilter, SimSort};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_customers, create_customer)).routes(routes!(
        get_customer,
        update_customer,
        delete_customer
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub sim_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        CustomerView {
            id: c.id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            sim_count: c.sim_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDetail {
    #[serde(flatten)]
    pub customer: CustomerView,
    /// The customer's first 100 SIMs by ICCID; list them all with `GET /sims?customer_id=`.
    pub sims: Vec<SimView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Matches anywhere in the name or e-mail, ignoring case.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
}

pub(crate) fn validate(input: CustomerInput) -> ApiResult<CustomerInput> {
    let mut v = Validator::default();
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        v.add("name", "must be 1 to 200 characters");
    }
    let email = non_empty(input.email);
    if let Some(e) = &email {
        let valid = e.len() <= 254
            && e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            });
        if !valid || e.contains(char::is_whitespace) {
            v.add("email", "is not an e-mail address");
        }
    }
    let phone = non_empty(input.phone);
    if let Some(p) = &phone {
        if p.len() > 32 || !p.chars().all(|c| c.is_ascii_digit() || " +-()/".contains(c)) {
            v.add("phone", "may contain digits, spaces and + - ( ) / only");
        }
    }
    v.finish()?;
    Ok(CustomerInput { name, email, phone })
}

/// List or search customers.
#[utoipa::path(get, path = "/customers", tag = "customers", params(CustomerQuery), responses((status = 200, body = Page<CustomerView>)))]
async fn list_customers(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<CustomerQuery>,
) -> ApiResult<Json<Page<CustomerView>>> {
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    let result = app.store.list_customers(q.q.as_deref(), page.request()?).await?;
    Ok(Json(Page::from_store(result, CustomerView::from)))
}

/// A customer with their SIMs.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 200, body = CustomerDetail), (status = 404, body = Problem)))]
async fn get_customer(_: Viewer, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<CustomerDetail>> {
    let customer = app.store.get_customer(id).await?;
    let filter = SimFilter { customer_id: Some(id), ..Default::default() };
    let sims = app
        .store
        .list_sims(&filter, SimSort::default(), PageRequest { limit: 100, cursor: None, with_total: false })
        .await?;
    Ok(Json(CustomerDetail { customer: customer.into(), sims: sims.items.into_iter().map(SimView::from).collect() }))
}

#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CreateCustomer,
    responses((status = 201, body = CustomerView), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_customer(
    _: Operator,
    State(app): State<AppState>,
    Body(req): Body<CreateCustomer>,
) -> ApiResult<(StatusCode, Json<CustomerView>)> {
    let input = validate(CustomerInput { name: req.name, email: req.email, phone: req.phone })?;
    Ok((StatusCode::CREATED, Json(app.store.create_customer(&input).await?.into())))
}

#[utoipa::path(patch, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path)), request_body = UpdateCustomer,
    responses((status = 200, body = CustomerView), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_customer(
    _: Operator,
    State(app): State<AppState>,
    Path(id): Path<i64>,
    Body(req): Body<UpdateCustomer>,
) -> ApiResult<Json<CustomerView>> {
    let current = app.store.get_customer(id).await?;
    let input = validate(CustomerInput {
        name: req.name.unwrap_or(current.name),
        email: req.email.unwrap_or(current.email),
        phone: req.phone.unwrap_or(current.phone),
    })?;
    Ok(Json(app.store.update_customer(id, &input).await?.into()))
}

/// Delete a customer without SIMs (409 otherwise).
#[utoipa::path(delete, path = "/customers/{id}", tag = "customers", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_customer(_: Operator, State(app): State<AppState>, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    app.store.delete_customer(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
