//! `/products` (the provider's catalogue, cached) and `/orders` (orders with the provider,
//! mirrored; placing one from the catalogue after a quote).

use super::provider_actions::provider;
use super::{Items, Page, PageParams};
use crate::app::AppState;
use crate::auth::{Admin, Operator, Viewer};
use crate::error::{ApiError, ApiResult, Problem, Validator};
use crate::extract::{Body, Json, Query};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use simfleet_domain::Money;
use simfleet_store::{KeyClaim, OrderFilter, OrderRow, ProductRow};
use simfleet_sync::onence::models::{AdditionalOrder, DeliveryAddress, OrderedProduct};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(refresh_products))
        .routes(routes!(list_orders, create_order))
        .routes(routes!(refresh_orders))
        .routes(routes!(get_order))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Charge {
    pub name: Option<String>,
    /// Net amount, decimal string.
    pub amount: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: i64,
    pub name: String,
    pub material: Option<String>,
    /// Units per package: quantities are multiples of it.
    pub package_size: Option<i64>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    pub max_quantity_per_customer: Option<i64>,
    /// Minimum contract duration in months.
    pub min_contract_duration: Option<i64>,
    pub one_time_charges: Vec<Charge>,
    pub recurring_charges: Vec<Charge>,
    pub refreshed_at: DateTime<Utc>,
}

impl From<ProductRow> for ProductView {
    fn from(p: ProductRow) -> Self {
        ProductView {
            id: p.id,
            name: p.name,
            material: p.material,
            package_size: p.package_size,
            min_quantity: p.min_quantity,
            max_quantity: p.max_quantity,
            max_quantity_per_customer: p.max_quantity_per_customer,
            min_contract_duration: p.min_contract_duration,
            one_time_charges: serde_json::from_str(&p.one_time_charges).unwrap_or_default(),
            recurring_charges: serde_json::from_str(&p.recurring_charges).unwrap_or_default(),
            refreshed_at: p.refreshed_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefreshQuery {
    /// Read from the provider first.
    #[serde(default)]
    pub refresh: bool,
}

/// The catalogue, read from the provider when asked (`refresh=true`) or when nothing is cached.
pub(crate) async fn catalogue(app: &AppState, refresh: bool) -> ApiResult<Vec<ProductRow>> {
    let cached = if refresh { Vec::new() } else { app.store.list_products().await? };
    if !cached.is_empty() || (!refresh && app.runner.is_none()) {
        return Ok(cached);
    }
    Ok(provider(app)?.refresh_products().await?)
}

/// The provider's products: charges (one-time and recurring), quantities, contract duration.
/// Served from the local cache.
#[utoipa::path(get, path = "/products", tag = "provider", params(RefreshQuery),
    responses((status = 200, body = Items<ProductView>), (status = 503, body = Problem)))]
async fn list_products(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<RefreshQuery>,
) -> ApiResult<Json<Items<ProductView>>> {
    let items = catalogue(&app, q.refresh).await?.into_iter().map(ProductView::from).collect();
    Ok(Json(Items { items }))
}

/// Re-read the catalogue from the provider (operator).
#[utoipa::path(post, path = "/products/refresh", tag = "provider",
    responses((status = 200, body = Items<ProductView>), (status = 403, body = Problem), (status = 503, body = Problem)))]
