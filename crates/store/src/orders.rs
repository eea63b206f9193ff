//! Orders placed with the provider (first orders, additional orders, top-ups, extensions),
//! mirrored locally and linked to the SIMs they concern; and the provider's product catalogue.

use crate::db::{with_db, with_tx, Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::paging::HasId;
use crate::sql::{bind_args, Sql};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// An order as the provider reports it. `sim_refs` are the provider's ICCIDs of the SIMs it
/// concerns (with or without check digit).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderOrder {
    pub order_number: i64,
    pub order_type: Option<String>,
    pub status: Option<String>,
    pub order_date: Option<DateTime<Utc>>,
    pub invoice_number: Option<String>,
    pub invoice_amount_e4: Option<i64>,
    pub currency: Option<String>,
    /// JSON object.
    pub delivery_address: Option<String>,
    /// JSON `[{product_id, quantity}]`.
    pub products: String,
    pub customer_reference: Option<String>,
    pub created_by: Option<String>,
    pub sim_refs: Vec<String>,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OrderRow {
    pub id: i64,
    pub order_number: i64,
    pub order_type: Option<String>,
    pub status: Option<String>,
    pub order_date: Option<DateTime<Utc>>,
    pub invoice_number: Option<String>,
    pub invoice_amount_e4: Option<i64>,
    pub currency: Option<String>,
    pub delivery_address: Option<String>,
    pub products: String,
    pub customer_reference: Option<String>,
    pub created_by: Option<String>,
    pub synced_at: DateTime<Utc>,
}

impl HasId for OrderRow {
    fn id(&self) -> i64 {
        self.id
    }
}

const ORDER_COLUMNS: &str = "o.id, o.order_number, o.order_type, o.status, o.order_date, o.invoice_number, \
    o.invoice_amount_e4, o.currency, o.delivery_address, o.products, o.customer_reference, o.created_by, o.synced_at";

/// Filters of the order list.
#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub order_type: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only orders that concern this SIM.
    pub sim_id: Option<i64>,
}

/// A catalogue entry; charges are JSON `[{name, amount, currency}]` with decimal-string amounts.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ProductRow {
    pub id: i64,
    pub name: String,
    pub material: Option<String>,
    pub package_size: Option<i64>,
    pub min_quantity: Option<i64>,
    pub max_quantity: Option<i64>,
    pub max_quantity_per_customer: Option<i64>,
    pub min_contract_duration: Option<i64>,
    pub one_time_charges: String,
    pub recurring_charges: String,
    pub refreshed_at: DateTime<Utc>,
}

