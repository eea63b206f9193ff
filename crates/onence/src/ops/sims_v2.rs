//! sim-management-v2.yml: the 13 v2 operations (`v2_` prefix).

use reqwest::Method;

use super::seg;
use crate::client::Call;
use crate::models::*;
use crate::{Client, Result};

impl Client {
    /// `GET /v2/sims`
    pub async fn v2_list_sims(&self, query: &SimListQuery) -> Result<Page<SimV2>> {
        let call = Call::get("/v2/sims", "/v2/sims".into())
            .query("page", query.page)
            .query("pageSize", query.page_size)
            .query("q", query.q.as_ref())
            .query("sort", query.sort.as_ref());
        self.call_page(call).await
    }

    /// `GET /v2/sims/{iccid}`
    pub async fn v2_get_sim(&self, iccid: &str) -> Result<SimV2> {
        self.call_json(Call::get("/v2/sims/{iccid}", format!("/v2/sims/{}", seg(iccid)))).await
    }

    /// `PUT /v2/sims/{iccid}`
    pub async fn v2_update_sim(&self, iccid: &str, update: &SimUpdateV2) -> Result<()> {
        self.call_unit(Call::new(Method::PUT, "/v2/sims/{iccid}", format!("/v2/sims/{}", seg(iccid))).json(update)?)
            .await
    }

    /// `POST /v2/sims/{iccid}/reset`
    pub async fn v2_reset_connectivity(&self, iccid: &str) -> Result<()> {
        self.call_unit(Call::new(Method::POST, "/v2/sims/{iccid}/reset", format!("/v2/sims/{}/reset", seg(iccid))))
            .await
    }

    /// `GET /v2/sims/{iccid}/quota/data`
    pub async fn v2_get_data_quota(&self, iccid: &str) -> Result<QuotaV2> {
        self.call_json(Call::get("/v2/sims/{iccid}/quota/data", format!("/v2/sims/{}/quota/data", seg(iccid)))).await
    }

    /// `GET /v2/sims/{iccid}/quota/sms`
    pub async fn v2_get_sms_quota(&self, iccid: &str) -> Result<QuotaV2> {
        self.call_json(Call::get("/v2/sims/{iccid}/quota/sms", format!("/v2/sims/{}/quota/sms", seg(iccid)))).await
    }

    /// `GET /v2/sims/{iccid}/status`
    pub async fn v2_get_status(&self, iccid: &str) -> Result<ConnectivityDetail> {
        self.call_json(Call::get("/v2/sims/{iccid}/status", format!("/v2/sims/{}/status", seg(iccid)))).await
    }

    /// `POST /v2/sims/{iccid}/sms` — returns the new SMS id.
    pub async fn v2_send_sms(&self, iccid: &str, sms: &SmsMessageV2) -> Result<CreateSmsResponse> {
        let answer = self
            .call(Call::new(Method::POST, "/v2/sims/{iccid}/sms", format!("/v2/sims/{}/sms", seg(iccid))).json(sms)?)
            .await?;
        if answer.body.is_empty() {
            return Ok(CreateSmsResponse::default());
        }
        answer.json()
    }

    /// `GET /v2/sims/{iccid}/sms` (`per_page` 1..=1000).
    pub async fn v2_list_sms(&self, iccid: &str, page: Option<u32>, per_page: Option<u32>) -> Result<Page<SmsV2>> {
        let call = Call::get("/v2/sims/{iccid}/sms", format!("/v2/sims/{}/sms", seg(iccid)))
            .query("page", page)
            .query("per_page", per_page);
        self.call_page(call).await
    }

    /// `GET /v2/sims/{iccid}/sms/{id}`
    pub async fn v2_get_sms(&self, iccid: &str, id: u64) -> Result<SmsV2> {
        self.call_json(Call::get("/v2/sims/{iccid}/sms/{id}", format!("/v2/sims/{}/sms/{id}", seg(iccid)))).await
    }

    /// `DELETE /v2/sims/{iccid}/sms/{id}`
    pub async fn v2_cancel_sms(&self, iccid: &str, id: u64) -> Result<DeleteItemResponse> {
        let answer = self
            .call(Call::new(Method::DELETE, "/v2/sims/{iccid}/sms/{id}", format!("/v2/sims/{}/sms/{id}", seg(iccid))))
            .await?;
        if answer.body.is_empty() {
            return Ok(DeleteItemResponse::default());
        }
        answer.json()
    }

    /// `GET /v2/sims/{iccid}/events` (bare array; 1..=1000 per page).
    pub async fn v2_list_events(
        &self,
        iccid: &str,
        page: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<Page<EventV2>> {
        let call = Call::get("/v2/sims/{iccid}/events", format!("/v2/sims/{}/events", seg(iccid)))
            .query("page", page)
            .query("pageSize", page_size);
        self.call_page(call).await
    }

    /// `POST /v2/sims/{iccid}/topup`
    pub async fn v2_top_up(&self, iccid: &str, payment: Option<PaymentMethod>) -> Result<Created> {
        let call = Call::new(Method::POST, "/v2/sims/{iccid}/topup", format!("/v2/sims/{}/topup", seg(iccid)))
            .query("payment_method", payment.map(PaymentMethod::as_str));
        self.call_created(call).await
    }
}
