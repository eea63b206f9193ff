//! The provider account beyond SIM data: catalogue, orders, support tickets and SMS, read
//! from 1NCE and mirrored into the store; and how provider refusals are classified.

use crate::jobs::Syncer;
use anyhow::Context;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use simfleet_store::{ProductRow, ProviderOrder, ProviderRef, ProviderSms, ProviderTicket};

/// Why the provider refused a request, as a stable slug (also the problem type of the API).
pub fn refusal_kind(e: &onence::Error) -> &'static str {
    match e {
        onence::Error::Auth { status: 403, message } if message.contains("belong") => "sim-not-owned",
        onence::Error::Validation { status: 422 | 409, message, .. } if message.to_lowercase().contains("expired") => {
            "sim-expired"
        }
        onence::Error::Validation { status: 400, message, .. } if message.to_lowercase().contains("payment method") => {
            "invalid-payment-method"
        }
        onence::Error::NotFound { .. } => "provider-not-found",
        _ => "rejected",
    }
}

/// A provider timestamp (`2026-01-02T03:04:05.000Z`, `…+00:00`, `…+0000` as v1 events
/// write it, or `2026-01-02 03:04:05`).
pub fn parse_time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    let raw = raw?.trim();
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S").ok().map(|n| n.and_utc()))
        .or_else(|| NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc()))
}

/// `"12.50"` → 125000 (1/10,000 units).
pub fn money_e4(raw: &str) -> Option<i64> {
    simfleet_domain::Money::parse(raw).ok().map(simfleet_domain::Money::to_scaled)
}

/// An order of the provider as the store keeps it.
pub fn provider_order(o: &onence::models::Order, created_by: Option<&str>) -> anyhow::Result<ProviderOrder> {
    let order_number = o.order_number.context("the provider sent an order without number")? as i64;
    let products: Vec<serde_json::Value> =
        o.products.iter().flatten().map(|p| json!({ "product_id": p.product_id, "quantity": p.quantity })).collect();
    Ok(ProviderOrder {
        order_number,
        order_type: o.order_type.clone(),
        status: o.order_status.clone(),
        order_date: parse_time(o.order_date.as_deref()),
        invoice_number: o.invoice_number.clone(),
        invoice_amount_e4: o.invoice_amount.as_deref().and_then(money_e4),
        currency: o.currency.clone(),
        delivery_address: o.shipping_address.as_ref().map(|a| serde_json::to_string(a).unwrap_or_default()),
        products: serde_json::Value::Array(products).to_string(),
        customer_reference: None,
        created_by: created_by.map(str::to_owned),
        sim_refs: o.sims.iter().flatten().filter_map(|s| s.iccid.clone()).collect(),
    })
}

fn charges(list: &Option<Vec<onence::models::Charge>>) -> String {
    let items: Vec<serde_json::Value> = list
        .iter()
        .flatten()
        .map(|c| {
            let amount = c
                .amount_net
                .and_then(|v| simfleet_domain::Money::parse(&format!("{v:.4}")).ok())
                .map(|m| String::from(simfleet_domain::Money::from_scaled(m.to_scaled())));
            json!({ "name": c.name, "amount": amount, "currency": c.currency })
        })
        .collect();
    serde_json::Value::Array(items).to_string()
}

/// A catalogue entry as the store keeps it.
pub fn product_row(p: &onence::models::Product, now: DateTime<Utc>) -> Option<ProductRow> {
    Some(ProductRow {
        id: p.id?,
        name: p.product.clone().unwrap_or_default(),
        material: p.material.clone(),
        package_size: p.package_size,
        min_quantity: p.min_quantity,
        max_quantity: p.max_quantity,
        max_quantity_per_customer: p.max_quantity_per_customer,
        min_contract_duration: p.min_contract_duration,
        one_time_charges: charges(&p.one_time_charges),
        recurring_charges: charges(&p.recurring_charges),
        refreshed_at: now,
    })
}

/// A support case as the store keeps it.
pub fn provider_ticket(r: &onence::models::ServiceRequest) -> Option<ProviderTicket> {
    let thread: Vec<serde_json::Value> = r
        .communications
        .iter()
        .flatten()
        .map(|c| {
            json!({
                "id": c.id,
                "date": parse_time(c.communication_date.as_deref()),
                "direction": c.direction,
                "originator": c.originator,
                "subject": c.subject,
                "text": c.text,
                "channel": c.kind,
            })
        })
        .collect();
    Some(ProviderTicket {
        case_id: r.case_id.clone()?,
        subject: r.subject.clone().unwrap_or_default(),
        text: r.text.clone().unwrap_or_default(),
        status: r.status.clone().unwrap_or_else(|| "OPEN".into()),
        created_at: parse_time(r.create_date.as_deref()).unwrap_or_else(simfleet_store::now),
        solved_at: parse_time(r.solved_date.as_deref()),
        communications: serde_json::Value::Array(thread).to_string(),
    })
}

/// An SMS as the store keeps it.
pub fn provider_sms(m: &onence::models::SmsData) -> Option<ProviderSms> {
    let direction = match m.sms_type.as_ref().and_then(|t| t.description.as_deref()) {
        Some("MO") => "MO",
        Some("MT") => "MT",
        _ => match m.sms_type.as_ref().and_then(|t| t.id) {
            Some(2) => "MO",
            _ => "MT",
        },
    };
    Some(ProviderSms {
        provider_id: m.id? as i64,
        direction: direction.into(),
        status: m.status.as_ref().and_then(|s| s.description.clone()).unwrap_or_else(|| "UNKNOWN".into()),
        payload: m.payload.clone(),
        udh: m.udh.clone().filter(|u| !u.is_empty()),
        dcs: m.dcs,
        source_address: m.source_address.clone(),
        submitted_at: parse_time(m.submit_date.as_deref()),
        delivered_at: parse_time(m.delivery_date.as_deref()),
        expires_at: parse_time(m.expiry_date.as_deref()),
    })
}