async fn refresh_products(_: Operator, State(app): State<AppState>) -> ApiResult<Json<Items<ProductView>>> {
    let items = catalogue(&app, true).await?.into_iter().map(ProductView::from).collect();
    Ok(Json(Items { items }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub product_id: Option<i64>,
    pub quantity: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub order_number: i64,
    /// FIRST_ORDER, ADDITIONAL_ORDER, TOPUP, BULK_TOPUP or TARIFF_CHANGE.
    pub order_type: Option<String>,
    /// e.g. IN_PROGRESS, COMPLETED.
    pub status: Option<String>,
    pub order_date: Option<DateTime<Utc>>,
    pub invoice_number: Option<String>,
    /// Decimal string.
    pub invoice_amount: Option<String>,
    pub currency: Option<String>,
    pub products: Vec<OrderLine>,
    #[schema(value_type = Option<Object>)]
    pub delivery_address: Option<serde_json::Value>,
    pub customer_reference: Option<String>,
    /// The simfleet user who placed it (orders placed here, top-ups).
    pub created_by: Option<String>,
    /// The SIMs it concerns (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sims: Option<Vec<String>>,
    pub synced_at: DateTime<Utc>,
}

pub(crate) fn order_view(o: OrderRow, sims: Option<Vec<String>>) -> OrderView {
    OrderView {
        order_number: o.order_number,
        order_type: o.order_type,
        status: o.status,
        order_date: o.order_date,
        invoice_number: o.invoice_number,
        invoice_amount: o.invoice_amount_e4.map(|a| String::from(Money::from_scaled(a))),
        currency: o.currency,
        products: serde_json::from_str(&o.products).unwrap_or_default(),
        delivery_address: o.delivery_address.and_then(|a| serde_json::from_str(&a).ok()),
        customer_reference: o.customer_reference,
        created_by: o.created_by,
        sims,
        synced_at: o.synced_at,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    pub status: Option<String>,
    /// FIRST_ORDER, ADDITIONAL_ORDER, TOPUP, BULK_TOPUP, TARIFF_CHANGE.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub order_type: Option<String>,
    /// Orders on or after this day.
    pub from: Option<NaiveDate>,
    /// Orders on or before this day.
    pub to: Option<NaiveDate>,
    /// Only orders that concern this SIM.
    pub iccid: Option<String>,
    /// Read all orders from the provider first.
    #[serde(default)]
    pub refresh: bool,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

/// Orders, newest first, as mirrored from the provider.
#[utoipa::path(get, path = "/orders", tag = "provider", params(OrdersQuery),
    responses((status = 200, body = Page<OrderView>), (status = 422, body = Problem)))]
async fn list_orders(
    _: Viewer,
    State(app): State<AppState>,
    Query(q): Query<OrdersQuery>,
) -> ApiResult<Json<Page<OrderView>>> {
    if q.refresh {
        provider(&app)?.refresh_orders().await?;
    }
    let filter = order_filter(&app, &q).await?;
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone(), count: q.count };
    Ok(Json(Page::from_store(app.store.list_orders(&filter, page.request()?).await?, |o| order_view(o, None))))
}

/// The store filter of an orders query: `to` includes its whole day.
pub(crate) async fn order_filter(app: &AppState, q: &OrdersQuery) -> ApiResult<OrderFilter> {
    let sim_id = match q.iccid.as_deref() {
        Some(i) => Some(app.store.get_sim(i).await?.id),
        None => None,
    };
    let day = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    Ok(OrderFilter {
        status: q.status.clone(),
        order_type: q.order_type.clone(),
        from: q.from.and_then(day),
        to: q.to.and_then(|d| d.succ_opt()).and_then(day),
        sim_id,
    })
}

/// Re-read every order from the provider (operator).
#[utoipa::path(post, path = "/orders/refresh", tag = "provider",
    responses((status = 200, body = Page<OrderView>), (status = 403, body = Problem), (status = 503, body = Problem)))]
async fn refresh_orders(_: Operator, State(app): State<AppState>) -> ApiResult<Json<Page<OrderView>>> {
    provider(&app)?.refresh_orders().await?;
    let page = PageParams { limit: None, cursor: None, count: true };
    Ok(Json(Page::from_store(app.store.list_orders(&OrderFilter::default(), page.request()?).await?, |o| {
        order_view(o, None)
    })))
}

/// One order with its products, invoice and the SIMs it concerns.
#[utoipa::path(get, path = "/orders/{order_number}", tag = "provider", params(("order_number" = i64, Path)),
    responses((status = 200, body = OrderView), (status = 404, body = Problem)))]
