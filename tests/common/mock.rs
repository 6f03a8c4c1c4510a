//! A scripted gateway: a real WebSocket server driving `vox_protocol::session` in the server
//! role (so ACKs, resume and retransmission are real), which records every payload the SDK sends,
//! answers logins, and pushes whatever the test asks. One logical connection at a time.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use vox_protocol::session::{Session, SessionConfig, SessionEvent};

/// How the mock answers a messaging request (the request payload → reply payloads).
pub type Responder = Arc<dyn Fn(&Value) -> Vec<Value> + Send + Sync>;

enum Cmd {
    Push(String),
    /// A raw text frame, outside the session machine.
    Raw(String),
    Kill,
    /// Stop answering anything (and stop reading) until the socket is replaced.
    Mute,
    /// Drop the socket and forget the session, as a restarted server does: the next resume
    /// attempt is refused with `{"type":"error"}`.
    Restart,
    /// Refuse logins with this access token (701), as for an expired one.
    RejectToken(String),
}

pub struct Mock {
    pub addr: SocketAddr,
    /// The payload of every `msg` the SDK sent, in order, pings excluded.
    pub frames: mpsc::UnboundedReceiver<Value>,
    cmds: mpsc::UnboundedSender<Cmd>,
    pub sockets: Arc<std::sync::atomic::AtomicUsize>,
    /// Close codes the SDK sent.
    pub closes: mpsc::UnboundedReceiver<u16>,
}

