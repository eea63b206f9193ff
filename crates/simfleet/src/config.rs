//! Configuration: defaults, then an optional TOML file (`--config`), then environment
//! variables, then command-line flags.

use anyhow::{bail, Context};
use secrecy::SecretString;
use serde::Deserialize;
use simfleet_server::AppConfig;
use simfleet_store::StoreOptions;
use std::path::{Path, PathBuf};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./simfleet-data/simfleet.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML file with any of: database_url, listen, data_dir, secret_key, db_max_connections.
    #[arg(long, global = true, env = "SIMFLEET_CONFIG")]
    config: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://…` [default: sqlite://./simfleet-data/simfleet.db]
    #[arg(long, global = true, env = "SIMFLEET_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, global = true, env = "SIMFLEET_LISTEN")]
    listen: Option<String>,
    /// Where simfleet keeps its files (generated secret key, SQLite database by default).
    #[arg(long, global = true, env = "SIMFLEET_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Maximum database connections [default: 10]
    #[arg(long, global = true, env = "SIMFLEET_DB_MAX_CONNECTIONS")]
    db_max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    secret_key: Option<String>,
    db_max_connections: Option<u32>,
}

pub struct Config {
    /// The 1NCE API user, when `ONENCE_CLIENT_ID` and `ONENCE_CLIENT_SECRET` are set.
    pub provider: Option<ProviderConfig>,
    /// Seconds between runs of each sync job (`SIMFLEET_SYNC_INTERVAL_<JOB>`), where set.
    pub sync_intervals: Vec<(String, u64)>,
    pub database_url: String,
    pub listen: String,
    pub data_dir: PathBuf,
    pub db_max_connections: u32,
    secret_key: Option<SecretString>,
}

impl Config {
    pub fn load(args: Args) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let database_url = args.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            bail!("SIMFLEET_DATABASE_URL must start with sqlite:// or postgres://");
        }
        let listen = args.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        if listen.parse::<std::net::SocketAddr>().is_err() && !listen.contains(':') {
            bail!("SIMFLEET_LISTEN must be HOST:PORT, e.g. 127.0.0.1:8080 (got {listen:?})");
        }
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(|| default_data_dir(&database_url));
        let db_max_connections = args.db_max_connections.or(file.db_max_connections).unwrap_or(10);
        if db_max_connections == 0 {
            bail!("SIMFLEET_DB_MAX_CONNECTIONS must be at least 1");
        }
        let secret_key = std::env::var("SIMFLEET_SECRET_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .or(file.secret_key)
            .map(SecretString::from);
        let provider = ProviderConfig::from_env()?;
        let mut sync_intervals = Vec::new();
        for job in ["sims", "usage", "quotas", "connectivity", "outbox"] {
            let var = format!("SIMFLEET_SYNC_INTERVAL_{}", job.to_uppercase());
            if let Ok(value) = std::env::var(&var) {
                match value.trim().parse::<u64>() {
                    Ok(secs) if secs >= 1 => sync_intervals.push((job.to_owned(), secs)),
                    _ => bail!("{var} must be a positive number of seconds (got {value:?})"),
                }
            }
        }
        Ok(Config { provider, sync_intervals, database_url, listen, data_dir, db_max_connections, secret_key })
    }

    pub fn store_options(&self) -> StoreOptions {
        StoreOptions { max_connections: self.db_max_connections, pg_schema: None }
    }

    pub fn app_config(&self) -> AppConfig {
        AppConfig::default()
    }

    /// The database URL without its password, for messages and logs.
    pub fn database_url_for_display(&self) -> String {
        redact_url(&self.database_url)
    }

    /// `SIMFLEET_SECRET_KEY`, or the key kept in the data directory (created on first use).
    pub fn secret_key(&self) -> anyhow::Result<SecretString> {
        if let Some(k) = &self.secret_key {
            return Ok(k.clone());
        }
        let path = self.data_dir.join("secret.key");
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let key = existing.trim().to_owned();
            if key.len() < 32 {
                bail!("{} is too short to be a simfleet key", path.display());
            }
            return Ok(SecretString::from(key));
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create {}", self.data_dir.display()))?;
        let key = simfleet_server::crypto::generate_master_key();
        write_private(&path, &key)?;
        tracing::info!(path = %path.display(), "generated a new secret key; back it up: PIN/PUK cannot be read without it");
        Ok(SecretString::from(key))
    }
}

/// How to reach the 1NCE Management API.
pub struct ProviderConfig {
    pub api_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl ProviderConfig {
    fn from_env() -> anyhow::Result<Option<ProviderConfig>> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let api_url = get("ONENCE_API_URL").unwrap_or_else(|| onence::DEFAULT_BASE_URL.to_owned());
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            bail!("ONENCE_API_URL must be an http:// or https:// URL (got {api_url:?})");
        }
        match (get("ONENCE_CLIENT_ID"), get("ONENCE_CLIENT_SECRET")) {
            (Some(client_id), Some(secret)) => {
                Ok(Some(ProviderConfig { api_url, client_id, client_secret: SecretString::from(secret) }))
            }
            (None, None) => Ok(None),
            _ => bail!("set both ONENCE_CLIENT_ID and ONENCE_CLIENT_SECRET, or neither"),
        }
    }
}

fn default_data_dir(database_url: &str) -> PathBuf {
    database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("./simfleet-data"))
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    Ok(())
}

pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(redact_url("postgres://sf:hunter2@db:5432/sf"), "postgres://sf:***@db:5432/sf");
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn data_dir_follows_sqlite_file() {
        assert_eq!(default_data_dir("sqlite:///var/lib/simfleet/db.sqlite"), PathBuf::from("/var/lib/simfleet"));
        assert_eq!(default_data_dir("postgres://x@y/z"), PathBuf::from("./simfleet-data"));
    }
}
