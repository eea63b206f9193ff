//! The `simfleet` binary: one command line for the server and its chores.

mod config;
mod demo;
mod sync_cmd;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use config::{Config, LogFormat};
use simfleet_domain::Role;
use simfleet_server::crypto::{hash_password, SecretBox};
use simfleet_store::Store;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// mimalloc rather than the system allocator: the bulk paths (imports, list pages, sync)
/// allocate many small short-lived values, and glibc's malloc was a quarter of an import's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc asks the kernel for transparent huge pages where it may. Each first touch of one
/// then zeroes 2 MiB at once, which made up half of an import's CPU time, and more when the
/// kernel has to compact memory first. Small pages cost more faults but far less zeroing:
/// an import of 100,000 rows used 0.8 s of CPU with huge pages and 0.5 s without.
fn without_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        // Only slower, not wrong.
        eprintln!("warning: cannot turn transparent huge pages off: {e}");
    }
}

/// Variables read from the environment that have no flag (secrets stay out of `ps`).
const ENV_HELP: &str = "Also read from the environment (or the --config file):
  SIMFLEET_SECRET_KEY    key sealing PIN/PUK and other stored secrets (generated into the data dir when unset)
  ONENCE_API_URL         1NCE Management API base URL
  ONENCE_CLIENT_ID       1NCE API user; with ONENCE_CLIENT_SECRET enables the sync jobs
  ONENCE_CLIENT_SECRET
  SIMFLEET_SYNC_INTERVAL_<JOB>   seconds between runs of a job; JOB is one of SIMS, USAGE,
                         QUOTAS, CONNECTIVITY, EVENTS, SMS, OUTBOX, ALERTS, NOTIFY
`simfleet config check` prints the effective configuration with secrets masked.";

