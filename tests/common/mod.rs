//! Test helpers: the real server in-process, a cuttable TCP proxy, a scripted gateway (`mock`)
//! that records every frame the SDK sends, and recorders for SDK events.
#![allow(dead_code)]

pub mod mock;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use vox_messenger::{Client, ClientConfig, ClientEvent, MessengerEvent, MessengerEventType};
use vox_messenger_server::config::{Config, ServeArgs};
use vox_messenger_server::server::{self, RunningServer};

pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const USER1: &str = "user1@app.acc.voximplant.com";
pub const USER2: &str = "user2@app.acc.voximplant.com";
pub const USER3: &str = "user3@app.acc.voximplant.com";
pub const PASSWORD: &str = "secret";

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

pub struct TestServer {
    pub srv: RunningServer,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// `ws://` address of the plain listener.
    pub fn ws(&self) -> String {
        format!("ws://{}", self.srv.plain_addr.expect("plain listener"))
    }
    pub fn wss(&self) -> String {
        format!("wss://{}", self.srv.addr)
    }
    pub fn cert_pem(&self) -> String {
        std::fs::read_to_string(self.srv.generated_cert.as_ref().expect("dev cert")).unwrap()
    }
}

/// A dev server (TLS main listener + a plain listener) on ephemeral ports.
pub async fn start_server() -> TestServer {
    start_server_with(|_| {}).await
}

/// A dev server without per-session rate limits (for load tests with no request spacing).
pub async fn start_server_unlimited() -> TestServer {
    start_server_with(|a| {
        a.msg_rate_per_second = Some(0);
        a.msg_rate_per_minute = Some(0);
    })
    .await
}

pub async fn start_server_with(tweak: impl FnOnce(&mut ServeArgs)) -> TestServer {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let mut args = ServeArgs {
        dev: true,
        listen: Some("127.0.0.1:0".parse().unwrap()),
        plain_listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        db: Some(dir.path().join("test.sqlite3")),
        ..Default::default()
    };
    tweak(&mut args);
    let config = Config::resolve(&args).expect("config");
    let srv = server::start(config).await.expect("server starts");
    TestServer { srv, dir }
}

/// The tests' client configuration: no request spacing (tests that need the Web SDK's 220 ms
/// queue say so).
pub fn config(server: &str) -> ClientConfig {
    let mut c = ClientConfig::new(server);
    c.request_spacing = Duration::ZERO;
    c
}

pub fn client(server: &str) -> Client {
    Client::new(config(server)).expect("client")
}

/// A connected, logged-in client.
pub async fn logged_in(server: &str, user: &str) -> Client {
    let c = client(server);
    within(c.connect()).await.expect("connect");
    within(c.login(user, PASSWORD)).await.expect("login");
    c
}

/// Await `f`, failing the test after [`TIMEOUT`].
pub async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, f).await.expect("timed out")
}

/// Records every event of a client, with the thread each callback ran on.
pub struct Recorder {
    pub client_events: tokio::sync::Mutex<mpsc::UnboundedReceiver<ClientEvent>>,
    pub events: tokio::sync::Mutex<mpsc::UnboundedReceiver<MessengerEvent>>,
    pub all: Arc<Mutex<Vec<MessengerEvent>>>,
    pub threads: Arc<Mutex<Vec<bool>>>,
}

impl Recorder {
    pub fn attach(client: &Client) -> Recorder {
        let (ctx, crx) = mpsc::unbounded_channel();
        let (etx, erx) = mpsc::unbounded_channel();
        let threads = Arc::new(Mutex::new(Vec::new()));
        let all = Arc::new(Mutex::new(Vec::new()));
        let t = threads.clone();
        client.on_event(move |e| {
            t.lock()
                .unwrap()
                .push(vox_messenger::runtime::is_callback_thread());
            let _ = ctx.send(e.clone());
        });
        let m = client.messenger();
        for ty in MessengerEventType::ALL {
            let etx = etx.clone();
            let t = threads.clone();
            let all = all.clone();
            m.on(ty, move |e| {
                t.lock()
                    .unwrap()
                    .push(vox_messenger::runtime::is_callback_thread());
                all.lock().unwrap().push(e.clone());
                let _ = etx.send(e.clone());
            });
        }
        Recorder {
            client_events: tokio::sync::Mutex::new(crx),
            events: tokio::sync::Mutex::new(erx),
            all,
            threads,
        }
    }

    /// Wait for a client event matching `pred` (others are skipped).
    pub async fn client_event(&self, pred: impl Fn(&ClientEvent) -> bool) -> ClientEvent {
        let mut rx = self.client_events.lock().await;
        let fut = async {
            loop {
                let e = rx.recv().await.expect("recorder alive");
                if pred(&e) {
                    return e;
                }
            }
        };
        within(fut).await
    }

    /// Wait for a messenger event matching `pred` (others are skipped).
    pub async fn event(&self, pred: impl Fn(&MessengerEvent) -> bool) -> MessengerEvent {
        let mut rx = self.events.lock().await;
        let fut = async {
            loop {
                let e = rx.recv().await.expect("recorder alive");
                if pred(&e) {
                    return e;
                }
            }
        };
        within(fut).await
    }

    pub fn all_on_callback_thread(&self) -> bool {
        self.threads.lock().unwrap().iter().all(|&b| b)
    }
}

/// A TCP proxy whose live connections can be cut at once (like a network failure).
pub struct Proxy {
    pub addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    blocked: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    pub accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = conns.clone();
        let a = accepted.clone();
        let up = Arc::new(Mutex::new(upstream));
        let blocked = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (u, b) = (up.clone(), blocked.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if b.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = *u.lock().unwrap();
                let task = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        let _ = inbound.shutdown().await;
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                c.lock().unwrap().push(task);
            }
        });
        Proxy {
            addr,
            upstream: up,
            blocked,
            conns,
            accepted,
        }
    }

    /// Refuse (drop at once) every new connection while `on`.
    pub fn block(&self, on: bool) {
        self.blocked.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Send new connections elsewhere.
    pub fn set_upstream(&self, addr: SocketAddr) {
        *self.upstream.lock().unwrap() = addr;
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Drop every live connection without a close handshake.
    pub fn cut(&self) {
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    pub fn ws(&self) -> String {
        format!("ws://{}", self.addr)
    }
}
