//! A raw protocol client for server tests: real sockets, frames checked one by one.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use vox_messenger_server::config::{Config, ServeArgs};
use vox_messenger_server::server::{self, RunningServer};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub srv: RunningServer,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn plain(&self) -> SocketAddr {
        self.srv.plain_addr.expect("plain listener")
    }
}

/// Start an in-process dev server (TLS main listener + a plain listener) on ephemeral ports.
pub async fn start_with(tweak: impl FnOnce(&mut ServeArgs)) -> TestServer {
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

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the raw client observed when it read the next thing from the socket.
#[derive(Debug)]
pub enum Got {
    Frame(Value),
    Closed(Option<u16>),
}

pub struct RawClient {
    pub ws: Ws,
    /// The server's frames the test has read, in order.
    pub seen: Vec<Value>,
    pub next_seq: u64,
    pub conn_id: Option<String>,
}

pub fn url(addr: SocketAddr, scheme: &str, id: Option<&str>) -> String {
    let mut u = format!(
        "{scheme}://{addr}/platform?version=5&client_version=4.13.1-3005&video=true&ccheck=false&client_platform=chrome&im_version=2&acd_version=1"
    );
    if let Some(id) = id {
        u.push_str("&id=");
        u.push_str(id);
    }
    u.push_str("&features=1");
    u
}

impl RawClient {
    pub async fn open(url: &str) -> RawClient {
        let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timeout")
            .expect("connect");
        RawClient {
            ws,
            seen: vec![],
            next_seq: 1,
            conn_id: None,
        }
    }

    pub async fn open_tls(url: &str, cert_pem: &std::path::Path) -> RawClient {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(cert_pem).unwrap();
        for c in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (ws, _) = tokio::time::timeout(
            TIMEOUT,
            tokio_tungstenite::connect_async_tls_with_config(
                url,
                None,
                true,
                Some(tokio_tungstenite::Connector::Rustls(Arc::new(cfg))),
            ),
        )
        .await
        .expect("connect timeout")
        .expect("connect");
        RawClient {
            ws,
            seen: vec![],
            next_seq: 1,
            conn_id: None,
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    pub async fn send_json(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    /// Send a `msg` with the next client seq.
    pub async fn send_msg(&mut self, payload: Value) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.send_json(json!({"type": "msg", "seq": seq, "payload": payload}))
            .await;
        seq
    }

    pub async fn next(&mut self) -> Got {
        loop {
            let m = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("timed out waiting for the server");
            match m {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("server sent JSON");
                    self.seen.push(v.clone());
                    return Got::Frame(v);
                }
                Some(Ok(Message::Close(f))) => {
                    return Got::Closed(f.map(|f: CloseFrame| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Got::Closed(None),
            }
        }
    }

    pub async fn frame(&mut self) -> Value {
        match self.next().await {
            Got::Frame(v) => v,
            Got::Closed(c) => panic!("socket closed ({c:?}) while a frame was expected"),
        }
    }

    /// Read frames until a `msg` arrives, returning it (acks and others are kept in `seen`).
    pub async fn msg(&mut self) -> Value {
        loop {
            let f = self.frame().await;
            if f["type"] == "msg" {
                return f;
            }
        }
    }

    /// Read until the socket closes; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Got::Closed(c) = self.next().await {
                return c;
            }
        }
    }

    /// The `version=5` handshake of a new connection, as the Web SDK does it.
    pub async fn handshake(&mut self) {
        let id = self.frame().await;
        assert_eq!(id["type"], "id", "first frame must be id: {id}");
        self.conn_id = Some(id["id"].as_str().expect("id string").to_owned());
        self.send_json(json!({"type": "lastrx", "seq": 0})).await;
        assert_eq!(self.frame().await, json!({"type": "lastrx", "seq": 0}));
        assert_eq!(
            self.frame().await,
            json!({"type": "msg", "seq": 1, "payload": {"name": "__createConnection", "params": []}})
        );
    }

    pub async fn ack(&mut self, seq: u64) {
        self.send_json(json!({"type": "ack", "seq": seq})).await;
    }

    /// Send an RPC and return the first `msg` reply payload (after checking it was ACKed first).
    pub async fn rpc(&mut self, name: &str, params: Value) -> Value {
        let seq = self.send_msg(json!({"name": name, "params": params})).await;
        let ack = self.frame().await;
        assert_eq!(
            ack,
            json!({"type": "ack", "seq": seq}),
            "server must ACK before replying"
        );
        self.msg().await["payload"].clone()
    }
}

pub fn md5_digest(user: &str, password: &str) -> String {
    vox_protocol::auth::password_digest_md5(user, password)
}

pub fn sha256_digest(user: &str, password: &str) -> String {
    vox_protocol::auth::password_digest_sha256(user, password)
}

pub const USER1: &str = "user1@app.acc.voximplant.com";

/// Connect on the plain listener, handshake and log in as `user` with password `secret`.
pub async fn logged_in(ts: &TestServer, user: &str) -> (RawClient, Value) {
    logged_in_at(ts.plain(), user).await
}

/// [`logged_in`] on any plain `ws` address.
pub async fn logged_in_at(addr: SocketAddr, user: &str) -> (RawClient, Value) {
    let mut c = RawClient::open(&url(addr, "ws", None)).await;
    c.handshake().await;
    let short = user.split('@').next().unwrap();
    let reply = c
        .rpc(
            "login",
            json!([user, md5_digest(short, "secret"), {"credentialType": "md5"}]),
        )
        .await;
    assert_eq!(reply["name"], "loginSuccessful", "{reply}");
    (c, reply)
}

// ---------------------------------------------------------------------------------------------
// Messaging helpers
// ---------------------------------------------------------------------------------------------

/// IM ids of the dev users (ids start at 1001).
pub const U1: u64 = 1001;
pub const U2: u64 = 1002;
pub const U3: u64 = 1003;

/// A dev server with the per-session messaging rate limits switched off.
pub async fn start_msg() -> TestServer {
    start_msg_with(|_| {}).await
}

/// [`start_msg`] with more settings.
pub async fn start_msg_with(tweak: impl FnOnce(&mut ServeArgs)) -> TestServer {
    start_with(|a| {
        a.msg_rate_per_second = Some(0);
        a.msg_rate_per_minute = Some(0);
        tweak(a);
    })
    .await
}

/// A logged-in session that speaks the messaging envelope. Every server `msg` is ACKed.
pub struct Chat {
    pub raw: RawClient,
    /// Messaging frames read while waiting for something else, in arrival order.
    pub backlog: std::collections::VecDeque<Value>,
    pub user: u64,
}

pub fn full_name(short: &str) -> String {
    format!("{short}@app.acc.voximplant.com")
}

impl Chat {
    pub async fn login(ts: &TestServer, short: &str) -> Chat {
        Chat::login_at(ts.plain(), short).await
    }

    pub async fn login_at(addr: SocketAddr, short: &str) -> Chat {
        let (raw, _) = logged_in_at(addr, &full_name(short)).await;
        let user = match short {
            "user1" => U1,
            "user2" => U2,
            "user3" => U3,
            _ => 0,
        };
        Chat {
            raw,
            backlog: Default::default(),
            user,
        }
    }

    /// Send a request; returns its request_uuid. `@type` is added as the Web SDK does.
    pub async fn send(&mut self, action: &str, payload: Value) -> String {
        let uuid = uuid::Uuid::new_v4().to_string();
        self.send_as(&uuid, action, payload).await;
        uuid
    }

    /// Send a request with the given request_uuid (a client resending a request).
    pub async fn send_as(&mut self, uuid: &str, action: &str, mut payload: Value) -> String {
        if let Some(a) = vox_protocol::messaging::Action::from_name(action) {
            payload["@type"] = json!(a.at_type());
        }
        self.raw
            .send_msg(json!({"service": "chat", "event": action, "payload": payload, "request_uuid": uuid}))
            .await;
        uuid.to_owned()
    }

    /// The next messaging frame from the socket (ACKing it).
    async fn read_frame(&mut self) -> Value {
        loop {
            let f = self.raw.frame().await;
            if f["type"] == "msg" {
                let seq = f["seq"].as_u64().unwrap();
                self.raw.ack(seq).await;
                if f["payload"]["service"] == "chat" {
                    return f["payload"].clone();
                }
            }
        }
    }

    /// The first frame answering `uuid` (other frames go to the backlog).
    pub async fn reply(&mut self, uuid: &str) -> Value {
        if let Some(i) = self.backlog.iter().position(|f| f["request_uuid"] == uuid) {
            return self.backlog.remove(i).unwrap();
        }
        loop {
            let f = self.read_frame().await;
            if f["request_uuid"] == uuid {
                return f;
            }
            self.backlog.push_back(f);
        }
    }

    /// `n` frames answering `uuid`.
    pub async fn replies(&mut self, uuid: &str, n: usize) -> Vec<Value> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(self.reply(uuid).await);
        }
        out
    }

    /// Send and wait for the answer.
    pub async fn call(&mut self, action: &str, payload: Value) -> Value {
        let uuid = self.send(action, payload).await;
        self.reply(&uuid).await
    }

    /// Send, expect `onError` with `code`; returns the frame.
    pub async fn call_err(&mut self, action: &str, payload: Value, code: u64) -> Value {
        let f = self.call(action, payload.clone()).await;
        assert_eq!(
            f["event"], "onError",
            "{action} {payload}: expected error {code}, got {f}"
        );
        assert_eq!(f["payload"]["code"], code, "{action} {payload}: {f}");
        assert_eq!(f["payload"]["on_incoming_event"], action, "{f}");
        assert!(
            f["payload"]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        f
    }

    /// Send, expect the answer to be `event`; returns its payload.
    pub async fn call_ok(&mut self, action: &str, payload: Value, event: &str) -> Value {
        let f = self.call(action, payload.clone()).await;
        assert_eq!(f["event"], event, "{action} {payload}: {f}");
        f["payload"].clone()
    }

    /// The next pushed event (not an answer to this session's requests), from the backlog or the
    /// socket.
    pub async fn event(&mut self) -> Value {
        if let Some(i) = self.backlog.iter().position(|f| f["request_uuid"] == "") {
            return self.backlog.remove(i).unwrap();
        }
        loop {
            let f = self.read_frame().await;
            if f["request_uuid"] == "" {
                return f;
            }
            self.backlog.push_back(f);
        }
    }

    /// The next pushed event, which must be `name`; returns its payload.
    pub async fn expect(&mut self, name: &str) -> Value {
        let f = self.event().await;
        assert_eq!(f["event"], name, "expected {name}, got {f}");
        f["payload"].clone()
    }

    /// A conversation's last seq, as `getConversation` reports it.
    pub async fn last_seq(&mut self, conv: &str) -> u64 {
        let g = self
            .call_ok(
                "getConversation",
                json!({"uuid": conv}),
                "onGetConversation",
            )
            .await;
        g["seq"].as_u64().unwrap()
    }

    /// A conversation's whole event log as this user may see it (`retransmitEvents` from seq 1
    /// to `getConversation`'s seq, 100 at a time): each event's object, in seq order.
    pub async fn history(&mut self, conv: &str) -> Vec<Value> {
        let last = self.last_seq(conv).await;
        let mut out = Vec::new();
        let mut from = 1;
        while from <= last {
            let u = self
                .send(
                    "retransmitEvents",
                    json!({"conversation": conv, "events_from": from, "count": 100}),
                )
                .await;
            let head = self.reply(&u).await;
            let n = head["payload"]["count"].as_u64().unwrap() as usize;
            let mut frames = vec![head];
            if n > 1 {
                frames.extend(self.replies(&u, n - 1).await);
            }
            out.extend(frames.into_iter().map(|f| f["payload"]["object"].clone()));
            from += 100;
        }
        out
    }

    /// Prove that no pushed event is pending: a round trip through this session's queue
    /// (everything queued for it before the answer arrives first).
    pub async fn quiet(&mut self) {
        let f = self.call("getSubscriptionList", json!({})).await;
        assert_eq!(f["event"], "onGetSubscriptionList", "{f}");
        let pushed: Vec<&Value> = self
            .backlog
            .iter()
            .filter(|f| f["request_uuid"] == "")
            .collect();
        assert!(pushed.is_empty(), "unexpected events: {pushed:?}");
    }

    /// End the session the way the Web SDK does (`close` handshake), and wait for the socket
    /// to close.
    pub async fn close(mut self) {
        let seq = self.raw.next_seq;
        self.raw.next_seq += 1;
        self.raw
            .send_json(json!({"type": "close", "seq": seq}))
            .await;
        self.raw.closed().await;
    }

    /// Create a conversation; returns (uuid, reply payload).
    pub async fn create(&mut self, payload: Value) -> (String, Value) {
        let p = self
            .call_ok("createConversation", payload, "onCreateConversation")
            .await;
        (p["object"]["uuid"].as_str().unwrap().to_owned(), p)
    }

    /// Send a text message; returns the reply payload.
    pub async fn say(&mut self, conv: &str, text: &str) -> Value {
        self.call_ok(
            "sendMessage",
            json!({"text": text, "conversation": conv, "payload": []}),
            "onSendMessage",
        )
        .await
    }
}

/// Start the real server BINARY (dev mode, plain ws listener, no rate limits) on `db` and wait
/// for its READY line; returns the child (to SIGKILL) and its plain ws address.
pub fn spawn_server_binary(db: &std::path::Path) -> (std::process::Child, SocketAddr) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_vox-messenger-server"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .args([
            "--plain-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(["--msg-rate-per-second", "0", "--msg-rate-per-minute", "0"])
        .arg("--db")
        .arg(db)
        .env("VOX_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = loop {
        let line = lines
            .next()
            .expect("server exited before READY")
            .expect("read stdout");
        if let Some(rest) = line.strip_prefix("READY ") {
            break serde_json::from_str::<Value>(rest).expect("READY json");
        }
    };
    let ws = ready["ws"]
        .as_str()
        .expect("plain ws address")
        .parse()
        .unwrap();
    (child, ws)
}
