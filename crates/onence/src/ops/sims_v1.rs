//! sim-management.yml: the 23 v1 operations.

use chrono::NaiveDate;
use reqwest::Method;

use super::seg;
use crate::client::Call;
use crate::models::*;
use crate::{Client, Result};

impl Client {
    /// `GET /v1/sims` — one page of SIMs with the `X-*` page counters.
    pub async fn list_sims(&self, query: &SimListQuery) -> Result<Page<Sim>> {
        let call = Call::get("/v1/sims", "/v1/sims".into())
            .query("page", query.page)
            .query("pageSize", query.page_size)
            .query("q", query.q.as_ref())
            .query("sort", query.sort.as_ref());
        self.call_page(call).await
    }

    /// `POST /v1/sims` — queue a configuration change of many SIMs (applied asynchronously).
    pub async fn configure_sims(&self, updates: &[SimUpdate]) -> Result<()> {
        self.call_unit(Call::new(Method::POST, "/v1/sims", "/v1/sims".into()).json(updates)?).await
    }

    /// `GET /v1/sims/{iccid}`
    pub async fn get_sim(&self, iccid: &str) -> Result<Sim> {
        self.call_json(Call::get("/v1/sims/{iccid}", format!("/v1/sims/{}", seg(iccid)))).await
    }

    /// `PUT /v1/sims/{iccid}` — change status, label, IMEI lock of one SIM.
    pub async fn update_sim(&self, iccid: &str, update: &SimUpdate) -> Result<()> {
        self.call_unit(Call::new(Method::PUT, "/v1/sims/{iccid}", format!("/v1/sims/{}", seg(iccid))).json(update)?)
            .await
    }

    /// `GET /v1/sims/{iccid}/status`
    pub async fn get_sim_status(&self, iccid: &str) -> Result<Connectivity> {
        self.call_json(Call::get("/v1/sims/{iccid}/status", format!("/v1/sims/{}/status", seg(iccid)))).await
    }

    /// `POST /v1/sims/simTransfer`
    pub async fn transfer_sims(&self, transfer: &SimTransfer) -> Result<()> {
        self.call_unit(Call::new(Method::POST, "/v1/sims/simTransfer", "/v1/sims/simTransfer".into()).json(transfer)?)
            .await
    }

    /// `GET /v1/sims/{iccid}/connectivity_info`
    pub async fn get_connectivity_info(
        &self,
        iccid: &str,
        subscriber: Option<bool>,
        ussd: Option<bool>,
    ) -> Result<ConnectivityInfo> {
        let call =
            Call::get("/v1/sims/{iccid}/connectivity_info", format!("/v1/sims/{}/connectivity_info", seg(iccid)))
                .query("subscriber", subscriber)
                .query("ussd", ussd);
        self.call_json(call).await
    }

    /// `POST /v1/sims/{iccid}/reset` — queue a connectivity reset.
    pub async fn reset_connectivity(&self, iccid: &str) -> Result<()> {
        self.call_unit(Call::new(Method::POST, "/v1/sims/{iccid}/reset", format!("/v1/sims/{}/reset", seg(iccid))))
            .await
    }

    /// `GET /v1/sims/{iccid}/events` — one page (1..=1000 per page). Page counters come from
    /// the headers, falling back to the body's `totalEvents` / `totalPages`.
    pub async fn list_events(
        &self,
        iccid: &str,
        page: Option<u32>,
        page_size: Option<u32>,
        sort: Option<&str>,
    ) -> Result<Page<SimEvent>> {
        let call = Call::get("/v1/sims/{iccid}/events", format!("/v1/sims/{}/events", seg(iccid)))
            .query("page", page)
            .query("pageSize", page_size)
            .query("sort", sort);
        let answer = self.call(call).await?;
        let body: EventCollection = answer.json()?;
        let headers: Page<serde_json::Value> = Page { items: Vec::new(), ..answer.page_headers()? };
        Ok(Page {
            items: body.events,
            total_count: headers.total_count.or(body.total_events),
            total_pages: headers.total_pages.or(body.total_pages),
            current_page: headers.current_page.or(page),
            per_page: headers.per_page.or(page_size),
        })
    }

    /// `GET /v1/sims/{iccid}/usage` — daily data and SMS usage (the API keeps six months).
    pub async fn get_usage(&self, iccid: &str, start: Option<NaiveDate>, end: Option<NaiveDate>) -> Result<DailyUsage> {
        let fmt = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        let call = Call::get("/v1/sims/{iccid}/usage", format!("/v1/sims/{}/usage", seg(iccid)))
            .query("start_dt", start.map(fmt))
            .query("end_dt", end.map(fmt));
        self.call_json(call).await
    }

