//! Configuration: defaults, then an optional TOML file (`--config`), then environment
//! variables, then command-line flags.

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use simfleet_server::AppConfig;
use simfleet_store::StoreOptions;
use std::path::{Path, PathBuf};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./simfleet-data/simfleet.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML file with any of: database_url, listen, data_dir, secret_key, db_max_connections, secure_cookies.
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
    /// Log filter in `tracing` syntax, e.g. `debug,sqlx=warn` (falls back to RUST_LOG) [default: info,sqlx=warn]
    #[arg(long, global = true, env = "SIMFLEET_LOG")]
    log: Option<String>,
    /// Log format: `pretty` (human-readable, one line per event) or `json` (one object per line) [default: pretty]
    #[arg(long, global = true, env = "SIMFLEET_LOG_FORMAT")]
    log_format: Option<String>,
    /// PEM certificate chain: serve HTTPS natively (needs --tls-key too)
    #[arg(long, global = true, env = "SIMFLEET_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, global = true, env = "SIMFLEET_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Seconds to finish in-flight requests and running jobs after SIGTERM [default: 30]
    #[arg(long, global = true, env = "SIMFLEET_SHUTDOWN_TIMEOUT")]
    shutdown_timeout: Option<u64>,
}

impl Args {
    /// The data directory given on the command line or in the environment, if any.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir.clone()
    }
}

/// The sync jobs whose interval `SIMFLEET_SYNC_INTERVAL_<JOB>` sets.
const SYNC_JOBS: [&str; 9] = ["sims", "usage", "quotas", "connectivity", "events", "outbox", "sms", "alerts", "notify"];
pub const DEFAULT_LOG: &str = "info,sqlx=warn";
pub const DEFAULT_SHUTDOWN_TIMEOUT: u64 = 30;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        }
    }
}

/// Every wrong value found in the configuration, one precise message each. `simfleet`
/// prints them and exits with 2 (a usage error).
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration:")?;
        for problem in &self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    secret_key: Option<String>,
    db_max_connections: Option<u32>,
    log: Option<String>,
    log_format: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    shutdown_timeout: Option<u64>,
    onence_api_url: Option<String>,
    onence_client_id: Option<String>,
    onence_client_secret: Option<String>,
    sync_interval_sims: Option<u64>,
    sync_interval_usage: Option<u64>,
    sync_interval_quotas: Option<u64>,
    sync_interval_connectivity: Option<u64>,
    sync_interval_events: Option<u64>,
    sync_interval_outbox: Option<u64>,
    sync_interval_sms: Option<u64>,
    sync_interval_alerts: Option<u64>,
    sync_interval_notify: Option<u64>,
    secure_cookies: Option<bool>,
}

impl FileConfig {
    fn sync_interval(&self, job: &str) -> Option<u64> {
        match job {
            "sims" => self.sync_interval_sims,
            "usage" => self.sync_interval_usage,
            "quotas" => self.sync_interval_quotas,
            "connectivity" => self.sync_interval_connectivity,
            "events" => self.sync_interval_events,
            "outbox" => self.sync_interval_outbox,
            "sms" => self.sync_interval_sms,
            "alerts" => self.sync_interval_alerts,
            "notify" => self.sync_interval_notify,
            _ => None,
        }
    }
}

/// Native TLS: a PEM certificate chain and its key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
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
    /// Log filter (`tracing` syntax).
    pub log: String,
    pub log_format: LogFormat,
    pub tls: Option<TlsFiles>,
    /// How long a shutdown waits for requests and jobs in flight.
    pub shutdown_timeout: std::time::Duration,
    /// Mark dashboard cookies `Secure` (`SIMFLEET_SECURE_COOKIES`): set it when users reach
    /// simfleet over HTTPS, e.g. through a TLS-terminating proxy.
    pub secure_cookies: bool,
    secret_key: Option<SecretString>,
}

impl Config {
    /// Defaults, then the TOML file, then environment variables and flags. Every wrong value
    /// is reported, not just the first.
    pub fn load(args: Args) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let file = match &args.config {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => toml::from_str(&text).unwrap_or_else(|e: toml::de::Error| {
                    problems.push(format!("config file {}: {}", path.display(), e.message()));
                    FileConfig::default()
                }),
                Err(e) => {
                    problems.push(format!("config file {}: cannot read it: {e}", path.display()));
                    FileConfig::default()
                }
            },
            None => FileConfig::default(),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let file_intervals = SYNC_JOBS.map(|job| file.sync_interval(job));

