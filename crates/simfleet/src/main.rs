//! The `simfleet` binary: one command line for the server and its chores.

mod config;

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
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
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
        Command::Migrate => {
            open_store(&config).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::User { command: UserCommand::Create { username, role, password_stdin } } => {
            create_user(&config, &username, role.into(), password_stdin).await
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let secret_key = config.secret_key()?;
    let app = simfleet_server::App::new(store.clone(), SecretBox::new(&secret_key), config.app_config())?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    if store.count_users().await? == 0 {
        tracing::warn!("no users yet: create one with `simfleet user create --username admin --role admin`");
    }
    tracing::info!(%addr, database = %config.database_url_for_display(), "simfleet is serving on http://{addr}");
    simfleet_server::serve(listener, simfleet_server::router(app), shutdown_signal()).await?;
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
