//! One logical connection: the server end of the `version=5` session layer.
//!
//! A connection is a task that owns a [`Session`] state machine and, at any time, at most one
//! WebSocket (its current transport). When the socket drops, the task keeps the session for the
//! resume window; a client that reconnects with `&id=<connection id>` gets its socket handed to
//! the same task ([`Registry`]), the `lastrx` exchange runs, and every frame the client had not
//! acknowledged is sent again. An unknown or expired id is answered with `{"type":"error"}`.

use crate::auth::{self, Credential, Tokens};
use crate::state::Shared;
use crate::store::User;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use vox_protocol::frames::{CloseCode, Frame};
use vox_protocol::session::{Session, SessionConfig, SessionEvent};

/// A socket handed to a connection task (the first one, or a resume).
pub struct Attach {
    socket: WebSocket,
    peer: SocketAddr,
}

/// Live logical connections by connection id, for resume.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<HashMap<String, mpsc::Sender<Attach>>>,
}

impl Registry {
    fn insert(&self, id: String, tx: mpsc::Sender<Attach>) {
        self.inner.lock().unwrap().insert(id, tx);
    }
    fn get(&self, id: &str) -> Option<mpsc::Sender<Attach>> {
        self.inner.lock().unwrap().get(id).cloned()
    }
    fn remove(&self, id: &str) {
        self.inner.lock().unwrap().remove(id);
    }
    /// Number of logical connections (attached or waiting for a resume).
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Entry point for every upgraded `/platform` socket.
pub async fn accept(
    shared: Arc<Shared>,
    socket: WebSocket,
    peer: SocketAddr,
    query: HashMap<String, String>,
) {
    if query.get("version").map(String::as_str) != Some("5") {
        tracing::info!(%peer, version = ?query.get("version"), "refusing socket: unsupported protocol version");
        refuse(socket).await;
        return;
    }
    if let Some(id) = query.get("id") {
        match shared.connections.get(id) {
            Some(tx) => {
                if let Err(mpsc::error::SendError(attach)) = tx.send(Attach { socket, peer }).await
                {
                    refuse(attach.socket).await;
                }
            }
            None => {
                tracing::info!(%peer, id = %id, "refusing resume of an unknown or expired connection");
                refuse(socket).await;
            }
        }
        return;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let (tx, rx) = mpsc::channel(2);
    shared.connections.insert(id.clone(), tx);
    let conn = Connection::new(shared.clone(), id.clone(), rx);
    conn.run(Attach { socket, peer }).await;
    shared.connections.remove(&id);
}

async fn refuse(mut socket: WebSocket) {
    let _ = socket
        .send(Message::Text(Frame::Error.encode().into()))
        .await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::ServerError.as_u16(),
            reason: "refused".into(),
        })))
        .await;
}

struct Connection {
    shared: Arc<Shared>,
    id: String,
    session: Session,
    socket: Option<WebSocket>,
    peer: SocketAddr,
    attach_rx: mpsc::Receiver<Attach>,
    /// When the current transport went away (for the resume window).
    detached_at: Option<Instant>,
    user: Option<User>,
    /// The logical connection is over (close handshake done or peer closed).
    finished: bool,
}

/// Why a transport is being dropped.
struct Drop {
    code: u16,
    reason: String,
}

impl Connection {
    fn new(shared: Arc<Shared>, id: String, attach_rx: mpsc::Receiver<Attach>) -> Self {
        let session = Session::new(
            SessionConfig::server(),
            Some(id.clone()),
            Instant::now().into_std(),
        );
        Connection {
            shared,
            id,
            session,
            socket: None,
            peer: SocketAddr::from(([0, 0, 0, 0], 0)),
            attach_rx,
            detached_at: None,
            user: None,
            finished: false,
        }
    }

    fn attach(&mut self, attach: Attach) {
        if let Some(mut old) = self.socket.take() {
            // A newer socket wins; the old one is closed in the background.
            tokio::spawn(async move {
                let _ = old.send(Message::Close(None)).await;
            });
            self.session.transport_down(Instant::now().into_std());
        }
        tracing::debug!(conn = %self.id, peer = %attach.peer, resumed = self.detached_at.is_some(), "transport attached");
        self.socket = Some(attach.socket);
        self.peer = attach.peer;
        self.detached_at = None;
        self.session.transport_up(Instant::now().into_std());
    }

