//! Starting and stopping a server in-process (the binary and the tests use the same path).

use crate::admin;
use crate::auth::AuthService;
use crate::config::Config;
use crate::connection::Registry;
use crate::gateway;
use crate::state::Shared;
use crate::store::sqlite::SqliteStore;
use crate::store::{NewUser, Store, StoreError, UserRef};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running server. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    /// Main listener (TLS when configured).
    pub addr: SocketAddr,
    pub tls: bool,
    pub plain_addr: Option<SocketAddr>,
    pub admin_addr: Option<SocketAddr>,
    pub admin_key: Option<String>,
    /// The generated self-signed certificate (dev mode).
    pub generated_cert: Option<PathBuf>,
    pub shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Stop accepting connections and wait for the listeners to stop.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// The machine-readable line the binary prints when ready.
    pub fn ready_line(&self) -> String {
        serde_json::json!({
            "wss": self.tls.then(|| self.addr.to_string()),
            "ws": if self.tls { self.plain_addr.map(|a| a.to_string()) } else { Some(self.addr.to_string()) },
            "admin": self.admin_addr.map(|a| a.to_string()),
            "admin_key": self.admin_key,
            "cert": self.generated_cert.as_ref().map(|p| p.display().to_string()),
        })
        .to_string()
    }
}

/// Demo users of dev mode: `userN@app.acc`, password `secret`.
pub const DEV_USERS: [(&str, &str); 3] = [
    ("user1", "User One"),
    ("user2", "User Two"),
    ("user3", "User Three"),
];

async fn seed_dev(store: &dyn Store) -> Result<(), String> {
    let ok = |r: Result<(), StoreError>| match r {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    };
    ok(store.create_account("acc", None).await.map(drop))?;
    ok(store.create_app("acc", "app").await.map(drop))?;
    for (user, display) in DEV_USERS {
        ok(store
            .create_user(NewUser {
                name: UserRef {
                    user: user.into(),
                    app: "app".into(),
                    account: "acc".into(),
                },
                display_name: display.into(),
                password: "secret".into(),
            })
            .await
            .map(drop))?;
    }
    Ok(())
}

pub async fn start(mut config: Config) -> Result<RunningServer, String> {
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&config.db)
            .map_err(|e| format!("database {}: {e}", config.db.display()))?,
    );
    if config.dev {
        seed_dev(store.as_ref()).await?;
        if config.admin_key.is_none() {
            config.admin_key = Some(format!("dev-{}", uuid::Uuid::new_v4().simple()));
        }
    }
    let tls = crate::tls::load(&config.tls)?;
    let main = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = main.local_addr().map_err(|e| e.to_string())?;
    let plain = match config.plain_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .map_err(|e| format!("cannot listen on {a}: {e}"))?,
        ),
        None => None,
    };
    let admin = match config.admin_listen {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .map_err(|e| format!("cannot listen on {a}: {e}"))?,
        ),
        None => None,
    };
    let messenger = Arc::new(crate::messaging::Messenger::open(
        crate::messaging::store::StoreOptions {
            path: config.db.clone(),
            durable: config.durable,
            readers: 2,
            max_batch: 512,
            queue: 65536,
            commit_window: config.commit_window,
            commit_window_max: config.commit_window_max,
            wal_restart_bytes: config.wal_restart_bytes,
            request_log_secs: config.request_log_secs,
        },
        config.msg_rate,
        config.session_queue,
    )?);
    let (shutdown, rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        shutdown: rx.clone(),
        auth: AuthService::new(store.clone(), &config),
        store: store.clone(),
        connections: Registry::default(),
        messenger: messenger.clone(),
        config: config.clone(),
    });
    let router = gateway::router(shared.clone());
    let mut tasks = Vec::new();
    let acceptor = tls
        .as_ref()
        .map(|t| tokio_rustls::TlsAcceptor::from(t.config.clone()));
    tasks.push(tokio::spawn(gateway::serve(
        main,
        router.clone(),
        acceptor,
        rx.clone(),
    )));
    let plain_addr = match plain {
        Some(l) => {
            let a = l.local_addr().ok();
            tasks.push(tokio::spawn(gateway::serve_plain(
                l,
                router.clone(),
                rx.clone(),
            )));
            a
        }
        None => None,
    };
    let admin_addr = match admin {
        Some(l) => {
            let a = l.local_addr().ok();
            let key = config
                .admin_key
                .clone()
                .expect("admin key checked by Config::resolve");
            tasks.push(tokio::spawn(gateway::serve_plain(
                l,
                admin::router_with_messenger(store.clone(), key, Some(messenger.clone())),
                rx.clone(),
            )));
            a
        }
        None => None,
    };
    Ok(RunningServer {
        addr,
        tls: tls.is_some(),
        plain_addr,
        admin_addr,
        admin_key: config.admin_key.clone(),
        generated_cert: tls.and_then(|t| t.generated_cert),
        shared,
        shutdown,
        tasks,
    })
}
