//! One logical connection: the server end of the `version=5` session layer.
//!
//! A connection is a task that owns a [`Session`] state machine and, at any time, at most one
//! WebSocket (its current transport). When the socket drops, the task keeps the session for the
//! resume window; a client that reconnects with `&id=<connection id>` gets its socket handed to
//! the same task ([`Registry`]), the `lastrx` exchange runs, and every frame the client had not
//! acknowledged is sent again. An unknown or expired id is answered with `{"type":"error"}`.

use crate::auth::{self, Credential, Tokens};
use crate::messaging::WriteDone;
use crate::messaging::fanout::{Initiator, SessionTx};
use crate::messaging::limits::{RateLimited, RateLimiter};
use crate::messaging::store::{Caller, Reject, error_frame};
use crate::state::Shared;
use crate::store::User;
use futures_util::{SinkExt, StreamExt};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::LocalKey;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message, protocol::CloseFrame};
use vox_protocol::frames::{CloseCode, Frame};
use vox_protocol::messaging::{Action, ClientRequest, ErrorCode, MessagingError};
use vox_protocol::rpc::{
    ClientRpc, LoginCredential, LoginFailed, LoginFailureCode, LoginSuccessful, OAuthTokens,
    PayloadKind, RefreshOauthTokenFailed, RefreshOauthTokenSuccessful, RpcError, payload_kind,
};
use vox_protocol::session::{OutFrame, Session, SessionConfig, SessionEvent};

/// The WebSocket of one transport (see [`crate::gateway`] for the upgrade).
pub type WebSocket =
    tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// A socket handed to a connection task (the first one, or a resume).
pub struct Attach {
    socket: WebSocket,
    peer: SocketAddr,
}

/// Live logical connections by connection id, for resume.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<HashMap<String, mpsc::Sender<Box<Attach>>>>,
}

