//! `/provider/…`: the provider account in the dashboard: the product catalogue, orders (placed
//! after a confirmation page that states the quoted cost) and the account's global monthly
//! limits. Reads and changes go through the same functions as the REST API.

use super::page::{opt, redirect_with, urlencode, Ctx, FieldErrors, WebError};
use crate::api::limits::{self, SetLimits};
use crate::api::orders::{self, NewOrder, NewOrderLine, OrdersQuery, ProductView};
use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use minijinja::context;
use serde::{Deserialize, Serialize};
use simfleet_domain::Role;
use simfleet_store::PageRequest;
use simfleet_sync::onence::models::DeliveryAddress;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/provider/products", get(products))
        .route("/provider/products/refresh", post(refresh_products))
        .route("/provider/orders", get(order_list).post(place_order))
        .route("/provider/orders/refresh", post(refresh_orders))
        .route("/provider/orders/new", get(new_order))
        .route("/provider/orders/quote", post(quote_order))
        .route("/provider/orders/{number}", get(order_detail))
        .route("/provider/limits", get(limits_page).post(set_limits))
}

const ORDER_TYPES: [&str; 5] = ["FIRST_ORDER", "ADDITIONAL_ORDER", "TOPUP", "BULK_TOPUP", "TARIFF_CHANGE"];
const ORDER_STATUSES: [&str; 3] = ["IN_PROGRESS", "COMPLETED", "CANCELLED"];

/// A refusal or outage of the provider (or input it does not take) as a sentence for the
/// user; other errors pass on as error pages.
pub(super) fn provider_message(e: ApiError) -> Result<String, WebError> {
    match e {
        ApiError::Provider { .. }
        | ApiError::Unavailable(_)
        | ApiError::Unprocessable { .. }
        | ApiError::Validation(_) => {
            let p = e.problem();
            Ok(format!("{}: {}", p.title, p.detail))
        }
        other => Err(other.into()),
    }
}

async fn products(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    let (items, notice) = match orders::catalogue(&app, false).await {
        Ok(rows) => (rows.into_iter().map(ProductView::from).collect::<Vec<_>>(), None),
        Err(e) => (Vec::new(), Some(provider_message(e)?)),
    };
    let refreshed_at = items.iter().map(|p| p.refreshed_at).max();
    ctx.render(
        "provider/products.html",
        context! { nav => "products", products => items, notice, refreshed_at, has_provider => app.runner.is_some() },
    )
}

async fn refresh_products(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let message = match orders::catalogue(&app, true).await {
        Ok(rows) => format!("Catalogue read from the provider: {} product(s).", rows.len()),
        Err(e) => format!("Not refreshed. {}", provider_message(e)?),
    };
    Ok(redirect_with("/provider/products", message))
}

/// The orders list's query string as its filter form sends it.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(default)]
struct OrderParams {
    status: String,
    #[serde(rename = "type")]
    order_type: String,
    from: String,
    to: String,
    cursor: String,
}

impl OrderParams {
    fn query(&self) -> Result<OrdersQuery, WebError> {
        let date = |s: &str, what: &str| -> Result<Option<NaiveDate>, WebError> {
            opt(s).map(|v| v.parse().map_err(|_| WebError::BadRequest(format!("{what} must be a date")))).transpose()
        };
        Ok(OrdersQuery {
            status: opt(&self.status),
            order_type: opt(&self.order_type),
            from: date(&self.from, "from")?,
            to: date(&self.to, "to")?,
            iccid: None,
            refresh: false,
            limit: None,
            cursor: None,
            count: false,
        })
    }

    fn link(&self, cursor: &str) -> String {
        format!(
            "status={}&type={}&from={}&to={}&cursor={}",
            urlencode(&self.status),
            urlencode(&self.order_type),
            urlencode(&self.from),
            urlencode(&self.to),
            urlencode(cursor)
        )
    }
}