impl Mock {
    pub async fn start(responder: Option<Responder>) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (ftx, frx) = mpsc::unbounded_channel();
        let (ctx, crx) = mpsc::unbounded_channel();
        let sockets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (cltx, clrx) = mpsc::unbounded_channel();
        tokio::spawn(run(listener, ftx, crx, responder, sockets.clone(), cltx));
        Mock {
            addr,
            frames: frx,
            cmds: ctx,
            sockets,
            closes: clrx,
        }
    }

    pub fn ws(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Send a server payload (JSON text) on the logical connection.
    pub fn push(&self, payload: Value) {
        let _ = self.cmds.send(Cmd::Push(payload.to_string()));
    }

    /// Write a raw text frame on the current socket (bypassing the session layer).
    pub fn raw(&self, text: &str) {
        let _ = self.cmds.send(Cmd::Raw(text.to_owned()));
    }

    /// Drop the current socket without a close frame.
    pub fn kill(&self) {
        let _ = self.cmds.send(Cmd::Kill);
    }

    pub fn mute(&self) {
        let _ = self.cmds.send(Cmd::Mute);
    }

    /// Behave like a restarted server (see `Cmd::Restart`).
    pub fn restart(&self) {
        let _ = self.cmds.send(Cmd::Restart);
    }

    /// From now on, refuse logins with `token` (701). (Logins by password return the access
    /// token "at-1"; a refresh returns "at-2".)
    pub fn reject_token(&self, token: &str) {
        let _ = self.cmds.send(Cmd::RejectToken(token.to_owned()));
    }

    /// The next frame the SDK sent (pings skipped).
    pub async fn next_frame(&mut self) -> Value {
        super::within(self.frames.recv()).await.expect("mock alive")
    }

    /// No frame within `d`.
    /// Read the frames of a login: the login RPC, then the `getUser` of the logged-in user
    /// that every login makes before it completes.
    pub async fn login_frames(&mut self) {
        let login = self.next_frame().await;
        assert!(
            login["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("login")),
            "{login}"
        );
        let me = self.next_frame().await;
        assert_eq!(me["event"], "getUser", "{me}");
    }

    pub async fn assert_silent(&mut self, d: std::time::Duration) {
        if let Ok(Some(f)) = tokio::time::timeout(d, self.frames.recv()).await {
            panic!("the SDK sent {f}");
        }
    }
}

pub fn default_responder() -> Responder {
    Arc::new(|req: &Value| {
        let event = req["event"].as_str().unwrap_or("");
        let uuid = req["request_uuid"].clone();
        match event {
            "getUser" => {
                let p = &req["payload"];
                let id = p["user_id"].as_u64().unwrap_or(1001);
                let name = p["user_name"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("user{}@app.acc", id - 1000));
                vec![
                    json!({"service":"chat","event":"onGetUser","payload":{"initiator":1001,"on_incoming_event":"getUser","object":{"user_id":id,"user_name":name,"display_name":"U","custom_data":{}}},"request_uuid":uuid}),
                ]
            }
            _ => vec![],
        }
    })
}

#[allow(clippy::result_large_err)]
async fn run(
    listener: TcpListener,
    frames: mpsc::UnboundedSender<Value>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    responder: Option<Responder>,
    sockets: Arc<std::sync::atomic::AtomicUsize>,
    closes: mpsc::UnboundedSender<u16>,
) {
    let id = "mock-connection-1".to_string();
    let mut session = Session::new(SessionConfig::server(), Some(id.clone()), Instant::now());
    let mut ws: Option<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> = None;
    let mut muted = false;
    let mut forgotten = false;
    let mut rejected: Vec<String> = Vec::new();
    loop {
        let now = Instant::now();
        let deadline = session.poll_timeout();
        tokio::select! {
            // Read what the current socket has before accepting a new one: a client that closes
            // (e.g. with 4001) and reconnects at once must have its close frame seen.
            biased;
            msg = async { ws.as_mut().unwrap().next().await }, if ws.is_some() && !muted => match msg {
                Some(Ok(Message::Text(t))) => session.handle_text(t.as_str(), Instant::now()),
                Some(Ok(Message::Close(f))) => {
                    if let Some(f) = f {
                        let _ = closes.send(u16::from(f.code));
                    }
                    ws = None;
                    session.transport_down(Instant::now());
                }
                Some(Ok(_)) => {}
                _ => {
                    ws = None;
                    session.transport_down(Instant::now());
                }
            },
            acc = listener.accept() => {
                let Ok((tcp, _)) = acc else { return };
                let resume = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let r = resume.clone();
                let cb = move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                               resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    let q = req.uri().query().unwrap_or("");
                    r.store(q.split('&').any(|kv| kv.starts_with("id=")), std::sync::atomic::Ordering::SeqCst);
                    Ok(resp)
                };
                let Ok(mut new_ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else { continue };
                sockets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if forgotten && resume.load(std::sync::atomic::Ordering::SeqCst) {
                    // The restarted server does not know the session.
                    let _ = new_ws.send(Message::text(r#"{"type":"error"}"#)).await;
                    let _ = new_ws.close(None).await;
                    continue;
                }
                forgotten = false;
                if ws.is_some() {
                    session.transport_down(now);
                }
                if !resume.load(std::sync::atomic::Ordering::SeqCst) {
                    // A new logical connection replaces the old one.
                    session = Session::new(SessionConfig::server(), Some(id.clone()), Instant::now());
                }
                ws = Some(new_ws);
                muted = false;
                session.transport_up(Instant::now());
            }
            cmd = cmds.recv() => match cmd {
                None => return,
                Some(Cmd::Push(p)) => { let _ = session.send(Arc::from(p), now); }
                Some(Cmd::Raw(t)) => {
                    if let Some(w) = ws.as_mut() {
                        let _ = w.send(Message::text(t)).await;
                    }
                }
                Some(Cmd::Kill) => {
                    ws = None;
                    session.transport_down(now);
                }
                Some(Cmd::Mute) => muted = true,
                Some(Cmd::RejectToken(t)) => rejected.push(t),
                Some(Cmd::Restart) => {
                    ws = None;
                    forgotten = true;
                    session = Session::new(SessionConfig::server(), Some(id.clone()), Instant::now());
                }
            },
            _ = async { tokio::time::sleep_until(deadline.unwrap().into()).await }, if deadline.is_some() => {
                session.handle_timeout(Instant::now());
            }
        }
        // Drain.
        loop {
            while let Some(t) = session.poll_transmit() {
                if muted {
                    continue;
                }
                let failed = match ws.as_mut() {
                    Some(w) => w.send(Message::text(t)).await.is_err(),
                    None => false,
                };
                if failed {
                    ws = None;
                    session.transport_down(Instant::now());
                }
            }
            let Some(ev) = session.poll_event() else {
                break;
            };
            match ev {
                SessionEvent::Established { resumed: false } => {
                    let _ = session.send(
                        Arc::from(r#"{"name":"__createConnection","params":[]}"#),
                        Instant::now(),
                    );
                }
                SessionEvent::Message { payload, .. } => {
                    let v: Value = serde_json::from_str(payload.get()).unwrap();
                    if v["name"] == "__ping" {
                        continue;
                    }
                    let _ = frames.send(v.clone());
                    let refused = v["name"] == "login"
                        && v["params"][2]["accessToken"]
                            .as_str()
                            .is_some_and(|t| rejected.iter().any(|r| r == t));
                    if refused {
                        let _ = session.send(
                            Arc::from(r#"{"name":"loginFailed","params":[701]}"#),
                            Instant::now(),
                        );
                        continue;
                    }
                    for reply in answer(&v, responder.as_ref()) {
                        let _ = session.send(Arc::from(reply.to_string()), Instant::now());
                    }
                }
                SessionEvent::PeerClosed => {}
                _ => {}
            }
        }
    }
}

fn tokens(n: u32) -> Value {
    json!({"accessToken":format!("at-{n}"),"accessExpire":172800,"refreshToken":format!("rt-{n}"),"refreshExpire":2592000})
}

fn answer(v: &Value, responder: Option<&Responder>) -> Vec<Value> {
    match v["name"].as_str() {
        // A token login returns no new tokens (as the real server does).
        Some("login") if v["params"][2]["accessToken"].is_string() => {
            vec![json!({"name":"loginSuccessful","params":["User One",{}]})]
        }
        Some("login") | Some("loginUsingOneTimeKey") => {
            vec![json!({"name":"loginSuccessful","params":["User One",{"OAuth":tokens(1)}]})]
        }
        Some("loginGenerateOneTimeKey") => {
            vec![json!({"name":"loginFailed","params":[302,"otk-key"]})]
        }
        Some("refreshOauthToken") => {
            vec![json!({"name":"refreshOauthTokenSuccessful","params":[{"OAuth":tokens(2)}]})]
        }
        Some(_) => vec![],
        // Every login ends with a `getUser` of the logged-in user (the mock's logins are
        // user1's): answered as a server would when the test's responder does not.
        None => match responder.map(|r| r(v)).unwrap_or_default() {
            r if r.is_empty()
                && v["event"] == "getUser"
                && v["payload"]["user_name"] == "user1@app.acc" =>
            {
                default_responder()(v)
            }
            r => r,
        },
    }
}
