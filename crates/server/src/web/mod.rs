//! The dashboard: server-rendered pages (minijinja, auto-escaped), forms that work without
//! JavaScript, and D3 charts drawn from JSON embedded in the page.
//!
//! Every page is behind the session cookie set by `/login` (a login token, so lockout,
//! expiry and logout behave as in the API). Every form POST carries a CSRF token checked
//! by [`csrf::guard`] before any handler runs.

mod admin;
mod alerts;
mod analytics;
mod assets;
mod catalog;
mod channels;
pub mod csrf;
mod imports;
mod overview;
mod page;
mod provider;
mod reports;
mod session;
mod sim_provider;
mod sims;
mod sms;
mod support;
mod templates;

use crate::app::AppState;
use axum::middleware;
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;

pub use page::{Ctx, WebError};

/// Every dashboard route. The caller adds authentication (it must run outside the CSRF guard).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/overview") }))
        .merge(session::router())
        .merge(overview::router())
        .merge(sims::router())
        .merge(analytics::router())
        .merge(alerts::router())
        .merge(channels::router())
        .merge(catalog::router())
        .merge(imports::router())
        .merge(reports::router())
        .merge(provider::router())
        .merge(support::router())
        .merge(sms::router())
        .merge(admin::router())
        .layer(middleware::from_fn_with_state(state, csrf::guard))
        .merge(assets::router())
}