impl Registry {
    fn insert(&self, id: String, tx: mpsc::Sender<Box<Attach>>) {
        self.inner.lock().unwrap().insert(id, tx);
    }
    fn get(&self, id: &str) -> Option<mpsc::Sender<Box<Attach>>> {
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
///
/// The socket comes boxed and the connection runs by reference: an async fn keeps its by-value
/// arguments for its whole life, so a `WebSocket` or `Connection` passed by value would be
/// stored twice in every connection's task (about 2 KB of each idle session).
pub async fn accept(
    shared: Arc<Shared>,
    socket: Box<WebSocket>,
    peer: SocketAddr,
    query: HashMap<String, String>,
) {
    if query.get("version").map(String::as_str) != Some("5") {
        tracing::info!(%peer, version = ?query.get("version"), "refusing socket: unsupported protocol version");
        Box::pin(refuse(*socket)).await;
        return;
    }
    if let Some(id) = query.get("id") {
        match shared.connections.get(id) {
            Some(tx) => {
                if let Err(mpsc::error::SendError(attach)) = tx
                    .send(Box::new(Attach {
                        socket: *socket,
                        peer,
                    }))
                    .await
                {
                    Box::pin(refuse(attach.socket)).await;
                }
            }
            None => {
                tracing::info!(%peer, id = %id, "refusing resume of an unknown or expired connection");
                Box::pin(refuse(*socket)).await;
            }
        }
        return;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let (tx, rx) = mpsc::channel(2);
    shared.connections.insert(id.clone(), tx);
    let mut conn = Connection::new(shared.clone(), id.clone(), rx);
    conn.run(Box::new(Attach {
        socket: *socket,
        peer,
    }))
    .await;
    shared.connections.remove(&id);
}

async fn refuse(mut socket: WebSocket) {
    let _ = socket
        .send(Message::Text(Frame::Error.encode().into()))
        .await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::ServerError.as_u16().into(),
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
    /// Boxed: a channel allocates its slots in blocks of 32, and a `WebSocket` is large; by value
    /// this cost ~12 KB per connection.
    attach_rx: mpsc::Receiver<Box<Attach>>,
    /// When the current transport went away (for the resume window).
    detached_at: Option<Instant>,
    user: Option<User>,
    /// Messaging state of a logged-in session.
    msg: Option<MsgSession>,
    /// The logical connection is over (close handshake done or peer closed).
    finished: bool,
}

/// The messaging side of a logged-in session.
struct MsgSession {
    /// `None` when the user's messaging identity could not be loaded (requests get error 30).
    caller: Option<Caller>,
    tx: Arc<SessionTx>,
    limiter: RateLimiter,
    /// The session's latest write; a later read waits for it (read-your-writes).
    last_write: Option<WriteDone>,
}

/// Why a transport is being dropped.
struct Drop {
    code: u16,
    reason: String,
}

impl Connection {
    fn new(shared: Arc<Shared>, id: String, attach_rx: mpsc::Receiver<Box<Attach>>) -> Self {
        let mut config = SessionConfig::server();
        config.max_unacked_frames = shared.config.max_unacked_frames;
        // Room for that many frames of a typical size (the byte bound still applies).
        config.max_unacked_bytes = config
            .max_unacked_bytes
            .max(shared.config.max_unacked_frames.saturating_mul(2048));
        let session = Session::new(config, Some(id.clone()), Instant::now().into_std());
        Connection {
            shared,
            id,
            session,
            socket: None,
            peer: SocketAddr::from(([0, 0, 0, 0], 0)),
            attach_rx,
            detached_at: None,
            user: None,
            msg: None,
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

    /// Boxed: rare, and its close-frame future would otherwise enlarge every connection's task.
    fn detach(
        &mut self,
        why: Option<Drop>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.detach_inner(why))
    }

    async fn detach_inner(&mut self, why: Option<Drop>) {
        if let Some(mut socket) = self.socket.take() {
            if let Some(d) = &why {
                tracing::info!(conn = %self.id, code = d.code, reason = %d.reason, "closing transport");
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    socket.send(Message::Close(Some(CloseFrame {
                        code: d.code.into(),
                        reason: d.reason.clone().into(),
                    }))),
                )
                .await;
                // Finish the close handshake in the background: read (and discard) what the
                // peer still sends until its Close, so that dropping the socket does not reset
                // the TCP connection (a reset can destroy our Close frame before it is read).
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Some(Ok(m)) = socket.next().await {
                            if matches!(m, Message::Close(_)) {
                                break;
                            }
                        }
                    })
                    .await;
                });
            }
            self.session.transport_down(Instant::now().into_std());
            self.detached_at = Some(Instant::now());
        }
    }

    async fn run(&mut self, first: Box<Attach>) {
        self.run_loop(first).await;
        if let Some(m) = self.msg.take() {
            self.shared.messenger.session_closed(&m.tx).await;
        }
    }

    async fn run_loop(&mut self, first: Box<Attach>) {
        self.attach(*first);
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
                    Some(a) => self.attach(*a),
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
                ev = next_event(&mut self.msg) => match ev {
                    Some(p) => self.deliver(p).await,
                    None => {
                    tracing::warn!(conn = %self.id, "closing a session that fell too far behind");
                    self.detach(Some(Drop {
                        code: CloseCode::ServerError.as_u16(),
                        reason: "slow consumer".into(),
                    }))
                    .await;
                    self.finished = true;
                    }
                },
            }
        }
    }

    async fn flush(&mut self) -> Result<(), Drop> {
        let Some(socket) = self.socket.as_mut() else {
            // Nothing can be written without a transport; the session keeps un-ACKed frames.
            while self.session.poll_transmit_frame().is_some() {}
            return Ok(());
        };
        // Every frame the session has for this transport is framed by hand (server frames are
        // unmasked text frames) and goes out with one write: no `String` or `Message` per
        // frame, and one syscall for a whole batch of events. Where the stream takes vectored
        // writes (TCP), a `msg`'s shared payload is not even copied: the headers go into one
        // buffer and `writev` gathers them with the payloads.
        let mut frame = self.session.poll_transmit_frame();
        if frame.is_none() {
            return Ok(());
        }
        let vectored = tokio::io::AsyncWrite::is_write_vectored(socket.get_ref());
        let mut heads = take_pooled(&WRITE_BUFS, WRITE_CHUNK + 4096);
        let mut payloads = take_pooled(&PAYLOAD_LISTS, 64);
        let mut result = Ok(());
        while let Some(f) = frame {
            write_ws_header(&mut heads, f.len());
            if vectored {
                if f.write_head_to(&mut heads).is_some()
                    && let OutFrame::Msg { payload, .. } = f
                {
                    payloads.push((heads.len(), payload));
                    heads.push(b'}');
                }
            } else {
                f.write_to(&mut heads);
            }
            frame = self.session.poll_transmit_frame();
            if heads.len() >= WRITE_CHUNK || payloads.len() >= MAX_PAYLOADS || frame.is_none() {
                result = write_raw(socket, &heads, &payloads).await;
                heads.clear();
                payloads.clear();
                if result.is_err() {
                    break;
                }
            }
        }
        give_pooled(&WRITE_BUFS, heads, 4 * WRITE_CHUNK);
        give_pooled(&PAYLOAD_LISTS, payloads, 2 * MAX_PAYLOADS);
        result.map_err(|e| Drop {
            code: 1011,
            reason: format!("write failed: {e}"),
        })
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
                    // Boxed: the request handling futures are large, and an idle connection
                    // should not carry their space in its task.
                    Box::pin(self.on_payload(&payload)).await;
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

    async fn on_socket(&mut self, incoming: Option<Result<Message, tungstenite::Error>>) {
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
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
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
        self.send_payload_at(payload, Instant::now().into_std())
            .await
    }

    async fn send_payload_at(&mut self, payload: Arc<str>, now: std::time::Instant) {
        if let Err(e) = self.session.send(payload, now) {
            if matches!(e, vox_protocol::session::SessionError::Closed) {
                // The close handshake has begun (server shutdown, or the client's close): what
                // is left reaches the client through retransmitEvents once it is back.
                tracing::debug!(conn = %self.id, "event not sent: the session is closing");
            } else {
                tracing::warn!(conn = %self.id, error = %e, "closing connection: cannot queue more frames");
            }
            self.detach(Some(Drop {
                code: CloseCode::ServerError.as_u16(),
                reason: e.to_string(),
            }))
            .await;
            self.finished = true;
        }
    }

    /// Move one queued event (and whatever else is queued) into the session.
    async fn deliver(&mut self, first: Arc<str>) {
        let now = Instant::now().into_std();
        self.send_payload_at(first, now).await;
        let mut more = std::collections::VecDeque::new();
        if let Some(m) = &self.msg {
            m.tx.pop_into(&mut more, 1024);
        }
        for next in more {
            if self.finished {
                break;
            }
            self.send_payload_at(next, now).await;
        }
    }

    async fn drain_events(&mut self) {
        let now = Instant::now().into_std();
        while !self.finished
            && let Some(next) = self.msg.as_ref().and_then(|m| m.tx.try_pop())
        {
            self.send_payload_at(next, now).await;
        }
    }

    async fn on_payload(&mut self, payload: &RawValue) {
        let text = payload.get();
        match payload_kind(text) {
            Ok(PayloadKind::Rpc) => match ClientRpc::from_json(text) {
                Ok(call) => self.on_rpc(call).await,
                Err(RpcError::UnknownName(name)) => {
                    tracing::debug!(conn = %self.id, %name, "ignoring RPC this server does not implement");
                }
                Err(e) => tracing::info!(conn = %self.id, error = %e, "ignoring malformed RPC"),
            },
            Ok(PayloadKind::Messaging) => {
                self.on_messaging(text).await;
                // Move this session's own replies into the session now, so that a burst of
                // requests cannot overflow its event queue.
                self.drain_events().await;
            }
            Err(e) => tracing::info!(conn = %self.id, error = %e, "ignoring malformed payload"),
        }
    }

    async fn on_rpc(&mut self, call: ClientRpc) {
        let peer = self.peer.ip();
        let failed = |code: u32| LoginFailed { code, extra: None }.to_json();
        match call {
            ClientRpc::Ping => {}
            ClientRpc::Login(l) => {
                let cred = match l.credential {
                    LoginCredential::Password { digest, kind } => {
                        Credential::Password { digest, kind }
                    }
                    LoginCredential::AccessToken(t) => Credential::AccessToken(t),
                };
                self.login(peer, &l.login, cred).await
            }
            ClientRpc::LoginUsingOneTimeKey(o) => {
                self.login(peer, &o.login, Credential::OneTimeKey { hash: o.hash })
                    .await
            }
            ClientRpc::LoginGenerateOneTimeKey(g) => {
                let reply = if self.user.is_some() {
                    failed(auth::code::INVALID_STATE)
                } else {
                    match self.shared.auth.generate_one_time_key(peer, &g.login).await {
                        Ok(key) => LoginFailed::one_time_key(key).to_json(),
                        Err(code) => failed(code),
                    }
                };
                self.send_payload(reply.into()).await
            }
            ClientRpc::LoginStage2(_) => {
                // Two-stage login is not offered by this server: no second stage is ever pending.
                let reply = LoginFailed::new(LoginFailureCode::InvalidState).to_json();
                self.send_payload(reply.into()).await
            }
            ClientRpc::RefreshOauthToken(r) => {
                let reply = match self
                    .shared
                    .auth
                    .refresh(peer, &r.login, &r.refresh_token, r.device_token)
                    .await
                {
                    Ok(tokens) => RefreshOauthTokenSuccessful::new(oauth(&tokens)).to_json(),
                    Err(code) => RefreshOauthTokenFailed { code }.to_json(),
                };
                self.send_payload(reply.into()).await
            }
        }
    }

    async fn login(&mut self, peer: std::net::IpAddr, login: &str, cred: Credential) {
        if self.user.is_some() {
            let reply = LoginFailed::new(LoginFailureCode::InvalidState).to_json();
            return self.send_payload(reply.into()).await;
        }
        let reply = match self.shared.auth.login(peer, login, cred).await {
            Ok(ok) => {
                let reply = LoginSuccessful::new(
                    ok.user.display_name.clone(),
                    ok.tokens.as_ref().map(oauth),
                )
                .to_json();
                self.start_messaging(&ok.user).await;
                self.user = Some(ok.user);
                reply
            }
            Err(code) => LoginFailed { code, extra: None }.to_json(),
        };
        self.send_payload(reply.into()).await
    }

    async fn start_messaging(&mut self, user: &User) {
        let messenger = &self.shared.messenger;
        let user_id = user.id as u64;
        let caller = match messenger.caller(user_id).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(conn = %self.id, user = user_id, error = ?e, "cannot load the messaging identity");
                None
            }
        };
        let tx = messenger.session_opened(user_id);
        self.msg = Some(MsgSession {
            caller,
            tx,
            limiter: RateLimiter::new(messenger.rate, std::time::Instant::now()),
            last_write: None,
        });
    }

    /// Answer a messaging request with `onError`, in order with the session's other events.
    async fn messaging_error(&mut self, request_uuid: &str, action: Option<Action>, r: Reject) {
        let initiator = self.user.as_ref().map_or(0, |u| u.id as u64);
        let frame: Arc<str> = match action {
            Some(a) => error_frame(request_uuid, initiator, a, &r).into(),
            None => {
                let payload = vox_protocol::messaging::EventPayload::error(initiator, None, r.code)
                    .with_description(r.description())
                    .with_timestamp(crate::messaging::store::now());
                vox_protocol::messaging::encode_event(
                    vox_protocol::messaging::EventName::Error,
                    &payload.to_raw(),
                    &vox_protocol::messaging::EnvelopeFields {
                        request_uuid,
                        ..Default::default()
                    },
                )
                .into()
            }
        };
        match &self.msg {
            Some(m) => {
                m.tx.push_reply(frame);
            }
            None => self.send_payload(frame).await,
        }
    }

    async fn on_messaging(&mut self, text: &str) {
        let req = match ClientRequest::from_json(text) {
            Ok(r) => r,
            Err(e) => {
                let (event, uuid) = probe_envelope(text);
                let action = event.as_deref().and_then(Action::from_name);
                tracing::debug!(conn = %self.id, error = %e, "refusing a malformed messaging request");
                let r = match &e {
                    MessagingError::Payload { .. } => Reject::new(e.error_code(), e.to_string()),
                    _ => Reject::from(e.error_code()),
                };
                return self.messaging_error(&uuid, action, r).await;
            }
        };
        let action = req.action();
        let Some(m) = self.msg.as_mut() else {
            return self
                .messaging_error(
                    &req.request_uuid,
                    Some(action),
                    ErrorCode::NotAuthorized.into(),
                )
                .await;
        };
        if let Err(limited) = m.limiter.check(std::time::Instant::now()) {
            let r = match limited {
                RateLimited::PerSecond(n) => Reject::new(
                    ErrorCode::RateLimitPerSecond,
                    format!("{n} messages per second limit reached. Please try again later."),
                ),
                RateLimited::PerMinute(n) => Reject::new(
                    ErrorCode::RateLimitPerMinute,
                    format!("{n} messages per minute limit reached. Please try again later."),
                ),
            };
            return self
                .messaging_error(&req.request_uuid, Some(action), r)
                .await;
        }
        let Some(caller) = m.caller else {
            return self
                .messaging_error(
                    &req.request_uuid,
                    Some(action),
                    ErrorCode::ServiceUnavailable.into(),
                )
                .await;
        };
        if !is_write(action)
            && let Some(w) = m.last_write.take()
        {
            let _ = w.await;
        }
        let m = self.msg.as_mut().expect("checked above");
        let init = Initiator {
            session: m.tx.clone(),
            request_uuid: req.request_uuid,
        };
        let messenger = self.shared.messenger.clone();
        if let Some(done) = messenger.handle(caller, init, req.request).await {
            m.last_write = Some(done);
        }
    }
}