    /// `GET /v1/sims/{iccid}/quota/data` (volumes in MB).
    pub async fn get_data_quota(&self, iccid: &str) -> Result<Quota> {
        self.call_json(Call::get("/v1/sims/{iccid}/quota/data", format!("/v1/sims/{}/quota/data", seg(iccid)))).await
    }

    /// `GET /v1/sims/{iccid}/quota/sms`
    pub async fn get_sms_quota(&self, iccid: &str) -> Result<Quota> {
        self.call_json(Call::get("/v1/sims/{iccid}/quota/sms", format!("/v1/sims/{}/quota/sms", seg(iccid)))).await
    }

    /// `GET /v1/sims/{iccid}/sms` — one page (1..=100 per page).
    pub async fn list_sms(
        &self,
        iccid: &str,
        page: Option<u32>,
        page_size: Option<u32>,
        sort: Option<&str>,
    ) -> Result<Page<SmsData>> {
        let call = Call::get("/v1/sims/{iccid}/sms", format!("/v1/sims/{}/sms", seg(iccid)))
            .query("page", page)
            .query("pageSize", page_size)
            .query("sort", sort);
        self.call_page(call).await
    }

    /// `POST /v1/sims/{iccid}/sms` — send an MT-SMS.
    pub async fn send_sms(&self, iccid: &str, sms: &SmsMessage) -> Result<()> {
        self.call_unit(
            Call::new(Method::POST, "/v1/sims/{iccid}/sms", format!("/v1/sims/{}/sms", seg(iccid))).json(sms)?,
        )
        .await
    }

    /// `GET /v1/sims/{iccid}/sms/{id}`
    pub async fn get_sms(&self, iccid: &str, id: u64) -> Result<SmsData> {
        self.call_json(Call::get("/v1/sims/{iccid}/sms/{id}", format!("/v1/sims/{}/sms/{id}", seg(iccid)))).await
    }

    /// `DELETE /v1/sims/{iccid}/sms/{id}` — cancel a buffered MT-SMS.
    pub async fn cancel_sms(&self, iccid: &str, id: u64) -> Result<()> {
        self.call_unit(Call::new(
            Method::DELETE,
            "/v1/sims/{iccid}/sms/{id}",
            format!("/v1/sims/{}/sms/{id}", seg(iccid)),
        ))
        .await
    }

    /// `POST /v1/sims/{iccid}/topup` — creates a top-up order (`Location` → the order).
    pub async fn top_up(&self, iccid: &str, payment: Option<PaymentMethod>) -> Result<Created> {
        let call = Call::new(Method::POST, "/v1/sims/{iccid}/topup", format!("/v1/sims/{}/topup", seg(iccid)))
            .query("payment_method", payment.map(PaymentMethod::as_str));
        self.call_created(call).await
    }

    /// `POST /v1/sims/topup` — bulk top-up.
    pub async fn top_up_many(&self, iccids: &[String], payment: Option<PaymentMethod>) -> Result<Created> {
        let call = Call::new(Method::POST, "/v1/sims/topup", "/v1/sims/topup".into())
            .query("payment_method", payment.map(PaymentMethod::as_str))
            .json(iccids)?;
        self.call_created(call).await
    }

    /// `POST /v1/sims/autoTopup`
    pub async fn set_auto_top_up(&self, request: &AutoTopupRequest) -> Result<()> {
        self.call_unit(Call::new(Method::POST, "/v1/sims/autoTopup", "/v1/sims/autoTopup".into()).json(request)?).await
    }

    /// `GET /v1/sims/limits` — the global self-set monthly limits.
    pub async fn get_limits(&self) -> Result<Limits> {
        self.call_json(Call::get("/v1/sims/limits", "/v1/sims/limits".into())).await
    }

    /// `POST /v1/sims/limits`
    pub async fn set_limits(&self, request: &SetLimitsRequest) -> Result<()> {
        self.call_unit(Call::new(Method::POST, "/v1/sims/limits", "/v1/sims/limits".into()).json(request)?).await
    }

    /// `GET /v1/sims/{service}/limits` — selectable limit options of a service.
    pub async fn get_selectable_limits(&self, service: LimitService) -> Result<SelectableLimits> {
        self.call_json(Call::get("/v1/sims/{service}/limits", format!("/v1/sims/{}/limits", service.as_str()))).await
    }

    /// `POST /v1/sims/extension` — extend SIM lifetimes (renews quotas, invoices).
    pub async fn extend_sims(&self, request: &SimExtensionRequest, payment: Option<PaymentMethod>) -> Result<()> {
        let call = Call::new(Method::POST, "/v1/sims/extension", "/v1/sims/extension".into())
            .query("payment_method", payment.map(PaymentMethod::as_str))
            .json(request)?;
        self.call_unit(call).await
    }
}