        let database_url = args.database_url.or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        if !["sqlite:", "postgres:", "postgresql:"].iter().any(|p| database_url.starts_with(p)) {
            problems.push(format!(
                "SIMFLEET_DATABASE_URL must start with sqlite:// or postgres:// (got {:?})",
                redact_url(&database_url)
            ));
        }
        let listen = args.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        if let Err(why) = check_listen(&listen) {
            problems.push(format!("SIMFLEET_LISTEN must be HOST:PORT, e.g. 127.0.0.1:8080 (got {listen:?}): {why}"));
        }
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(|| default_data_dir(&database_url));
        let db_max_connections = args.db_max_connections.or(file.db_max_connections).unwrap_or(10);
        if !(1..=1000).contains(&db_max_connections) {
            problems.push(format!("SIMFLEET_DB_MAX_CONNECTIONS must be between 1 and 1000 (got {db_max_connections})"));
        }
        let secure_cookies = match env("SIMFLEET_SECURE_COOKIES") {
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    problems.push(format!("SIMFLEET_SECURE_COOKIES must be true or false (got {v:?})"));
                    false
                }
            },
            None => file.secure_cookies.unwrap_or(false),
        };
        let log = args.log.or(file.log).or_else(|| env("RUST_LOG")).unwrap_or_else(|| DEFAULT_LOG.into());
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&log) {
            problems.push(format!("SIMFLEET_LOG is not a valid log filter (got {log:?}): {e}"));
        }
        let log_format = match args.log_format.or(file.log_format).as_deref().map(str::trim) {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problems.push(format!("SIMFLEET_LOG_FORMAT must be json or pretty (got {other:?})"));
                LogFormat::Pretty
            }
        };
        let tls = match (args.tls_cert.or(file.tls_cert), args.tls_key.or(file.tls_key)) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                for (var, path) in [("SIMFLEET_TLS_CERT", &cert), ("SIMFLEET_TLS_KEY", &key)] {
                    if let Err(e) = std::fs::File::open(path) {
                        problems.push(format!("{var}: cannot read {}: {e}", path.display()));
                    }
                }
                Some(TlsFiles { cert, key })
            }
            _ => {
                problems.push("set both SIMFLEET_TLS_CERT and SIMFLEET_TLS_KEY, or neither".into());
                None
            }
        };
        let shutdown_timeout = args.shutdown_timeout.or(file.shutdown_timeout).unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
        if !(1..=3600).contains(&shutdown_timeout) {
            problems.push(format!("SIMFLEET_SHUTDOWN_TIMEOUT must be 1 to 3600 seconds (got {shutdown_timeout})"));
        }
        let secret_key = env("SIMFLEET_SECRET_KEY").or(file.secret_key).map(SecretString::from);
        if secret_key.as_ref().is_some_and(|k| k.expose_secret().chars().count() < 16) {
            problems
                .push("SIMFLEET_SECRET_KEY is too short: use at least 16 characters (32 random ones are best)".into());
        }
        let provider = ProviderConfig::from_sources(
            env("ONENCE_API_URL").or(file.onence_api_url),
            env("ONENCE_CLIENT_ID").or(file.onence_client_id),
            env("ONENCE_CLIENT_SECRET").or(file.onence_client_secret),
            &mut problems,
        );
        let mut sync_intervals = Vec::new();
        for (job, from_file) in SYNC_JOBS.into_iter().zip(file_intervals) {
            let var = format!("SIMFLEET_SYNC_INTERVAL_{}", job.to_uppercase());
            let value = match std::env::var(&var) {
                Ok(v) => Some(v.trim().parse::<u64>().map_err(|_| v)),
                Err(_) => from_file.map(Ok),
            };
            match value {
                Some(Ok(secs)) if secs >= 1 => sync_intervals.push((job.to_owned(), secs)),
                Some(Ok(secs)) => problems.push(format!("{var} must be a positive number of seconds (got {secs})")),
                Some(Err(raw)) => problems.push(format!("{var} must be a positive number of seconds (got {raw:?})")),
                None => {}
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError(problems));
        }
        Ok(Config {
            provider,
            sync_intervals,
            database_url,
            listen,
            data_dir,
            db_max_connections,
            log,
            log_format,
            tls,
            shutdown_timeout: std::time::Duration::from_secs(shutdown_timeout),
            secure_cookies,
            secret_key,
        })
    }

    /// The effective configuration as TOML, secrets masked (`simfleet config check`).
    pub fn describe(&self) -> String {
        let masked = "\"***\"".to_owned();
        let mut out = String::new();
        let mut line = |k: &str, v: String| out.push_str(&format!("{k} = {v}\n"));
        let q = |s: &str| format!("{s:?}");
        line("database_url", q(&self.database_url_for_display()));
        line("listen", q(&self.listen));
        line("data_dir", q(&self.data_dir.display().to_string()));
        line("db_max_connections", self.db_max_connections.to_string());
        match &self.secret_key {
            Some(_) => line("secret_key", masked.clone()),
            None => out_note(
                &mut line,
                "secret_key",
                &format!("generated into {}", self.data_dir.join("secret.key").display()),
            ),
        }
        line("log", q(&self.log));
        line("log_format", q(self.log_format.as_str()));
        match &self.tls {
            Some(t) => {
                line("tls_cert", q(&t.cert.display().to_string()));
                line("tls_key", q(&t.key.display().to_string()));
            }
            None => {
                out_note(&mut line, "tls_cert", "plain HTTP (terminate TLS at a proxy, or set tls_cert and tls_key)")
            }
        }
        line("shutdown_timeout", self.shutdown_timeout.as_secs().to_string());
        line("secure_cookies", self.secure_cookies.to_string());
        match &self.provider {
            Some(p) => {
                line("onence_api_url", q(&p.api_url));
                line("onence_client_id", q(&p.client_id));
                line("onence_client_secret", masked.clone());
            }
            None => out_note(&mut line, "onence_client_id", "no provider: pure inventory, no sync jobs"),
        }
        for job in SYNC_JOBS {
            let secs = self.sync_intervals.iter().find(|(j, _)| j == job).map(|(_, s)| *s).unwrap_or_else(|| {
                simfleet_sync::Job::parse(job).map(|j| simfleet_sync::default_interval(j).as_secs()).unwrap_or(0)
            });
            line(&format!("sync_interval_{job}"), secs.to_string());
        }
        out
    }

    pub fn store_options(&self) -> StoreOptions {
        StoreOptions { max_connections: self.db_max_connections, pg_schema: None }
    }

    pub fn app_config(&self) -> AppConfig {
        AppConfig { secure_cookies: self.secure_cookies, ..AppConfig::default() }
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
    fn from_sources(
        api_url: Option<String>,
        client_id: Option<String>,
        secret: Option<String>,
        problems: &mut Vec<String>,
    ) -> Option<ProviderConfig> {
        let api_url = api_url.unwrap_or_else(|| onence::DEFAULT_BASE_URL.to_owned());
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            problems.push(format!("ONENCE_API_URL must be an http:// or https:// URL (got {api_url:?})"));
        }
        match (client_id, secret) {
            (Some(client_id), Some(secret)) => {
                Some(ProviderConfig { api_url, client_id, client_secret: SecretString::from(secret) })
            }
            (None, None) => None,
            (Some(_), None) => {
                problems.push("ONENCE_CLIENT_ID is set but ONENCE_CLIENT_SECRET is not: set both, or neither".into());
                None
            }
            (None, Some(_)) => {
                problems.push("ONENCE_CLIENT_SECRET is set but ONENCE_CLIENT_ID is not: set both, or neither".into());
                None
            }
        }
    }
}

/// `HOST:PORT` with a numeric port; the host may be a name (resolved when binding).
fn check_listen(listen: &str) -> Result<(), &'static str> {
    if listen.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = listen.rsplit_once(':').ok_or("no port")?;
    if host.is_empty() {
        return Err("no host");
    }
    port.parse::<u16>().map(drop).map_err(|_| "the port is not a number from 0 to 65535")
}

/// An unset key, as a TOML comment saying what happens instead.
fn out_note(line: &mut impl FnMut(&str, String), key: &str, note: &str) {
    line(&format!("# {key}"), format!("(not set) {note}"));
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
        (Some(scheme_end), Some(at)) if at > scheme_end && url[scheme_end + 3..at].contains(':') => {
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
        assert_eq!(redact_url("postgres://sf@db/sf"), "postgres://sf@db/sf");
    }

    #[test]
    fn data_dir_follows_sqlite_file() {
        assert_eq!(default_data_dir("sqlite:///var/lib/simfleet/db.sqlite"), PathBuf::from("/var/lib/simfleet"));
        assert_eq!(default_data_dir("postgres://x@y/z"), PathBuf::from("./simfleet-data"));
    }
}