/// Actions that change state (they run on the store's writer).
fn is_write(a: Action) -> bool {
    use Action as A;
    matches!(
        a,
        A::CreateConversation
            | A::EditConversation
            | A::JoinConversation
            | A::LeaveConversation
            | A::AddParticipants
            | A::EditParticipants
            | A::RemoveParticipants
            | A::SendMessage
            | A::EditMessage
            | A::RemoveMessage
            | A::IsRead
            | A::EditUser
            | A::ManageNotification
            | A::Subscribe
            | A::Unsubscribe
    )
}

/// `event` and `request_uuid` of a messaging envelope that did not decode, for its `onError`.
fn probe_envelope(text: &str) -> (Option<String>, String) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    (
        v.get("event").and_then(|e| e.as_str()).map(str::to_owned),
        v.get("request_uuid")
            .and_then(|e| e.as_str())
            .unwrap_or("")
            .to_owned(),
    )
}

fn oauth(t: &Tokens) -> OAuthTokens {
    OAuthTokens {
        access_token: t.access_token.clone(),
        access_expire: t.access_expire,
        refresh_token: t.refresh_token.clone(),
        refresh_expire: t.refresh_expire,
    }
}

/// The next queued event of a logged-in session; `None` once the session has been kicked for
/// falling behind.
async fn next_event(msg: &mut Option<MsgSession>) -> Option<Arc<str>> {
    match msg {
        Some(m) => {
            if m.tx.is_kicked() {
                return None;
            }
            tokio::select! {
                ev = m.tx.pop() => Some(ev),
                _ = m.tx.wait_kicked() => None,
            }
        }
        None => std::future::pending().await,
    }
}

