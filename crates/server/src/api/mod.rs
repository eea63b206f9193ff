//! The REST API under `/api/v1`.

pub mod activation_codes;
pub mod alerts;
pub mod analytics;
pub mod audit;
pub mod auth;
pub mod customers;
pub mod exports;
pub mod imports;
pub mod jobs;
pub mod lifecycle;
pub mod limits;
pub mod notifications;
pub mod orders;
pub mod provider_actions;
pub mod provider_data;
pub mod reports;
pub mod rfc3339;
pub mod sims;
pub mod sms;
pub mod stats;
pub mod support;
pub mod tariffs;
pub mod usage_export;
pub mod users;

use crate::app::AppState;
use crate::error::{ApiError, Problem};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "simfleet API", description = "Self-hosted IoT SIM management. Errors are `application/problem+json` (RFC 9457)."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(Problem, crate::error::FieldError)),
    tags(
        (name = "auth", description = "Log in and out"),
        (name = "sims", description = "SIM inventory"),
        (name = "lifecycle", description = "SIM lifecycle actions"),
        (name = "customers"), (name = "tariff-plans"), (name = "activation-codes"),
        (name = "users", description = "Users and API keys (admin)"),
        (name = "audit"), (name = "stats", description = "Aggregates for charts"),
        (name = "jobs", description = "Sync jobs and their runs"),
        (name = "provider", description = "Provider account: top-ups, SMS, connectivity resets, orders, products, support, limits, transfers and extensions"),
        (name = "alerts", description = "Alert rules, alerts, per-SIM mutes and notification channels"),
        (name = "health")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A login token (`sft_…`) or an API key (`sfk_…`)"))
                    .build(),
            ),
        );
    }
}

/// All `/api/v1` routes, with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(sims::router())
        .merge(lifecycle::router())
        .merge(customers::router())
        .merge(tariffs::router())
        .merge(activation_codes::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(stats::router())
        .merge(jobs::router())
        .merge(provider_data::router())
        .merge(imports::router())
        .merge(exports::router())
        .merge(provider_actions::router())
        .merge(sms::router())
        .merge(orders::router())
        .merge(support::router())
        .merge(limits::router())
        .merge(alerts::router())
        .merge(notifications::router())
        .merge(analytics::router())
        .merge(reports::router())
        .merge(usage_export::router())
}

/// `limit` (1–1000, default 50), `cursor` from the previous page, `count=true` for a total.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: bool,
}

impl PageParams {
    pub fn request(&self) -> Result<simfleet_store::PageRequest<'_>, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::field("limit", "must be between 1 and 1000"));
        }
        Ok(simfleet_store::PageRequest { limit, cursor: self.cursor.as_deref(), with_total: self.count })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Only with `count=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

impl<T> Page<T> {
    pub fn from_store<U>(p: simfleet_store::Page<U>, f: impl FnMut(U) -> T) -> Self {
        Page { items: p.items.into_iter().map(f).collect(), next_cursor: p.next_cursor, total: p.total }
    }
}

/// A list that is not paginated.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// Trims a text field and turns an empty one into `None`.
pub fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}