#[derive(Debug, Parser)]
#[command(name = "simfleet", version, about = "Self-hosted IoT SIM management", propagate_version = true, after_help = ENV_HELP)]
struct Cli {
    #[command(flatten)]
    config: config::Args,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: REST API, API reference and health endpoints.
    Serve,
    /// Try simfleet: a simulated 1NCE account with a realistic fleet, a first sync, an admin
    /// (password printed once) and the server, with data in --data-dir (default ./simfleet-demo).
    Demo {
        /// SIMs in the simulated 1NCE account.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
        sims: u32,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Run sync jobs once against the provider and exit (needs ONENCE_CLIENT_ID/SECRET).
    Sync {
        /// Which job; `all` runs sims, usage, quotas, connectivity, events, outbox, sms, alerts and notify in that order.
        #[arg(long, default_value = "all", value_parser = ["sims", "usage", "quotas", "connectivity", "events", "outbox", "sms", "alerts", "notify", "all"])]
        job: String,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import a SIM list (CSV or XLSX): preview it, then commit it unless --dry-run.
    /// Exits with 1 when rows are invalid and nothing was committed.
    Import {
        /// The CSV (`,` `;` or tab separated, UTF-8) or XLSX file.
        file: std::path::PathBuf,
        /// Only check the file against the inventory; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Commit the valid rows even when some rows are invalid.
        #[arg(long)]
        skip_invalid: bool,
        /// XLSX only: the sheet to read (default: the first).
        #[arg(long)]
        sheet: Option<String>,
    },
    /// Export the SIM list as CSV (to standard output by default) or XLSX.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write to this file (required for XLSX).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Only SIMs in these statuses, e.g. ACTIVE,SUSPENDED.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        customer_id: Option<i64>,
        #[arg(long)]
        tag: Option<String>,
        /// Add PIN and PUK columns (decrypted; recorded in the audit log).
        #[arg(long)]
        include_secrets: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (file, environment, flags) and print the effective values
    /// as TOML with secrets masked. Exits with 2 and one message per wrong value otherwise.
    Check,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. The password is asked for, or read from standard input with --password-stdin.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Operator,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Operator => Role::Operator,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

fn main() -> ExitCode {
    without_transparent_huge_pages();
    let cli = Cli::parse();
    let data_dir = cli.config.data_dir();
    let config = match Config::load(cli.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Config { command: ConfigCommand::Check } = cli.command {
        print!("{}", config.describe());
        eprintln!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    init_tracing(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command, config, data_dir));
    // Jobs started over the API are not waited for: their transactions roll back, their
    // leases expire. Do not let them hold the process.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of the output went away (`simfleet export | head`): stop quietly, with
        // the status a process killed by SIGPIPE has, as `cat` would.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(141),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::builder().parse_lossy(&config.log);
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => fmt.json().flatten_event(true).with_current_span(false).with_span_list(true).init(),
        LogFormat::Pretty => fmt.init(),
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url, &config.store_options())
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url_for_display()))?;
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
}

async fn run(command: Command, config: Config, data_dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Demo { sims } => demo::run(config, sims as usize, data_dir).await,
        Command::Config { command: ConfigCommand::Check } => Ok(()),
        Command::Sync { job } => {
            let store = open_store(&config).await?;
            sync_cmd::run_once(&config, &store, &job).await
        }
        Command::Migrate => {
            open_store(&config).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::User { command: UserCommand::Create { username, role, password_stdin } } => {
            create_user(&config, &username, role.into(), password_stdin).await
        }
        Command::Import { file, dry_run, skip_invalid, sheet } => {
            import_file(&config, &file, dry_run, skip_invalid, sheet.as_deref()).await
        }
        Command::Export { format, out, status, customer_id, tag, include_secrets } => {
            let query = simfleet_server::api::sims::SimListQuery {
                status,
                sim_type: None,
                customer_id,
                tariff_plan_id: None,
                tag,
                provider: None,
                q: None,
                sort: None,
                limit: None,
                cursor: None,
                count: false,
            };
            export_sims(&config, format, out.as_deref(), &query, include_secrets).await
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    serve_on(config, listener).await
}

/// Serves on an already bound listener until SIGTERM or Ctrl-C.
async fn serve_on(config: Config, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let secret_key = config.secret_key()?;
    let runner = sync_cmd::runner(&config, &store)?;
    let app = match &runner {
        Some(r) => simfleet_server::App::with_runner(
            store.clone(),
            SecretBox::new(&secret_key),
            config.app_config(),
            r.clone(),
        )?,
        None => simfleet_server::App::new(store.clone(), SecretBox::new(&secret_key), config.app_config())?,
    };
    // TLS files are read before serving, so that a bad certificate fails the start at once.
    let tls = match &config.tls {
        Some(files) => Some(simfleet_server::tls::load_config(&files.cert, &files.key)?),
        None => None,
    };
    let addr = listener.local_addr()?;
    if store.count_users().await? == 0 {
        tracing::warn!("no users yet: create one with `simfleet user create --username admin --role admin`");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, database = %config.database_url_for_display(), "simfleet is serving on {scheme}://{addr}");

    // One signal, watched by the server (stop accepting, drain) and the scheduler (no new runs).
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let scheduler = match runner {
        Some(r) => {
            tracing::info!("provider configured: sync jobs scheduled");
            Some(tokio::spawn(r.schedule(until_stopped(stopped.clone()))))
        }
        None => {
            tracing::info!("no provider configured (ONENCE_CLIENT_ID/SECRET): running as a pure inventory");
            None
        }
    };
    let router = simfleet_server::router(app);
    let server = async {
        match tls {
            Some(tls) => simfleet_server::tls::serve(listener, router, tls, until_stopped(stopped.clone())).await,
            None => simfleet_server::serve(listener, router, until_stopped(stopped.clone())).await,
        }
    };
    let deadline = async {
        until_stopped(stopped.clone()).await;
        tokio::time::sleep(config.shutdown_timeout).await;
    };
    tokio::select! {
        r = server => r?,
        _ = deadline => tracing::warn!(timeout_s = config.shutdown_timeout.as_secs(), "requests still in flight at the shutdown timeout; closing them"),
    }
    if let Some(scheduler) = scheduler {
        tracing::info!("waiting for running jobs to finish");
        if tokio::time::timeout(config.shutdown_timeout, scheduler).await.is_err() {
            tracing::warn!(
                "jobs still running at the shutdown timeout: their runs stay `running` until their lease expires"
            );
        }
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn create_user(config: &Config, username: &str, role: Role, password_stdin: bool) -> anyhow::Result<()> {
    if let Err(e) = simfleet_server::api::users::check_username(username) {
        bail!("username {e}");
    }
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for the password: use --password-stdin");
        }
        let first = rpassword_prompt("Password: ")?;
        let second = rpassword_prompt("Repeat password: ")?;
        if first != second {
            bail!("the passwords differ");
        }
        first
    };
    if let Err(e) = simfleet_server::api::users::check_password(&password) {
        bail!("password {e}");
    }
    let store = open_store(config).await?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    match store.create_user(username, &hash, role).await {
        Ok(u) => {
            println!("created user {} with role {}", u.username, u.role);
            Ok(())
        }
        Err(simfleet_store::StoreError::Conflict { .. }) => bail!("a user named {username} already exists"),
        Err(e) => Err(e.into()),
    }
}

fn rpassword_prompt(prompt: &str) -> anyhow::Result<String> {
    Ok(rpassword::prompt_password(prompt)?)
}

/// The name under which the command line appears in events and the audit log.
const CLI_ACTOR: &str = "cli";

async fn import_file(
    config: &Config,
    path: &std::path::Path,
    dry_run: bool,
    skip_invalid: bool,
    sheet: Option<&str>,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "import".into());
    let secrets = SecretBox::new(&config.secret_key()?);
    let input = simfleet_server::api::imports::prepare_import(&secrets, &name, &bytes, sheet)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    drop(bytes);
    let store = open_store(config).await?;
    let same = simfleet_server::api::imports::same_secret(&secrets);
    let import = if dry_run {
        store.check_import(&input, &same).await?
    } else {
        store.import_now(&input, skip_invalid, &same, CLI_ACTOR).await?
    };
    let label = if dry_run { "dry run".to_owned() } else { format!("import #{}", import.id) };
    // Written, not printed: a reader that stops early (`| head`) ends the command quietly.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{label}: {} rows in {name}: {} to create, {} to update, {} unchanged, {} invalid",
        import.total_rows, import.to_create, import.to_update, import.unchanged, import.invalid
    )?;
    for w in &import.warnings {
        writeln!(out, "warning: {w}")?;
    }
    for e in &import.errors {
        writeln!(out, "row {}, {}: {:?} {}", e.row, e.column, e.value, e.reason)?;
    }
    if import.invalid > 0 && (dry_run || !skip_invalid) {
        bail!(
            "{} invalid row(s); nothing was committed{}",
            import.invalid,
            if dry_run { "" } else { " (fix the file, or use --skip-invalid to commit only the valid rows)" }
        );
    }
    if dry_run {
        writeln!(out, "dry run: nothing was changed")?;
        return Ok(());
    }
    writeln!(
        out,
        "committed import #{}: {} created, {} updated",
        import.id,
        import.created.unwrap_or(0),
        import.updated.unwrap_or(0)
    )?;
    Ok(())
}

async fn export_sims(
    config: &Config,
    format: ExportFormat,
    out: Option<&std::path::Path>,
    query: &simfleet_server::api::sims::SimListQuery,
    include_secrets: bool,
) -> anyhow::Result<()> {
    use simfleet_server::api::exports::{write_xlsx, ExportSource};
    let (filter, sort) =
        simfleet_server::api::sims::parse_filter(query).map_err(|e| anyhow::anyhow!("{}", e.problem().detail))?;
    if matches!(format, ExportFormat::Xlsx) && out.is_none() {
        clap::Error::raw(clap::error::ErrorKind::MissingRequiredArgument, "an XLSX export needs --out FILE\n").exit();
    }
    let store = open_store(config).await?;
    let secrets = if include_secrets {
        store
            .append_audit(&simfleet_store::NewAuditEntry {
                actor: Some(CLI_ACTOR.into()),
                role: Some("admin".into()),
                method: "CLI".into(),
                path: "simfleet export --include-secrets".into(),
                route: Some("export (SECRETS_REVEALED)".into()),
                status: 200,
                ip: None,
                request_id: None,
            })
            .await?;
        Some(SecretBox::new(&config.secret_key()?))
    } else {
        None
    };
    let mut source = ExportSource::new(store.clone(), filter, sort, secrets);
    let mut sink: Box<dyn Write + Send> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let rows = match format {
        ExportFormat::Csv => {
            let mut csv = simfleet_io::CsvExport::new(include_secrets);
            let mut n = 0u64;
            while let Some(rows) = source.next_page().await? {
                n += rows.len() as u64;
                for r in &rows {
                    csv.push(r);
                }
                sink.write_all(&csv.take())?;
            }
            sink.write_all(&csv.take())?;
            sink.flush()?;
            n
        }
        ExportFormat::Xlsx => {
            let handle = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                let n = write_xlsx(&handle, source, include_secrets, &mut sink)?;
                sink.flush()?;
                anyhow::Ok(n)
            })
            .await??
        }
    };
    if let Some(p) = out {
        eprintln!("exported {rows} SIMs to {}", p.display());
    }
    Ok(())
}
