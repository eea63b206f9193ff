//! order-management.yml, product-information.yml, support-management.yml.

use reqwest::Method;

use crate::client::Call;
use crate::models::*;
use crate::{Client, Result};

impl Client {
    /// `GET /v1/orders` (1..=10 per page; sort by order_number, order_status, order_date).
    pub async fn list_orders(
        &self,
        page: Option<u32>,
        page_size: Option<u32>,
        sort: Option<&str>,
    ) -> Result<Page<Order>> {
        let call = Call::get("/v1/orders", "/v1/orders".into())
            .query("page", page)
            .query("pageSize", page_size)
            .query("sort", sort);
        self.call_page(call).await
    }

    /// `POST /v1/orders`
    pub async fn create_order(&self, order: &AdditionalOrder) -> Result<Created> {
        self.call_created(Call::new(Method::POST, "/v1/orders", "/v1/orders".into()).json(order)?).await
    }

    /// `GET /v1/orders/{order_number}`
    pub async fn get_order(&self, order_number: u64) -> Result<Order> {
        self.call_json(Call::get("/v1/orders/{order_number}", format!("/v1/orders/{order_number}"))).await
    }

    /// `GET /v1/products`
    pub async fn list_products(&self) -> Result<Vec<Product>> {
        self.call_json(Call::get("/v1/products", "/v1/products".into())).await
    }

    /// `GET /v1/support` (1..=100 per page; the API's default page size is 1).
    pub async fn list_service_requests(
        &self,
        page: Option<u32>,
        page_size: Option<u32>,
    ) -> Result<Page<ServiceRequest>> {
        let call = Call::get("/v1/support", "/v1/support".into()).query("page", page).query("pageSize", page_size);
        self.call_page(call).await
    }

    /// `POST /v1/support`
    pub async fn create_service_request(&self, request: &NewServiceRequest) -> Result<()> {
        self.call_unit(Call::new(Method::POST, "/v1/support", "/v1/support".into()).json(request)?).await
    }
}
