//! The `simfleet` binary: one command line for the server and its chores.

mod config;
mod sync_cmd;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use config::Config;
use simfleet_domain::Role;
use simfleet_server::crypto::{hash_password, SecretBox};
use simfleet_store::Store;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "simfleet", version, about = "Self-hosted IoT SIM management", propagate_version = true)]
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
    /// Apply database migrations and exit.
    Migrate,
    /// Run sync jobs once against the provider and exit (needs ONENCE_CLIENT_ID/SECRET).
    Sync {
        /// Which job; `all` runs sims, usage, quotas, connectivity and outbox in that order.
        #[arg(long, default_value = "all", value_parser = ["sims", "usage", "quotas", "connectivity", "outbox", "all"])]
        job: String,
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
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIMFLEET_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url, &config.store_options())
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url_for_display()))?;
    store.migrate().await.context("cannot apply database migrations")?;
    Ok(store)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config)?;
    match cli.command {
        Command::Serve => serve(config).await,
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
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    if store.count_users().await? == 0 {
        tracing::warn!("no users yet: create one with `simfleet user create --username admin --role admin`");
    }
    tracing::info!(%addr, database = %config.database_url_for_display(), "simfleet is serving on http://{addr}");
    let (stop_jobs, jobs_stopped) = tokio::sync::oneshot::channel::<()>();
    match runner {
        Some(r) => {
            tracing::info!("provider configured: sync jobs scheduled");
            tokio::spawn(r.schedule(async move {
                let _ = jobs_stopped.await;
            }));
        }
        None => tracing::info!("no provider configured (ONENCE_CLIENT_ID/SECRET): running as a pure inventory"),
    }
    simfleet_server::serve(listener, simfleet_server::router(app), shutdown_signal()).await?;
    let _ = stop_jobs.send(());
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
        store.preview_import(&input, &same, CLI_ACTOR).await?
    };
    let label = if dry_run { "dry run".to_owned() } else { format!("import #{}", import.id) };
    println!(
        "{label}: {} rows in {name}: {} to create, {} to update, {} unchanged, {} invalid",
        import.total_rows, import.to_create, import.to_update, import.unchanged, import.invalid
    );
    for w in &import.warnings {
        println!("warning: {w}");
    }
    for e in &import.errors {
        println!("row {}, {}: {:?} {}", e.row, e.column, e.value, e.reason);
    }
    if import.invalid > 0 && (dry_run || !skip_invalid) {
        bail!(
            "{} invalid row(s); nothing was committed{}",
            import.invalid,
            if dry_run { "" } else { " (fix the file, or use --skip-invalid to commit only the valid rows)" }
        );
    }
    if dry_run {
        println!("dry run: nothing was changed");
        return Ok(());
    }
    let done = store.commit_import(import.id, skip_invalid, &same, CLI_ACTOR).await?;
    println!(
        "committed import #{}: {} created, {} updated",
        done.id,
        done.created.unwrap_or(0),
        done.updated.unwrap_or(0)
    );
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
    use std::io::Write;
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