async fn recv(socket: &mut Option<WebSocket>) -> Option<Result<Message, tungstenite::Error>> {
    match socket {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Frames are written in chunks of about this size.
const WRITE_CHUNK: usize = 64 * 1024;

thread_local! {
    /// Write buffers lent to connections for one flush each, so that a busy connection writes
    /// from a warm buffer and an idle one holds none.
    static WRITE_BUFS: Pool<u8> = const { std::cell::RefCell::new(Vec::new()) };
    /// The same for the lists of shared payloads a flush gathers (a list grown afresh on every
    /// flush cost a few reallocations per session wake-up).
    static PAYLOAD_LISTS: Pool<(usize, Arc<str>)> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A thread's spare vectors of one kind (at most [`POOLED`]).
type Pool<T> = std::cell::RefCell<Vec<Vec<T>>>;
const POOLED: usize = 64;

/// A spare vector from `pool`, or a new one with room for `capacity`.
fn take_pooled<T: 'static>(pool: &'static LocalKey<Pool<T>>, capacity: usize) -> Vec<T> {
    pool.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Give `v` back to `pool` emptied (its elements are dropped now), unless it grew past
/// `max_capacity`.
fn give_pooled<T: 'static>(pool: &'static LocalKey<Pool<T>>, mut v: Vec<T>, max_capacity: usize) {
    if v.capacity() > max_capacity {
        return;
    }
    v.clear();
    pool.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOLED {
            p.push(v);
        }
    });
}