/// Inserts or refreshes an order and links it to its SIMs (known ones; others are ignored).
pub(crate) async fn upsert_order(tx: &mut Tx, o: &ProviderOrder, now: DateTime<Utc>) -> StoreResult<()> {
    let sql = "INSERT INTO provider_orders (order_number, order_type, status, order_date, invoice_number, invoice_amount_e4, \
        currency, delivery_address, products, customer_reference, created_by, synced_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
        ON CONFLICT (order_number) DO UPDATE SET order_type = excluded.order_type, status = excluded.status, \
        order_date = excluded.order_date, invoice_number = excluded.invoice_number, \
        invoice_amount_e4 = excluded.invoice_amount_e4, currency = excluded.currency, \
        delivery_address = COALESCE(excluded.delivery_address, provider_orders.delivery_address), \
        products = excluded.products, \
        customer_reference = COALESCE(excluded.customer_reference, provider_orders.customer_reference), \
        created_by = COALESCE(provider_orders.created_by, excluded.created_by), synced_at = excluded.synced_at \
        RETURNING id";
    let id: i64 = with_tx!(tx, c => sqlx::query_scalar(sql)
        .bind(o.order_number)
        .bind(o.order_type.as_deref())
        .bind(o.status.as_deref())
        .bind(o.order_date)
        .bind(o.invoice_number.as_deref())
        .bind(o.invoice_amount_e4)
        .bind(o.currency.as_deref())
        .bind(o.delivery_address.as_deref())
        .bind(o.products.as_str())
        .bind(o.customer_reference.as_deref())
        .bind(o.created_by.as_deref())
        .bind(now)
        .fetch_one(&mut *c)
        .await)?;
    for chunk in o.sim_refs.chunks(500) {
        let mut sql = Sql::new("INSERT INTO provider_order_sims (order_id, sim_id) SELECT ");
        let p = sql.arg(id);
        sql.push(&format!("{p}, id FROM sims WHERE provider_ref IN ("));
        let ph: Vec<String> = chunk.iter().map(|r| sql.arg(r.as_str())).collect();
        sql.push(&ph.join(", ")).push(") OR iccid IN (");
        let ph: Vec<String> = chunk.iter().map(|r| sql.arg(r.as_str())).collect();
        sql.push(&ph.join(", ")).push(") ON CONFLICT DO NOTHING");
        let text = sql.text_for(tx.dialect());
        with_tx!(tx, c => bind_args!(sqlx::query(&text), &sql.args).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

impl Store {
    /// Stores orders read from the provider, in one transaction.
    pub async fn upsert_orders(&self, orders: &[ProviderOrder]) -> StoreResult<()> {
        let now = crate::now();
        let mut tx = self.begin().await?;
        for o in orders {
            upsert_order(&mut tx, o, now).await?;
        }
        tx.commit().await
    }

    /// Orders, newest first.
    pub async fn list_orders(
        &self,
        f: &OrderFilter,
        page: crate::PageRequest<'_>,
    ) -> StoreResult<crate::Page<OrderRow>> {
        let mut sql = Sql::new(format!("SELECT {ORDER_COLUMNS} FROM provider_orders o WHERE 1=1"));
        if let Some(s) = &f.status {
            let p = sql.arg(s.as_str());
            sql.push(&format!(" AND o.status = {p}"));
        }
        if let Some(t) = &f.order_type {
            let p = sql.arg(t.as_str());
            sql.push(&format!(" AND o.order_type = {p}"));
        }
        if let Some(from) = f.from {
            let p = sql.arg(from);
            sql.push(&format!(" AND o.order_date >= {p}"));
        }
        if let Some(to) = f.to {
            let p = sql.arg(to);
            sql.push(&format!(" AND o.order_date < {p}"));
        }
        if let Some(sim) = f.sim_id {
            let p = sql.arg(sim);
            sql.push(&format!(" AND o.id IN (SELECT order_id FROM provider_order_sims WHERE sim_id = {p})"));
        }
        self.id_page(sql, "o", true, page).await
    }

    /// One order and the ICCIDs of the SIMs it concerns.
    pub async fn get_order(&self, order_number: i64) -> StoreResult<(OrderRow, Vec<String>)> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM provider_orders o WHERE o.order_number = $1");
        let row: Option<OrderRow> =
            with_db!(self, c => sqlx::query_as(&sql).bind(order_number).fetch_optional(c).await)?;
        let row = row.ok_or(StoreError::NotFound("order"))?;
        let sims: Vec<String> = with_db!(self, c => sqlx::query_scalar(
            "SELECT s.iccid FROM provider_order_sims os JOIN sims s ON s.id = os.sim_id WHERE os.order_id = $1 ORDER BY s.iccid",
        )
        .bind(row.id)
        .fetch_all(c)
        .await)?;
        Ok((row, sims))
    }

    /// Replaces the cached catalogue with `products`, in one transaction.
    pub async fn replace_products(&self, products: &[ProductRow]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, c => sqlx::query("DELETE FROM provider_products").execute(&mut *c).await.map(|r| r.rows_affected()))?;
        for p in products {
            with_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO provider_products (id, name, material, package_size, min_quantity, max_quantity, \
                 max_quantity_per_customer, min_contract_duration, one_time_charges, recurring_charges, refreshed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(p.id)
            .bind(p.name.as_str())
            .bind(p.material.as_deref())
            .bind(p.package_size)
            .bind(p.min_quantity)
            .bind(p.max_quantity)
            .bind(p.max_quantity_per_customer)
            .bind(p.min_contract_duration)
            .bind(p.one_time_charges.as_str())
            .bind(p.recurring_charges.as_str())
            .bind(p.refreshed_at)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await
    }

    /// The cached catalogue, by product id.
    pub async fn list_products(&self) -> StoreResult<Vec<ProductRow>> {
        Ok(with_db!(self, c => sqlx::query_as(
            "SELECT id, name, material, package_size, min_quantity, max_quantity, max_quantity_per_customer, \
             min_contract_duration, one_time_charges, recurring_charges, refreshed_at FROM provider_products ORDER BY id",
        )
        .fetch_all(c)
        .await)?)
    }
}