    async fn detach(&mut self, why: Option<Drop>) {
        if let Some(mut socket) = self.socket.take() {
            if let Some(d) = &why {
                tracing::info!(conn = %self.id, code = d.code, reason = %d.reason, "closing transport");
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    socket.send(Message::Close(Some(CloseFrame {
                        code: d.code,
                        reason: d.reason.clone().into(),
                    }))),
                )
                .await;
            }
            self.session.transport_down(Instant::now().into_std());
            self.detached_at = Some(Instant::now());
        }
    }

    async fn run(mut self, first: Attach) {
        self.attach(first);
        let window = self.shared.config.resume_window;
        let mut shutdown = self.shared.shutdown.clone();
        let mut closing = false;
        loop {
            // 1. Write whatever the session wants to send (ACKs first: they were queued first).
            if let Err(why) = self.flush().await {
                self.detach(Some(why)).await;
            }
            // 2. Act on session events; handling may queue more frames, so loop back to flush.
            if self.handle_events().await {
                continue;
            }
            if self.finished {
                if let Err(why) = self.flush().await {
                    self.detach(Some(why)).await;
                }
                if let Some(mut s) = self.socket.take() {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), s.send(Message::Close(None)))
                            .await;
                }
                tracing::debug!(conn = %self.id, "connection finished");
                return;
            }
            // 3. Wait for the next thing to happen.
            let timer = self.session.poll_timeout().map(Instant::from_std);
            let expiry = self.detached_at.map(|t| t + window);
            tokio::select! {
                incoming = recv(&mut self.socket) => self.on_socket(incoming).await,
                attach = self.attach_rx.recv() => match attach {
                    Some(a) => self.attach(a),
                    None => return,
                },
                _ = sleep_until(timer) => self.session.handle_timeout(Instant::now().into_std()),
                _ = shutdown.changed(), if !closing => {
                    // Server shutdown: start the close handshake; the client ACKs and closes.
                    closing = true;
                    if self.session.close(Instant::now().into_std()).is_err() || self.socket.is_none() {
                        return;
                    }
                }
                _ = sleep_until(expiry) => {
                    tracing::info!(conn = %self.id, "resume window expired; connection dropped");
                    return;
                }
            }
        }
    }

    async fn flush(&mut self) -> Result<(), Drop> {
        let Some(socket) = self.socket.as_mut() else {
            // Nothing can be written without a transport; the session keeps un-ACKed frames.
            while self.session.poll_transmit().is_some() {}
            return Ok(());
        };
        let mut wrote = false;
        while let Some(text) = self.session.poll_transmit() {
            wrote = true;
            if let Err(e) = socket.feed(Message::Text(text.into())).await {
                return Err(Drop {
                    code: 1011,
                    reason: format!("write failed: {e}"),
                });
            }
        }
        if wrote && let Err(e) = socket.flush().await {
            return Err(Drop {
                code: 1011,
                reason: format!("write failed: {e}"),
            });
        }
        Ok(())
    }

    /// Returns true when something was handled (the caller flushes again).
    async fn handle_events(&mut self) -> bool {
        let mut any = false;
        while let Some(event) = self.session.poll_event() {
            any = true;
            match event {
                SessionEvent::Established { resumed } => {
                    tracing::debug!(conn = %self.id, resumed, "session established");
                    if !resumed {
                        self.send_payload(r#"{"name":"__createConnection","params":[]}"#.into())
                            .await;
                    }
                }
                SessionEvent::Message { payload, .. } => {
                    // Write the ACK before possibly slow handling.
                    if let Err(why) = self.flush().await {
                        self.detach(Some(why)).await;
                    }
                    self.on_payload(&payload).await;
                }
                SessionEvent::PeerClosed => {
                    tracing::debug!(conn = %self.id, "client closed the connection");
                    self.finished = true;
                }
                SessionEvent::Closed => self.finished = true,
                SessionEvent::Failed { code, reason } => {
                    tracing::info!(conn = %self.id, code = code.as_u16(), %reason, "session error");
                    self.detach(Some(Drop {
                        code: code.as_u16(),
                        reason,
                    }))
                    .await;
                }
                SessionEvent::ConnectionId(_) | SessionEvent::Refused => {}
            }
        }
        any
    }

    async fn on_socket(&mut self, incoming: Option<Result<Message, axum::Error>>) {
        let now = Instant::now().into_std();
        match incoming {
            Some(Ok(Message::Text(text))) => self.session.handle_text(text.as_str(), now),
            Some(Ok(Message::Binary(_))) => {
                self.detach(Some(Drop {
                    code: 1003,
                    reason: "binary frames are not supported".into(),
                }))
                .await;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                tracing::debug!(conn = %self.id, frame = ?frame, "transport closed by peer");
                self.socket = None;
                self.session.transport_down(now);
                self.detached_at = Some(Instant::now());
            }
            Some(Err(e)) => {
                let msg = e.to_string();
                if msg.contains("too long")
                    || msg.contains("Space limit")
                    || msg.contains("capacity")
                {
                    self.detach(Some(Drop {
                        code: 1009,
                        reason: "message too big".into(),
                    }))
                    .await;
                } else {
                    tracing::debug!(conn = %self.id, error = %msg, "transport error");
                    self.detach(None).await;
                }
            }
            None => self.detach(None).await,
        }
    }

    async fn send_payload(&mut self, payload: Arc<str>) {
        if let Err(e) = self.session.send(payload, Instant::now().into_std()) {
            tracing::warn!(conn = %self.id, error = %e, "closing connection: cannot queue more frames");
            self.detach(Some(Drop {
                code: CloseCode::ServerError.as_u16(),
                reason: e.to_string(),
            }))
            .await;
            self.finished = true;
        }
    }

    async fn on_payload(&mut self, payload: &RawValue) {
        match rpc_glue::classify(payload) {
            rpc_glue::Incoming::Rpc(call) => self.on_rpc(call).await,
            rpc_glue::Incoming::Messaging(env) => self.on_messaging(env).await,
            rpc_glue::Incoming::Invalid(why) => {
                tracing::info!(conn = %self.id, %why, "ignoring malformed payload");
            }
        }
    }

    async fn on_rpc(&mut self, call: rpc_glue::Rpc) {
        use rpc_glue::Rpc;
        let peer = self.peer.ip();
        let auth = &self.shared.auth;
        match call {
            Rpc::Ping => {}
            Rpc::Login { user, cred } => {
                if self.user.is_some() {
                    let reply = rpc_glue::login_failed(auth::code::INVALID_STATE, None);
                    return self.send_payload(reply.into()).await;
                }
                let reply = match auth.login(peer, &user, cred).await {
                    Ok(ok) => {
                        let reply =
                            rpc_glue::login_successful(&ok.user.display_name, ok.tokens.as_ref());
                        self.user = Some(ok.user);
                        reply
                    }
                    Err(code) => rpc_glue::login_failed(code, None),
                };
                self.send_payload(reply.into()).await
            }
            Rpc::GenerateOneTimeKey { user } => {
                let reply = if self.user.is_some() {
                    rpc_glue::login_failed(auth::code::INVALID_STATE, None)
                } else {
                    match auth.generate_one_time_key(peer, &user).await {
                        Ok(key) => rpc_glue::login_failed(auth::code::ONE_TIME_KEY, Some(&key)),
                        Err(code) => rpc_glue::login_failed(code, None),
                    }
                };
                self.send_payload(reply.into()).await
            }
            Rpc::LoginStage2 => {
                // Two-stage login is not offered by this server: no second stage is ever pending.
                let reply = rpc_glue::login_failed(auth::code::INVALID_STATE, None);
                self.send_payload(reply.into()).await
            }
            Rpc::Refresh {
                user,
                refresh_token,
                device_token,
            } => {
                let reply = match auth
                    .refresh(peer, &user, &refresh_token, device_token)
                    .await
                {
                    Ok(tokens) => rpc_glue::refresh_successful(&tokens),
                    Err(code) => rpc_glue::refresh_failed(code),
                };
                self.send_payload(reply.into()).await
            }
            Rpc::Other(name) => {
                tracing::debug!(conn = %self.id, %name, "ignoring RPC this server does not implement");
            }
        }
    }

    async fn on_messaging(&mut self, env: rpc_glue::Envelope) {
        let (code, description) = if self.user.is_none() {
            (3, "User is not authorized")
        } else {
            (30, "IM service is not available, try later")
        };
        let reply = rpc_glue::messaging_error(
            &env,
            self.user.as_ref().map(|u| u.id).unwrap_or(0),
            code,
            description,
        );
        self.send_payload(reply.into()).await
    }
}