/// Payloads gathered by one `writev` (two iovecs each, within `IOV_MAX` = 1024).
const MAX_PAYLOADS: usize = 500;

/// Append the header of one unmasked, unfragmented WebSocket text frame of `len` bytes
/// (RFC 6455 section 5.2).
fn write_ws_header(buf: &mut Vec<u8>, len: usize) {
    buf.push(0x81); // FIN, text
    if len < 126 {
        buf.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        buf.push(126);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(127);
        buf.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Write framed bytes to the socket, after whatever tungstenite itself still holds (e.g. a
/// pong), so that frames stay in order: `heads`, with each `(offset, payload)` inserted at its
/// offset.
async fn write_raw(
    socket: &mut WebSocket,
    heads: &[u8],
    payloads: &[(usize, Arc<str>)],
) -> Result<(), String> {
    socket.flush().await.map_err(|e| e.to_string())?;
    let io = socket.get_mut();
    if payloads.is_empty() {
        io.write_all(heads).await.map_err(|e| e.to_string())?;
    } else {
        let mut iov = Vec::with_capacity(2 * payloads.len() + 1);
        let mut start = 0;
        for (end, p) in payloads {
            iov.push(std::io::IoSlice::new(&heads[start..*end]));
            iov.push(std::io::IoSlice::new(p.as_bytes()));
            start = *end;
        }
        if start < heads.len() {
            iov.push(std::io::IoSlice::new(&heads[start..]));
        }
        let mut rest = &mut iov[..];
        while !rest.is_empty() {
            let n = io.write_vectored(rest).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the socket accepts no more bytes".into());
            }
            std::io::IoSlice::advance_slices(&mut rest, n);
        }
    }
    io.flush().await.map_err(|e| e.to_string())
}
