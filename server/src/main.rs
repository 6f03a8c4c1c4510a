use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use vox_messenger_server::cli::{self, ProvisionCmd};
use vox_messenger_server::config::{Config, ServeArgs};
use vox_messenger_server::server;
use vox_messenger_server::store::sqlite::SqliteStore;

/// Self-hostable Messenger server speaking the Voximplant Web SDK wire protocol.
#[derive(Parser)]
#[command(
    name = "vox-messenger-server",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// SQLite database file.
    #[arg(long, env = "VOX_DB", global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<Command>,
    /// Without a subcommand, the flags of `serve` (so `vox-messenger-server --dev` runs the server).
    #[command(flatten)]
    serve: Box<ServeArgs>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    #[command(flatten)]
    Provision(ProvisionCmd),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VOX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vox-messenger-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let cmd = cli.cmd.unwrap_or(Command::Serve(cli.serve));
    match cmd {
        Command::Serve(mut args) => {
            args.db = cli.db;
            let config = Config::resolve(&args)?;
            let srv = server::start(config.clone()).await?;
            let scheme = if srv.tls { "https" } else { "http" };
            let ws = if srv.tls { "wss" } else { "ws" };
            eprintln!("vox-messenger-server {} ready", env!("CARGO_PKG_VERSION"));
            eprintln!("  database      {}", config.db.display());
            eprintln!("  WebSocket     {ws}://{}/platform", srv.addr);
            if let Some(root) = &config.web_root {
                eprintln!(
                    "  web page      {scheme}://{}/  (from {})",
                    srv.addr,
                    root.display()
                );
            }
            if let Some(a) = srv.plain_addr {
                eprintln!("  plain ws      ws://{a}/platform");
            }
            if let Some(a) = srv.admin_addr {
                eprintln!("  admin API     http://{a}/v1/  (Authorization: Bearer <admin key>)");
            }
            if let Some(c) = &srv.generated_cert {
                eprintln!(
                    "  certificate   {} (self-signed; trust it or use --ignore-certificate-errors)",
                    c.display()
                );
            }
            if config.dev {
                eprintln!("  admin key     {}", srv.admin_key.as_deref().unwrap_or(""));
                eprintln!(
                    "  demo users    user1@app.acc.voximplant.com, user2@…, user3@…  password: secret"
                );
                eprintln!(
                    "  Web SDK       VoxImplant.getInstance().init({{node:'NODE_1', serverIp:'{}'}})",
                    srv.addr
                );
            }
            // A closed stdout (e.g. piped into `head`) must not take the server down.
            let _ = writeln!(std::io::stdout(), "READY {}", srv.ready_line());
            use std::io::Write;
            let _ = std::io::stdout().flush();
            wait_for_signal().await;
            eprintln!("vox-messenger-server: shutting down");
            srv.shutdown().await;
            Ok(())
        }
        Command::Provision(cmd) => {
            let db = cli
                .db
                .unwrap_or_else(|| PathBuf::from("vox-messenger.sqlite3"));
            let store =
                SqliteStore::open(&db).map_err(|e| format!("database {}: {e}", db.display()))?;
            let out = cli::run(cmd, &store).await?;
            let _ = writeln!(std::io::stdout(), "{out}");
            Ok(())
        }
    }
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
