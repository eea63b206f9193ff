//! Shared state of the HTTP layer.

use crate::crypto::{hash_password, SecretBox};
use simfleet_store::Store;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// How long a login token stays valid.
    pub token_ttl: Duration,
    /// Failed logins in a row before an account is locked.
    pub login_max_failures: i32,
    /// How long such a lock lasts.
    pub login_lock: Duration,
    /// Largest request body accepted (imports need more; they have their own limit).
    pub max_body_bytes: usize,
    /// Mark the dashboard's cookies `Secure` (serve it over HTTPS, e.g. behind a TLS proxy).
    pub secure_cookies: bool,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            token_ttl: Duration::from_secs(12 * 3600),
            login_max_failures: 5,
            login_lock: Duration::from_secs(15 * 60),
            max_body_bytes: 2 * 1024 * 1024,
            secure_cookies: false,
        }
    }
}

/// Everything a handler needs, shared behind an `Arc`.
pub struct App {
    pub store: Store,
    pub secrets: SecretBox,
    pub config: AppConfig,
    /// Verified against when a login names an unknown user, so that the response time
    /// does not tell which usernames exist.
    pub(crate) decoy_hash: String,
    /// The sync jobs, when a provider is configured.
    pub runner: Option<Arc<simfleet_sync::Runner>>,
}

pub type AppState = Arc<App>;

impl App {
    pub fn new(store: Store, secrets: SecretBox, config: AppConfig) -> anyhow::Result<AppState> {
        let decoy_hash = hash_password("decoy password for unknown users")?;
        Ok(Arc::new(App { store, secrets, config, decoy_hash, runner: None }))
    }

    /// An app whose jobs can be listed and run over the API.
    pub fn with_runner(
        store: Store,
        secrets: SecretBox,
        config: AppConfig,
        runner: Arc<simfleet_sync::Runner>,
    ) -> anyhow::Result<AppState> {
        let decoy_hash = hash_password("decoy password for unknown users")?;
        Ok(Arc::new(App { store, secrets, config, decoy_hash, runner: Some(runner) }))
    }
}
