//! simfleet's HTTP layer: the REST API under `/api/v1`, its OpenAPI description,
//! health endpoints, authentication and the audit log, and the web dashboard.

pub mod api;
pub mod app;
pub mod auth;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod observe;
mod report_xlsx;
pub mod tls;
pub mod web;

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

pub use app::{App, AppConfig};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The OpenAPI description of everything under `/api/v1`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = api_router().split_for_parts();
    doc
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(api::ApiDoc::openapi()).nest("/api/v1", api::router())
}

/// The whole application: API, API reference, health, dashboard.
pub fn router(state: AppState) -> Router {
    metrics::handle();
    let (api, doc) = api_router().split_for_parts();
    let body_limit = state.config.max_body_bytes;
    let api = api
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            let mut res = ApiError::BadRequest("method not allowed on this route".into()).into_response();
            *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            res
        })
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(DefaultBodyLimit::max(body_limit));
    // Serves the document at /api/v1/openapi.json and the (vendored, offline) reference page.
    let docs: Router<AppState> =
        Router::from(SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", doc)).with_state(());
    // The dashboard at `/`: the same authentication (its cookie) and audit as the API.
    let web = web::router(state.clone())
        .layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(DefaultBodyLimit::max(body_limit));
    Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::scrape))
        .merge(docs)
        .merge(api)
        .merge(web)
        .with_state(state)
        // Router::layer runs after routing: `observe` sees the route template.
        .layer(middleware::from_fn(observe::observe))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