async fn order_list(ctx: Ctx, State(app): State<AppState>, Query(p): Query<OrderParams>) -> Result<Response, WebError> {
    let filter = orders::order_filter(&app, &p.query()?).await?;
    let cursor = opt(&p.cursor);
    let page =
        app.store.list_orders(&filter, PageRequest { limit: 50, cursor: cursor.as_deref(), with_total: true }).await?;
    let next = page.next_cursor.as_deref().map(|c| p.link(c));
    let items: Vec<_> = page.items.into_iter().map(|o| orders::order_view(o, None)).collect();
    let filtered = !(p.status.is_empty() && p.order_type.is_empty() && p.from.is_empty() && p.to.is_empty());
    ctx.render(
        "provider/orders.html",
        context! {
            nav => "orders", orders => items, total => page.total, next, params => p, filtered,
            types => ORDER_TYPES, statuses => ORDER_STATUSES, has_provider => app.runner.is_some(),
        },
    )
}

async fn refresh_orders(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    ctx.require(Role::Operator)?;
    let result = match crate::api::provider_actions::provider(&app) {
        Ok(syncer) => syncer.refresh_orders().await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    let message = match result {
        Ok(_) => "Orders read from the provider.".to_owned(),
        Err(e) => format!("Not refreshed. {}", provider_message(e)?),
    };
    Ok(redirect_with("/provider/orders", message))
}

async fn order_detail(ctx: Ctx, State(app): State<AppState>, Path(number): Path<i64>) -> Result<Response, WebError> {
    let (row, sims) = app.store.get_order(number).await?;
    let order = orders::order_view(row, Some(sims));
    let names: std::collections::HashMap<String, String> =
        app.store.list_products().await?.into_iter().map(|p| (p.id.to_string(), p.name)).collect();
    let address: Vec<(String, String)> = order
        .delivery_address
        .as_ref()
        .and_then(|a| a.as_object())
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| {
                    v.as_str().filter(|s| !s.is_empty()).map(|s| (super::templates::label(k), s.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    ctx.render("provider/order.html", context! { nav => "orders", order, names, address })
}

/// The order form: one product line and an optional delivery address.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
#[serde(default)]
struct OrderForm {
    product_id: String,
    quantity: String,
    customer_reference: String,
    company: String,
    first_name: String,
    last_name: String,
    street: String,
    house_number: String,
    zip: String,
    city: String,
    country: String,
    /// Set on the confirmation page, so that a confirmation sent twice orders once.
    idempotency_key: String,
}

impl OrderForm {
    fn address(&self) -> Option<DeliveryAddress> {
        let a = DeliveryAddress {
            company: opt(&self.company),
            first_name: opt(&self.first_name),
            last_name: opt(&self.last_name),
            street: opt(&self.street),
            house_number: opt(&self.house_number),
            zip: opt(&self.zip),
            city: opt(&self.city),
            country: opt(&self.country).map(|c| c.to_uppercase()),
            ..DeliveryAddress::default()
        };
        (a != DeliveryAddress::default()).then_some(a)
    }

    /// The API's order, or the fields that cannot be read.
    fn order(&self, confirm: bool) -> Result<NewOrder, FieldErrors> {
        let mut errors = FieldErrors::new();
        let product_id = self.product_id.trim().parse::<i64>().ok();
        if product_id.is_none() {
            errors.insert("product_id".into(), "choose a product".into());
        }
        let quantity = self.quantity.trim().parse::<i64>().ok();
        if quantity.is_none() {
            errors.insert("quantity".into(), "enter a whole number".into());
        }
        let (Some(product_id), Some(quantity)) = (product_id, quantity) else { return Err(errors) };
        Ok(NewOrder {
            products: vec![NewOrderLine { product_id, quantity }],
            delivery_address: self.address(),
            customer_reference: opt(&self.customer_reference),
            confirm,
        })
    }
}

/// The API's field names (`products[0]`) as the form's.
fn order_errors(e: ApiError) -> Result<FieldErrors, WebError> {
    match super::page::field_errors(e) {
        Ok(list) => Ok(list
            .into_iter()
            .map(|(k, v)| {
                let field = match k.as_str() {
                    "products" => "product_id".to_owned(),
                    k if k.starts_with("products[") => "quantity".to_owned(),
                    _ => k,
                };
                (field, v)
            })
            .collect()),
        Err(WebError::BadRequest(d) | WebError::Conflict(d)) => Ok(FieldErrors::from([("general".into(), d)])),
        Err(other) => Err(other),
    }
}

async fn render_order_form(
    ctx: &Ctx,
    app: &AppState,
    form: &OrderForm,
    errors: &FieldErrors,
) -> Result<Response, WebError> {
    let (catalogue, notice) = match orders::catalogue(app, false).await {
        Ok(rows) => (rows.into_iter().map(ProductView::from).collect::<Vec<_>>(), None),
        Err(e) => (Vec::new(), Some(provider_message(e)?)),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    ctx.render_status(
        status,
        "provider/order_new.html",
        context! { nav => "orders", products => catalogue, form, errors, notice },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewOrderParams {
    product_id: String,
}

async fn new_order(
    ctx: Ctx,
    State(app): State<AppState>,
    Query(q): Query<NewOrderParams>,
) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let form = OrderForm { product_id: q.product_id, ..OrderForm::default() };
    render_order_form(&ctx, &app, &form, &FieldErrors::new()).await
}

/// Step one: the quote, on a page that states the cost and asks for confirmation.
async fn quote_order(
    ctx: Ctx,
    State(app): State<AppState>,
    Form(mut form): Form<OrderForm>,
) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let order = match form.order(false) {
        Ok(o) => o,
        Err(errors) => return render_order_form(&ctx, &app, &form, &errors).await,
    };
    let quote = match orders::quote_order(&app, &order.products).await {
        Ok(q) => q,
        Err(e) => return render_order_form(&ctx, &app, &form, &order_errors(e)?).await,
    };
    let address: Vec<(String, String)> = order
        .delivery_address
        .as_ref()
        .and_then(|a| serde_json::to_value(a).ok())
        .and_then(|v| v.as_object().cloned())
        .map(|o| {
            o.into_iter().filter_map(|(k, v)| v.as_str().map(|s| (super::templates::label(&k), s.to_owned()))).collect()
        })
        .unwrap_or_default();
    form.idempotency_key = hex::encode(rand::random::<[u8; 16]>());
    ctx.render("provider/order_confirm.html", context! { nav => "orders", quote, form, address })
}

/// Step two: the confirmed order is placed at the provider.
async fn place_order(ctx: Ctx, State(app): State<AppState>, Form(form): Form<OrderForm>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let order = match form.order(true) {
        Ok(o) => o,
        Err(errors) => return render_order_form(&ctx, &app, &form, &errors).await,
    };
    match orders::place_order(&app, order, ctx.actor(), opt(&form.idempotency_key).as_deref()).await {
        Ok((placed, replayed)) => Ok(redirect_with(
            &format!("/provider/orders/{}", placed.order_number),
            if replayed {
                format!("Order {} was placed already; the confirmation was sent twice.", placed.order_number)
            } else {
                format!("Order {} placed with the provider.", placed.order_number)
            },
        )),
        Err(e) => render_order_form(&ctx, &app, &form, &order_errors(e)?).await,
    }
}

async fn limits_page(ctx: Ctx, State(app): State<AppState>) -> Result<Response, WebError> {
    let (limits, notice) = match limits::read(&app).await {
        Ok(l) => (Some(l), None),
        Err(e) => (None, Some(provider_message(e)?)),
    };
    ctx.render("provider/limits.html", context! { nav => "limits", limits, notice })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LimitsForm {
    data_limit_id: String,
    sms_mo_limit_id: String,
    sms_mt_limit_id: String,
}

async fn set_limits(ctx: Ctx, State(app): State<AppState>, Form(f): Form<LimitsForm>) -> Result<Response, WebError> {
    ctx.require(Role::Admin)?;
    let id = |s: &str| s.trim().parse::<i64>().ok();
    let req = SetLimits {
        data_limit_id: id(&f.data_limit_id),
        sms_mo_limit_id: id(&f.sms_mo_limit_id),
        sms_mt_limit_id: id(&f.sms_mt_limit_id),
    };
    let message = match limits::change(&app, req).await {
        Ok(_) => "Limits changed at the provider.".to_owned(),
        Err(e) => format!("Limits not changed. {}", provider_message(e)?),
    };
    Ok(redirect_with("/provider/limits", message))
}