impl Syncer {
    /// Reads the catalogue and replaces the cached copy.
    pub async fn refresh_products(&self) -> anyhow::Result<Vec<ProductRow>> {
        let now = simfleet_store::now();
        let rows: Vec<ProductRow> =
            self.client().list_products().await?.iter().filter_map(|p| product_row(p, now)).collect();
        self.store().replace_products(&rows).await?;
        Ok(rows)
    }

    /// Reads every order (the API pages by ten) and stores them; returns how many.
    pub async fn refresh_orders(&self) -> anyhow::Result<usize> {
        let mut orders = Vec::new();
        let mut page = 1;
        loop {
            let p = self.client().list_orders(Some(page), Some(10), Some("order_number")).await?;
            let n = p.items.len();
            for o in &p.items {
                orders.push(provider_order(o, None)?);
            }
            let last = p.total_pages.map_or(n < 10, |t| page >= t);
            if last || n == 0 {
                break;
            }
            page += 1;
        }
        self.store().upsert_orders(&orders).await?;
        Ok(orders.len())
    }

    /// Reads one order and stores it.
    pub async fn refresh_order(&self, number: u64, created_by: Option<&str>) -> anyhow::Result<ProviderOrder> {
        let order = provider_order(&self.client().get_order(number).await?, created_by)?;
        self.store().upsert_orders(std::slice::from_ref(&order)).await?;
        Ok(order)
    }

    /// Every support case of the account.
    pub async fn fetch_tickets(&self) -> anyhow::Result<Vec<ProviderTicket>> {
        let mut tickets = Vec::new();
        let mut page = 1;
        loop {
            let p = self.client().list_service_requests(Some(page), Some(100)).await?;
            let n = p.items.len();
            tickets.extend(p.items.iter().filter_map(provider_ticket));
            let last = p.total_pages.map_or(n < 100, |t| page >= t);
            if last || n == 0 {
                break;
            }
            page += 1;
        }
        Ok(tickets)
    }

    /// Reads the support cases and stores them; returns how many.
    pub async fn refresh_tickets(&self) -> anyhow::Result<usize> {
        let tickets = self.fetch_tickets().await?;
        self.store().upsert_tickets(&tickets).await?;
        Ok(tickets.len())
    }

    /// Reads all SMS of one SIM.
    pub async fn fetch_sms(&self, provider_ref: &str) -> Result<Vec<ProviderSms>, onence::Error> {
        let all: Vec<onence::models::SmsData> = self.client().stream_sms(provider_ref, 100, 1).try_collect().await?;
        Ok(all.iter().filter_map(provider_sms).collect())
    }

    /// Reads the SMS of `refs` (a few at a time) and stores them; per-SIM errors are returned.
    /// Expired SIMs (the provider refuses to list their messages) are skipped.
    pub async fn sync_sms_of(&self, refs: Vec<ProviderRef>) -> anyhow::Result<(i64, Vec<(String, onence::Error)>)> {
        let mut ok = 0;
        let mut errors = Vec::new();
        for chunk in refs.chunks(200) {
            let fetched: Vec<_> = futures::stream::iter(chunk.iter().cloned().map(|r| async move {
                let sms = self.fetch_sms(&r.provider_ref).await;
                (r, sms)
            }))
            .buffer_unordered(self.concurrency())
            .collect()
            .await;
            let mut batch = Vec::new();
            for (r, sms) in fetched {
                match sms {
                    Ok(list) => {
                        ok += 1;
                        batch.push((r.sim_id, list));
                    }
                    // An expired SIM's messages cannot be read until it is extended: not a failure of the sync.
                    Err(e) if refusal_kind(&e) == "sim-expired" => {}
                    Err(e) => errors.push((r.iccid, e)),
                }
            }
            self.store().replace_sim_sms(&batch).await?;
        }
        Ok((ok, errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(status: u16, message: &str) -> onence::Error {
        onence::Error::Validation { status, error_code: None, message: message.into() }
    }

    #[test]
    fn only_expiry_refusals_are_called_expired() {
        let expired = "The following SIMs are expired and cannot be modified via API. Only extensions are permitted: 1";
        assert_eq!(refusal_kind(&rejected(422, expired)), "sim-expired");
        assert_eq!(refusal_kind(&rejected(409, "SIM expired")), "sim-expired");
        assert_eq!(refusal_kind(&rejected(422, "Quota already at its maximum")), "rejected");
        assert_eq!(refusal_kind(&rejected(400, "Invalid payment method 'cash'")), "invalid-payment-method");
        let foreign = onence::Error::Auth { status: 403, message: "SIM does not belong to user".into() };
        assert_eq!(refusal_kind(&foreign), "sim-not-owned");
    }

    #[test]
    fn provider_timestamps_in_every_shape() {
        let want = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        for raw in [
            "2026-01-02T03:04:05.000Z",
            "2026-01-02T03:04:05+00:00",
            "2026-01-02T03:04:05.000+0000",
            "2026-01-02 03:04:05",
        ] {
            assert_eq!(parse_time(Some(raw)), Some(want), "{raw}");
        }
        assert_eq!(parse_time(Some("yesterday")), None);
    }
}