async fn get_order(_: Viewer, State(app): State<AppState>, Path(number): Path<i64>) -> ApiResult<Json<OrderView>> {
    let (order, sims) = app.store.get_order(number).await?;
    Ok(Json(order_view(order, Some(sims))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrderLine {
    pub product_id: i64,
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub products: Vec<NewOrderLine>,
    #[schema(value_type = Option<Object>)]
    pub delivery_address: Option<DeliveryAddress>,
    pub customer_reference: Option<String>,
    /// `false` (default): only quote the cost. `true`: place the order.
    #[serde(default)]
    pub confirm: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteLine {
    pub product_id: i64,
    pub name: String,
    pub quantity: i64,
    /// One-time charges per unit (decimal string).
    pub unit_price: String,
    /// One-time charges for the line.
    pub one_time_total: String,
    /// Recurring charges for the line (per month).
    pub recurring_total: String,
    pub min_contract_duration: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Quote {
    pub lines: Vec<QuoteLine>,
    /// What the order costs at once (net).
    pub total: String,
    /// What it adds to the monthly bill (net).
    pub recurring_total: String,
    pub currency: Option<String>,
    /// Send the same body with `"confirm": true` to place the order.
    pub confirmation_required: bool,
}

fn sum(charges: &[Charge]) -> Result<i64, String> {
    charges.iter().filter_map(|c| c.amount.as_deref()).try_fold(0i64, |acc, a| {
        Money::parse(a)
            .map(|m| acc + m.to_scaled())
            .map_err(|e| format!("the catalogue has an unreadable price {a:?}: {e}"))
    })
}

/// Checks the lines against the catalogue and prices them.
fn quote(products: &[ProductRow], lines: &[NewOrderLine]) -> ApiResult<Quote> {
    let mut v = Validator::default();
    if lines.is_empty() {
        v.add("products", "order at least one product");
    }
    let mut out = Vec::new();
    let (mut total, mut recurring, mut currency) = (0i64, 0i64, None::<String>);
    for (k, line) in lines.iter().enumerate() {
        let field = format!("products[{k}]");
        let Some(p) = products.iter().find(|p| p.id == line.product_id) else {
            v.add(&field, format!("product {} is not in the catalogue", line.product_id));
            continue;
        };
        let view = ProductView::from(p.clone());
        let (lo, hi, pack) = (view.min_quantity.unwrap_or(1), view.max_quantity, view.package_size.unwrap_or(1).max(1));
        if line.quantity < lo || hi.is_some_and(|h| line.quantity > h) || line.quantity % pack != 0 {
            v.add(
                &field,
                format!(
                    "quantity must be between {lo} and {} in steps of {pack}",
                    hi.map_or("any".to_owned(), |h| h.to_string())
                ),
            );
            continue;
        }
        let (unit, monthly) = match (sum(&view.one_time_charges), sum(&view.recurring_charges)) {
            (Ok(u), Ok(m)) => (u, m),
            (Err(e), _) | (_, Err(e)) => return Err(ApiError::Internal(anyhow::anyhow!(e))),
        };
        currency = currency.or_else(|| view.one_time_charges.iter().find_map(|c| c.currency.clone()));
        total += unit * line.quantity;
        recurring += monthly * line.quantity;
        out.push(QuoteLine {
            product_id: p.id,
            name: p.name.clone(),
            quantity: line.quantity,
            unit_price: Money::from_scaled(unit).into(),
            one_time_total: Money::from_scaled(unit * line.quantity).into(),
            recurring_total: Money::from_scaled(monthly * line.quantity).into(),
            min_contract_duration: p.min_contract_duration,
        });
    }
    v.finish()?;
    Ok(Quote {
        lines: out,
        total: Money::from_scaled(total).into(),
        recurring_total: Money::from_scaled(recurring).into(),
        currency,
        confirmation_required: true,
    })
}

/// Order products from the catalogue (admin). Without `"confirm": true` it answers 200 with a
/// quote stating the cost and places nothing; with it, the order is placed at the provider and
/// answered 201 with the order.
///
/// Send an `Idempotency-Key` header (any text up to 200 characters, e.g. a UUID) to make a
/// retry safe: the same key with the same order answers the first order again
/// (`Idempotent-Replayed: true`) instead of ordering twice. While the first request is being
/// placed, or when the provider's answer to it was lost, the key answers 409.
#[utoipa::path(post, path = "/orders", tag = "provider", request_body = NewOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes a retried order safe")),
    responses((status = 200, body = Quote), (status = 201, body = OrderView), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn create_order(
    admin: Admin,
    State(app): State<AppState>,
    headers: HeaderMap,
    Body(req): Body<NewOrder>,
) -> ApiResult<Response> {
    if !req.confirm {
        return Ok(Json(quote_order(&app, &req.products).await?).into_response());
    }
    let key = idempotency_key(&headers)?;
    let (order, replayed) = place_order(&app, req, admin.actor(), key.as_deref()).await?;
    let mut response = (StatusCode::CREATED, Json(order)).into_response();
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The request's `Idempotency-Key`, if it carries one.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    match value.to_str().map(str::trim) {
        Ok(key) if !key.is_empty() && key.len() <= 200 => Ok(Some(key.to_owned())),
        _ => Err(ApiError::field("Idempotency-Key", "must be 1 to 200 visible ASCII characters")),
    }
}

/// Order keys are remembered under this scope.
const ORDER_KEYS: &str = "orders";

/// What a key is tied to: who orders what, so that a key reused for another order is refused.
fn order_hash(req: &NewOrder, actor: &str) -> String {
    let lines: Vec<(i64, i64)> = req.products.iter().map(|l| (l.product_id, l.quantity)).collect();
    let canonical = serde_json::json!([actor, lines, req.delivery_address, req.customer_reference]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Prices `lines` against the catalogue without ordering anything.
pub(crate) async fn quote_order(app: &AppState, lines: &[NewOrderLine]) -> ApiResult<Quote> {
    provider(app)?;
    quote(&catalogue(app, false).await?, lines)
}

/// Checks `req` against the catalogue, places it at the provider and records it. With an
/// idempotency `key`, a request sent again gets the first one's order (and `true`), never a
/// second order.
pub(crate) async fn place_order(
    app: &AppState,
    req: NewOrder,
    actor: String,
    key: Option<&str>,
) -> ApiResult<(OrderView, bool)> {
    let syncer = provider(app)?;
    quote(&catalogue(app, false).await?, &req.products)?;
    if let Some(key) = key {
        match app.store.claim_request_key(ORDER_KEYS, key, &order_hash(&req, &actor)).await? {
            KeyClaim::New => {}
            KeyClaim::Done(number) => {
                let number: i64 = number
                    .parse()
                    .map_err(|_| ApiError::Internal(anyhow::anyhow!("unreadable order number {number:?} of a key")))?;
                let (row, sims) = app.store.get_order(number).await?;
                return Ok((order_view(row, Some(sims)), true));
            }
            KeyClaim::Pending => {
                return Err(ApiError::Conflict {
                    field: Some("Idempotency-Key".into()),
                    detail: "an order with this Idempotency-Key is being placed, or the provider's answer to it was \
                             lost: refresh the orders (POST /api/v1/orders/refresh) to see whether it was placed, and \
                             use a new key to order again"
                        .into(),
                })
            }
            KeyClaim::Mismatch => {
                return Err(ApiError::field("Idempotency-Key", "this key was already used for a different order"))
            }
        }
    }
    let order = AdditionalOrder {
        products: req
            .products
            .iter()
            .map(|l| OrderedProduct { product_id: l.product_id, quantity: l.quantity })
            .collect(),
        delivery_address: req.delivery_address,
        customer_reference: req.customer_reference.clone(),
    };
    let created = match syncer.client().create_order(&order).await {
        Ok(created) => created,
        Err(e) => {
            if let Some(key) = key.filter(|_| e.certainly_not_applied()) {
                app.store.release_request_key(ORDER_KEYS, key).await?;
            }
            return Err(e.into());
        }
    };
    let number = created.id().and_then(|n| n.parse::<u64>().ok()).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "the provider placed the order without naming it (Location {:?})",
            created.location
        ))
    })?;
    // The order is placed: from here on, failing to read it back must not invite a second order.
    let mut stored = match syncer.client().get_order(number).await {
        Ok(o) => simfleet_sync::account::provider_order(&o, Some(&actor))?,
        Err(e) => {
            tracing::warn!(order = number, error = %e, "order placed but not readable yet; recorded as requested");
            requested_order(number, &order, actor)
        }
    };
    stored.customer_reference = req.customer_reference;
    if stored.delivery_address.is_none() {
        stored.delivery_address = order.delivery_address.as_ref().and_then(|a| serde_json::to_string(a).ok());
    }
    app.store.upsert_orders(std::slice::from_ref(&stored)).await?;
    if let Some(key) = key {
        app.store.finish_request_key(ORDER_KEYS, key, &number.to_string()).await?;
    }
    let (row, sims) = app.store.get_order(number as i64).await?;
    Ok((order_view(row, Some(sims)), false))
}

/// What is known of an order the provider accepted but did not show yet: a later refresh
/// completes it.
fn requested_order(number: u64, order: &AdditionalOrder, actor: String) -> simfleet_store::ProviderOrder {
    let products: Vec<serde_json::Value> = order
        .products
        .iter()
        .map(|p| serde_json::json!({ "product_id": p.product_id, "quantity": p.quantity }))
        .collect();
    simfleet_store::ProviderOrder {
        order_number: number as i64,
        order_type: Some("ADDITIONAL_ORDER".into()),
        status: None,
        order_date: Some(simfleet_store::now()),
        invoice_number: None,
        invoice_amount_e4: None,
        currency: None,
        delivery_address: None,
        products: serde_json::Value::Array(products).to_string(),
        customer_reference: None,
        created_by: Some(actor),
        sim_refs: Vec::new(),
    }
}