async fn recv(socket: &mut Option<WebSocket>) -> Option<Result<Message, axum::Error>> {
    match socket {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Mapping between JSON payloads and the login service (to be replaced by `vox_protocol::rpc`).
mod rpc_glue {
    use super::*;
    use serde_json::{Value, json};
    use vox_protocol::auth::CredentialType;

    pub enum Incoming {
        Rpc(Rpc),
        Messaging(Envelope),
        Invalid(String),
    }

    pub enum Rpc {
        Ping,
        Login {
            user: String,
            cred: Credential,
        },
        GenerateOneTimeKey {
            user: String,
        },
        LoginStage2,
        Refresh {
            user: String,
            refresh_token: String,
            device_token: Option<String>,
        },
        Other(String),
    }

    pub struct Envelope {
        pub event: String,
        pub request_uuid: String,
    }

    pub fn classify(payload: &RawValue) -> Incoming {
        let v: Value = match serde_json::from_str(payload.get()) {
            Ok(v) => v,
            Err(e) => return Incoming::Invalid(e.to_string()),
        };
        if let Some(name) = v.get("name").and_then(Value::as_str) {
            let params = v
                .get("params")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let s = |i: usize| params.get(i).and_then(Value::as_str).map(str::to_owned);
            return Incoming::Rpc(match name {
                "__ping" => Rpc::Ping,
                "login" => {
                    let (Some(user), Some(secret)) = (s(0), s(1)) else {
                        return Incoming::Invalid("login: bad params".into());
                    };
                    let opts = params.get(2).cloned().unwrap_or(Value::Null);
                    let cred = if let Some(at) = opts.get("accessToken").and_then(Value::as_str) {
                        Credential::AccessToken(at.to_owned())
                    } else {
                        let kind = match opts.get("credentialType").and_then(Value::as_str) {
                            Some("sha256") => CredentialType::Sha256,
                            _ => CredentialType::Md5,
                        };
                        Credential::Password {
                            digest: secret,
                            kind,
                        }
                    };
                    Rpc::Login { user, cred }
                }
                "loginGenerateOneTimeKey" => match s(0) {
                    Some(user) => Rpc::GenerateOneTimeKey { user },
                    None => return Incoming::Invalid("loginGenerateOneTimeKey: bad params".into()),
                },
                "loginUsingOneTimeKey" => match (s(0), s(1)) {
                    (Some(user), Some(hash)) => Rpc::Login {
                        user,
                        cred: Credential::OneTimeKey { hash },
                    },
                    _ => return Incoming::Invalid("loginUsingOneTimeKey: bad params".into()),
                },
                "loginStage2" => Rpc::LoginStage2,
                "refreshOauthToken" => {
                    let Some(user) = s(0) else {
                        return Incoming::Invalid("refreshOauthToken: bad params".into());
                    };
                    match params.get(1) {
                        Some(Value::String(rt)) => Rpc::Refresh {
                            user,
                            refresh_token: rt.clone(),
                            device_token: None,
                        },
                        Some(Value::Object(o)) => Rpc::Refresh {
                            user,
                            refresh_token: o
                                .get("refreshToken")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                            device_token: o
                                .get("deviceToken")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                        },
                        _ => return Incoming::Invalid("refreshOauthToken: bad params".into()),
                    }
                }
                other => Rpc::Other(other.to_owned()),
            });
        }
        if v.get("service").is_some() {
            return Incoming::Messaging(Envelope {
                event: v
                    .get("event")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                request_uuid: v
                    .get("request_uuid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            });
        }
        Incoming::Invalid("payload is neither an RPC nor a messaging envelope".into())
    }

    fn oauth(t: &Tokens) -> Value {
        json!({"accessToken": t.access_token, "accessExpire": t.access_expire,
               "refreshToken": t.refresh_token, "refreshExpire": t.refresh_expire})
    }

    pub fn login_successful(display_name: &str, tokens: Option<&Tokens>) -> String {
        let extra = match tokens {
            Some(t) => json!({"OAuth": oauth(t)}),
            None => json!({}),
        };
        json!({"name": "loginSuccessful", "params": [display_name, extra]}).to_string()
    }

    pub fn login_failed(code: u32, extra: Option<&str>) -> String {
        match extra {
            Some(x) => json!({"name": "loginFailed", "params": [code, x]}).to_string(),
            None => json!({"name": "loginFailed", "params": [code]}).to_string(),
        }
    }

    pub fn refresh_successful(t: &Tokens) -> String {
        json!({"name": "refreshOauthTokenSuccessful", "params": [{"OAuth": oauth(t)}]}).to_string()
    }

    pub fn refresh_failed(code: u32) -> String {
        json!({"name": "refreshOauthTokenFailed", "params": [code]}).to_string()
    }

    pub fn messaging_error(env: &Envelope, initiator: i64, code: u32, description: &str) -> String {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        json!({"service": "chat", "event": "onError", "payload": {
            "@type": "type/vox.store.OutgoingNamespace.Error", "initiator": initiator,
            "on_incoming_event": env.event, "code": code, "description": description, "timestamp": ts},
            "request_uuid": env.request_uuid, "version": "2"})
        .to_string()
    }
}
