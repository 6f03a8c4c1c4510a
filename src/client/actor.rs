//! The connection actor: one tokio task per client that owns the session state machine, the
//! socket, the reconnect schedule and every pending call. All input (application commands,
//! socket frames, timers) is handled here one item at a time, so the order of what goes out to
//! the application is the order in which the server produced it.
//!
//! The actor never runs user code: completions and events are queued to the callback thread.

use super::{
    AuthResult, Callback, ClientEvent, ClientState, LoginTokens, OperationId, Shared, emit,
};
use crate::error::Error;
use crate::messenger::Messenger;
use crate::messenger::events::{self, MessengerEvent, RetransmitEvent, RetransmittedEvent};
use crate::runtime;
use crate::transport::{self, Socket, SocketEvent};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Instant;
use tokio::sync::mpsc;
use vox_protocol::frames::CloseCode;
use vox_protocol::messaging::{Action, ClientRequest, EventName, UserId};
use vox_protocol::rpc::{PayloadKind, ServerRpc, payload_kind};
use vox_protocol::session::{Session, SessionConfig, SessionEvent};

/// A login: who, with which options, and (for a token login) the access token, so that the SDK
/// can log in again by itself on a new session (never with the password, which it never keeps).
pub(crate) struct LoginKind {
    pub(crate) login: String,
    pub(crate) options: vox_protocol::rpc::LoginOptions,
    pub(crate) access_token: Option<String>,
}

/// What a login-family RPC is.
pub(crate) enum RpcKind {
    /// `login` / `loginUsingOneTimeKey`.
    Login(LoginKind),
    OneTimeKey,
    /// `refreshOauthToken` for this login name.
    Refresh(String),
}

/// What the SDK keeps of the last successful login to restore a session the server could not
/// resume: the login name, the options and the tokens. Not the password. Dropped when the
/// session ends.
struct Credentials {
    login: String,
    options: vox_protocol::rpc::LoginOptions,
    access_token: Option<String>,
    refresh_token: Option<String>,
}

/// Restoring a session the server refused to resume: a new session, then a token login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restore {
    /// Opening the new session.
    Connecting,
    /// `login` with the access token is out (`refreshed`: the token was refreshed for it).
    LoggingIn { refreshed: bool },
    /// `refreshOauthToken` is out (the access token was refused).
    Refreshing,
}

/// Who gets the result of a messaging request.
enum Completion {
    /// The application's callback.
    App(Callback<Reply>),
    /// The SDK's own gap fill of a conversation after a restored session.
    Fill { conv: String, from: u64 },
    /// An SDK request whose answer nobody waits for (the repeated `setStatus`).
    Discard,
}

/// A conversation being gap-filled: its live events wait here until the fill is done.
#[derive(Default)]
struct Fill {
    held: Vec<vox_protocol::messaging::ServerMessage>,
}

/// Events that take a conversation seq: tracked per conversation, never delivered twice.
fn takes_seq(e: EventName) -> bool {
    matches!(
        e,
        EventName::CreateConversation
            | EventName::EditConversation
            | EventName::RemoveConversation
            | EventName::SendMessage
            | EventName::EditMessage
            | EventName::RemoveMessage
    )
}

/// `(conversation uuid, seq)` of an event that takes a seq.
fn seq_key(msg: &vox_protocol::messaging::ServerMessage) -> Option<(String, u64)> {
    use vox_protocol::messaging::EventObject;
    if !takes_seq(msg.event) {
        return None;
    }
    let seq = msg.payload.seq?;
    let conv = match msg.payload.object.as_ref()? {
        EventObject::Conversation(c) => c.uuid.clone(),
        EventObject::Message(m) => m.conversation.clone(),
        _ => return None,
    };
    Some((conv, seq))
}

/// Events fetched per `retransmitEvents` of a gap fill (the protocol's maximum).
const FILL_WINDOW: u64 = 100;

pub(crate) enum RpcReply {
    LoggedIn(AuthResult),
    Key(String),
    Tokens(LoginTokens),
}

/// What completes a messaging request (the multi-frame rules of the Web SDK).
#[derive(Debug)]
pub(crate) enum Expect {
    /// The first event carrying the request's uuid.
    One,
    /// One `onGetUser` per requested user, matched by exact name.
    UsersByName(Vec<String>),
    /// One `onGetUser` per requested user, matched by id.
    UsersById(Vec<UserId>),
    /// One `onGetConversation` per requested uuid.
    Conversations(Vec<String>),
    /// `count` `onRetransmitEvents` frames (count read from the first frame that has it).
    Retransmit,
}

/// The raw result of a messaging request.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    One(MessengerEvent),
    Many(Vec<MessengerEvent>),
    Retransmit(RetransmitEvent),
}

/// A pending messaging request.
struct Pending {
    op: OperationId,
    action: Action,
    expect: Expect,
    deadline: Instant,
    completion: Completion,
    /// The request's payload, kept to resend it (same `request_uuid`) on a restored session.
    json: String,
    /// Submission order (resends keep it).
    order: u64,
    /// Sent again on a restored session: its answer may repeat an event already delivered.
    resent: bool,
    /// Slots for the multi-result requests (in request order).
    slots: Vec<Option<MessengerEvent>>,
    retransmit_count: Option<u64>,
    retransmitted: Vec<RetransmittedEvent>,
    range: (Option<u64>, Option<u64>),
    initiator: UserId,
}

#[allow(clippy::large_enum_variant)]
enum Fed {
    Waiting,
    Done(Result<Reply, Error>),
}

impl Pending {
    fn feed(
        &mut self,
        ev: &MessengerEvent,
        count: Option<u64>,
        from: Option<u64>,
        to: Option<u64>,
    ) -> Fed {
        if let MessengerEvent::Error(e) = ev {
            return Fed::Done(Err(Error::Messenger(Box::new(e.clone()))));
        }
        match &self.expect {
            Expect::One => Fed::Done(Ok(Reply::One(ev.clone()))),
            Expect::UsersByName(names) => {
                if let MessengerEvent::User(u) = ev
                    && let Some(i) = (0..names.len())
                        .find(|&i| self.slots[i].is_none() && names[i] == u.user.name)
                {
                    self.slots[i] = Some(ev.clone());
                }
                self.collect_slots()
            }
            Expect::UsersById(ids) => {
                if let MessengerEvent::User(u) = ev
                    && let Some(i) =
                        (0..ids.len()).find(|&i| self.slots[i].is_none() && ids[i] == u.user.im_id)
                {
                    self.slots[i] = Some(ev.clone());
                }
                self.collect_slots()
            }
            Expect::Conversations(uuids) => {
                if let MessengerEvent::Conversation(c) = ev
                    && let Some(i) = (0..uuids.len()).find(|&i| {
                        self.slots[i].is_none() && uuids[i] == c.conversation.data().uuid
                    })
                {
                    self.slots[i] = Some(ev.clone());
                }
                self.collect_slots()
            }
            Expect::Retransmit => {
                let MessengerEvent::Retransmit(r) = ev else {
                    return Fed::Waiting;
                };
                if self.retransmit_count.is_none() {
                    self.retransmit_count = count;
                    self.initiator = r.initiator;
                }
                if self.range.0.is_none() {
                    self.range.0 = from;
                }
                if to.is_some() {
                    self.range.1 = to;
                }
                self.retransmitted.extend(r.events.iter().cloned());
                match self.retransmit_count {
                    Some(n) if self.retransmitted.len() as u64 >= n => {
                        let events = std::mem::take(&mut self.retransmitted);
                        let (from, to) = events::range_of(&events, self.range.0, self.range.1);
                        Fed::Done(Ok(Reply::Retransmit(RetransmitEvent {
                            event_type: crate::messenger::MessengerEventType::RetransmitEvents,
                            action: Some(Action::RetransmitEvents),
                            initiator: self.initiator,
                            from,
                            to,
                            events,
                        })))
                    }
                    _ => Fed::Waiting,
                }
            }
        }
    }

    /// Forget what arrived for it (it is about to be sent again on a new session).
    fn reset(&mut self) {
        for s in &mut self.slots {
            *s = None;
        }
        self.retransmit_count = None;
        self.retransmitted.clear();
        self.range = (None, None);
        self.resent = true;
    }

    fn is_app(&self) -> bool {
        matches!(self.completion, Completion::App(_))
    }

    fn collect_slots(&mut self) -> Fed {
        if self.slots.iter().all(Option::is_some) {
            Fed::Done(Ok(Reply::Many(
                self.slots.drain(..).map(|s| s.expect("checked")).collect(),
            )))
        } else {
            Fed::Waiting
        }
    }
}

struct RpcPending {
    op: OperationId,
    deadline: Instant,
    cb: Callback<RpcReply>,
}

pub(crate) enum Cmd {
    Connect(OperationId, Callback<()>),
    Disconnect(Callback<()>),
    Rpc {
        op: OperationId,
        kind: RpcKind,
        payload: String,
        cb: Callback<RpcReply>,
    },
    Request {
        op: OperationId,
        request: ClientRequest,
        expect: Expect,
        cb: Callback<Reply>,
    },
    Cancel(OperationId),
    NetworkChanged,
    KillSocket,
}

impl Cmd {
    /// Complete the command's callback with `err` (used when the actor is gone).
    pub(crate) fn fail(self, err: Error) {
        let job: Box<dyn FnOnce() + Send> = match self {
            Cmd::Connect(_, cb) | Cmd::Disconnect(cb) => Box::new(move || cb(Err(err))),
            Cmd::Rpc { cb, .. } => Box::new(move || cb(Err(err))),
            Cmd::Request { cb, .. } => Box::new(move || cb(Err(err))),
            Cmd::Cancel(_) | Cmd::NetworkChanged | Cmd::KillSocket => return,
        };
        runtime::get().deliver(job);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No session.
    Idle,
    /// First transport: opening / handshaking.
    Connecting,
    /// Session established (connected or logged in).
    Open,
    /// Transport lost; resuming.
    Reconnecting,
    /// Our `close` is out; waiting for its ACK.
    Closing,
}

struct Actor {
    shared: Weak<Shared>,
    config: super::ClientConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    sock_tx: mpsc::UnboundedSender<SocketEvent>,
    sock_rx: mpsc::UnboundedReceiver<SocketEvent>,

    phase: Phase,
    session: Option<Session>,
    socket: Option<Socket>,
    socket_open: bool,
    generation: u64,
    server_idx: usize,
    got_create: bool,
    handshake_deadline: Option<Instant>,
    reconnect_attempt: usize,
    reconnect_at: Option<Instant>,
    logged_in: bool,
    login_name: Option<String>,

    connect_cb: Option<(OperationId, Callback<()>)>,
    disconnect_cbs: Vec<Callback<()>>,
    auth: Option<(RpcKind, RpcPending)>,
    /// The application's `refreshOauthToken` (with its login name).
    refresh: Option<(String, RpcPending)>,
    pending: HashMap<String, Pending>,
    next_order: u64,
    /// The last login, to restore the session without the application (see [`Credentials`]).
    credentials: Option<Credentials>,
    /// Set while a session the server refused to resume is being restored.
    restore: Option<Restore>,
    /// When the restore's login (or refresh) RPC times out.
    restore_deadline: Option<Instant>,
    /// Highest seq delivered to the listeners per conversation (events that take a seq).
    delivered: HashMap<String, u64>,
    /// Conversations being gap-filled after a restore, with their held-back live events.
    filling: HashMap<String, Fill>,
    /// The last `setStatus` of the application asked for "online": repeated after a restore.
    want_online: bool,
    /// Requests waiting for their turn on the wire (request spacing).
    outbox: VecDeque<(String, String)>,
    next_send_at: Instant,
}

pub(crate) fn spawn(shared: &Arc<Shared>, cmds: mpsc::UnboundedReceiver<Cmd>) {
    let (sock_tx, sock_rx) = mpsc::unbounded_channel();
    let actor = Actor {
        shared: Arc::downgrade(shared),
        config: shared.config.clone(),
        tls: shared.tls.clone(),
        cmds,
        sock_tx,
        sock_rx,
        phase: Phase::Idle,
        session: None,
        socket: None,
        socket_open: false,
        generation: 0,
        server_idx: 0,
        got_create: false,
        handshake_deadline: None,
        reconnect_attempt: 0,
        reconnect_at: None,
        logged_in: false,
        login_name: None,
        connect_cb: None,
        disconnect_cbs: Vec::new(),
        auth: None,
        refresh: None,
        pending: HashMap::new(),
        next_order: 0,
        credentials: None,
        restore: None,
        restore_deadline: None,
        delivered: HashMap::new(),
        filling: HashMap::new(),
        want_online: false,
        outbox: VecDeque::new(),
        next_send_at: Instant::now(),
    };
    runtime::get().spawn(actor.run());
}

fn deliver<T: Send + 'static>(cb: Callback<T>, r: Result<T, Error>) {
    runtime::get().deliver(move || cb(r));
}

impl Actor {
    async fn run(mut self) {
        loop {
            let deadline = self.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    Some(cmd) => self.on_cmd(cmd),
                    None => break,
                },
                Some(ev) = self.sock_rx.recv() => self.on_socket(ev),
                _ = sleep => self.on_timer(Instant::now()),
            }
            self.pump();
        }
        // Every handle is gone.
        tracing::debug!("client dropped; ending the connection");
        if let Some(s) = self.socket.take() {
            s.abort();
        }
        self.fail_all(Error::ConnectionClosed("the client was dropped".into()));
    }

    fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.upgrade()
    }

    fn set_state(&self, state: ClientState) {
        if let Some(shared) = self.shared()
            && shared.set_state(state)
        {
            tracing::info!(?state, "client state");
            emit(&shared, ClientEvent::StateChanged(state));
        }
    }

    fn emit(&self, ev: ClientEvent) {
        if let Some(shared) = self.shared() {
            emit(&shared, ev);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut d: Option<Instant> = None;
        let mut take = |t: Option<Instant>| {
            if let Some(t) = t {
                d = Some(d.map_or(t, |d| d.min(t)));
            }
        };
        take(self.session.as_ref().and_then(|s| s.poll_timeout()));
        take(self.handshake_deadline);
        take(self.reconnect_at);
        for p in self.pending.values() {
            take(Some(p.deadline));
        }
        take(self.auth.as_ref().map(|(_, p)| p.deadline));
        take(self.refresh.as_ref().map(|(_, p)| p.deadline));
        take(self.restore_deadline);
        if !self.outbox.is_empty() {
            take(Some(self.next_send_at));
        }
        d
    }

    // -------------------------------------------------------------------------------------
    // Commands
    // -------------------------------------------------------------------------------------

    fn on_cmd(&mut self, cmd: Cmd) {
        let now = Instant::now();
        match cmd {
            Cmd::Connect(op, cb) => {
                if self.phase != Phase::Idle {
                    return deliver(
                        cb,
                        Err(Error::InvalidState(
                            "already connected or connecting".into(),
                        )),
                    );
                }
                self.session = Some(Session::new(SessionConfig::client(), None, now));
                self.server_idx = 0;
                self.got_create = false;
                self.logged_in = false;
                self.connect_cb = Some((op, cb));
                self.phase = Phase::Connecting;
                self.set_state(ClientState::Connecting);
                self.open_socket(now, None);
            }
            Cmd::Disconnect(cb) => match self.phase {
                Phase::Idle => deliver(cb, Ok(())),
                Phase::Closing => self.disconnect_cbs.push(cb),
                Phase::Connecting | Phase::Reconnecting => {
                    self.disconnect_cbs.push(cb);
                    self.finish_disconnect("disconnected by the application");
                }
                Phase::Open => {
                    self.disconnect_cbs.push(cb);
                    self.phase = Phase::Closing;
                    self.outbox.clear();
                    let closed = self.session.as_mut().map(|s| s.close(now));
                    if !matches!(closed, Some(Ok(_))) {
                        self.finish_disconnect("disconnected by the application");
                    }
                }
            },
            Cmd::Rpc {
                op,
                kind,
                payload,
                cb,
            } => self.start_rpc(now, op, kind, payload, cb),
            Cmd::Request {
                op,
                request,
                expect,
                cb,
            } => self.start_request(now, op, request, expect, cb),
            Cmd::Cancel(op) => self.cancel(op),
            Cmd::NetworkChanged => self.network_changed(now),
            Cmd::KillSocket => {
                if let Some(s) = self.socket.take() {
                    s.abort();
                    self.on_transport_lost(now, "socket killed");
                }
            }
        }
    }

    fn start_rpc(
        &mut self,
        now: Instant,
        op: OperationId,
        kind: RpcKind,
        payload: String,
        cb: Callback<RpcReply>,
    ) {
        if !matches!(self.phase, Phase::Open | Phase::Reconnecting) {
            return deliver(cb, Err(Error::InvalidState("not connected".into())));
        }
        let deadline = now + self.config.request_timeout;
        match kind {
            RpcKind::Refresh(login) => {
                if self.refresh.is_some() || self.restore == Some(Restore::Refreshing) {
                    return deliver(
                        cb,
                        Err(Error::InvalidState(
                            "a token refresh is already pending".into(),
                        )),
                    );
                }
                self.refresh = Some((login, RpcPending { op, deadline, cb }));
            }
            kind => {
                if self.logged_in {
                    return deliver(cb, Err(Error::InvalidState("already logged in".into())));
                }
                if self.auth.is_some() {
                    return deliver(
                        cb,
                        Err(Error::InvalidState("a login is already pending".into())),
                    );
                }
                self.auth = Some((kind, RpcPending { op, deadline, cb }));
            }
        }
        // Login RPCs bypass the request queue, as in the Web SDK.
        if let Err(e) = self.session_send(now, payload) {
            let cb = match (&self.refresh, &self.auth) {
                (Some((_, p)), _) if p.op == op => self.refresh.take().map(|(_, p)| p.cb),
                (_, Some((_, p))) if p.op == op => self.auth.take().map(|(_, p)| p.cb),
                _ => None,
            };
            if let Some(cb) = cb {
                deliver(cb, Err(e));
            }
        }
    }

    fn start_request(
        &mut self,
        now: Instant,
        op: OperationId,
        request: ClientRequest,
        expect: Expect,
        cb: Callback<Reply>,
    ) {
        if !self.logged_in || !matches!(self.phase, Phase::Open | Phase::Reconnecting) {
            return deliver(cb, Err(Error::NotLoggedIn));
        }
        let slots = match &expect {
            Expect::UsersByName(v) => v.len(),
            Expect::UsersById(v) => v.len(),
            Expect::Conversations(v) => v.len(),
            _ => 0,
        };
        if let vox_protocol::messaging::Request::SetStatus(s) = &request.request {
            self.want_online = s.online;
        }
        self.queue_request(now, op, request, expect, Completion::App(cb), slots);
        self.flush_outbox(now);
    }

    /// Register a pending request and queue it for the wire.
    fn queue_request(
        &mut self,
        now: Instant,
        op: OperationId,
        request: ClientRequest,
        expect: Expect,
        completion: Completion,
        slots: usize,
    ) {
        let uuid = request.request_uuid.clone();
        tracing::debug!(action = %request.action(), request_uuid = %uuid, "request");
        let json = request.to_json();
        self.next_order += 1;
        self.pending.insert(
            uuid.clone(),
            Pending {
                op,
                action: request.action(),
                expect,
                deadline: now + self.config.request_timeout,
                completion,
                json: json.clone(),
                order: self.next_order,
                resent: false,
                slots: (0..slots).map(|_| None).collect(),
                retransmit_count: None,
                retransmitted: Vec::new(),
                range: (None, None),
                initiator: 0,
            },
        );
        self.outbox.push_back((uuid, json));
    }

    /// Hand a finished request's result to whoever waits for it.
    fn complete(&mut self, p: Pending, r: Result<Reply, Error>) {
        match p.completion {
            Completion::App(cb) => deliver(cb, r),
            Completion::Fill { conv, from } => self.on_fill(conv, from, r),
            Completion::Discard => {
                if let Err(e) = r {
                    tracing::info!(action = %p.action, error = %e, "SDK request failed");
                }
            }
        }
    }

    fn flush_outbox(&mut self, now: Instant) {
        if self.restore.is_some() {
            return; // not before the new session is logged in
        }
        while !self.outbox.is_empty() && now >= self.next_send_at {
            let (uuid, payload) = self.outbox.pop_front().expect("not empty");
            if let Err(e) = self.session_send(now, payload)
                && let Some(p) = self.pending.remove(&uuid)
            {
                self.complete(p, Err(e));
            }
            self.next_send_at = now + self.config.request_spacing;
        }
    }

    /// Queue a payload on the session (sent now, or after the resume while reconnecting).
    fn session_send(&mut self, now: Instant, payload: String) -> Result<(), Error> {
        let Some(session) = self.session.as_mut() else {
            return Err(Error::ConnectionClosed("no session".into()));
        };
        session
            .send(Arc::from(payload), now)
            .map(|_seq| ())
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot queue a frame");
                Error::InvalidState(format!("cannot send: {e}"))
            })
    }

    fn cancel(&mut self, op: OperationId) {
        if let Some(uuid) = self
            .pending
            .iter()
            .find(|(_, p)| p.op == op && p.is_app())
            .map(|(u, _)| u.clone())
        {
            let p = self.pending.remove(&uuid).expect("found");
            return self.complete(p, Err(Error::Cancelled));
        }
        if self.auth.as_ref().is_some_and(|(_, p)| p.op == op) {
            let (_, p) = self.auth.take().expect("checked");
            return deliver(p.cb, Err(Error::Cancelled));
        }
        if self.refresh.as_ref().is_some_and(|(_, p)| p.op == op) {
            let (_, p) = self.refresh.take().expect("checked");
            return deliver(p.cb, Err(Error::Cancelled));
        }
        if self.connect_cb.as_ref().is_some_and(|(o, _)| *o == op) {
            // A cancelled connect completes with Cancelled, like every other cancelled call.
            let (_, cb) = self.connect_cb.take().expect("checked");
            self.finish_disconnect("connect cancelled");
            deliver(cb, Err(Error::Cancelled));
        }
    }

    fn network_changed(&mut self, now: Instant) {
        match self.phase {
            Phase::Open => {
                tracing::info!("network changed: resuming on a new socket");
                if let Some(s) = self.socket.take() {
                    s.abort();
                }
                self.on_transport_lost(now, "network changed");
            }
            Phase::Reconnecting => {
                tracing::info!("network changed: reconnecting now");
                if let Some(s) = self.socket.take() {
                    s.abort();
                }
                if let Some(session) = self.session.as_mut() {
                    session.transport_down(now);
                }
                self.handshake_deadline = None;
                self.reconnect_attempt = 0;
                self.reconnect_at = Some(now);
            }
            _ => {}
        }
    }

    // -------------------------------------------------------------------------------------
    // Socket and session
    // -------------------------------------------------------------------------------------

    fn open_socket(&mut self, now: Instant, resume_id: Option<String>) {
        let server = &self.config.servers[self.server_idx];
        let url = match transport::platform_url(
            server,
            &self.config.client_version,
            &self.config.client_platform,
            resume_id.as_deref(),
        ) {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(error = %e, "bad server");
                return self.end_session(ClientState::Closed, "bad server address");
            }
        };
        self.generation += 1;
        self.socket_open = false;
        tracing::debug!(generation = self.generation, server = %server, resume = resume_id.is_some(), "opening socket");
        let tls = if url.starts_with("wss://") {
            self.tls.clone()
        } else {
            None
        };
        self.socket = Some(transport::open(
            self.generation,
            url,
            tls,
            self.config.connect_timeout,
            self.sock_tx.clone(),
        ));
        self.handshake_deadline = Some(now + self.config.connect_timeout);
    }

    fn on_socket(&mut self, ev: SocketEvent) {
        let now = Instant::now();
        let generation = match &ev {
            SocketEvent::Opened { generation }
            | SocketEvent::OpenFailed { generation, .. }
            | SocketEvent::Text { generation, .. }
            | SocketEvent::Closed { generation, .. } => *generation,
        };
        if self.socket.as_ref().map(|s| s.generation) != Some(generation) {
            return; // a report from an old socket
        }
        match ev {
            SocketEvent::Opened { .. } => {
                self.socket_open = true;
                if let Some(s) = self.session.as_mut() {
                    s.transport_up(now);
                }
            }
            SocketEvent::Text { text, .. } => {
                if let Some(s) = self.session.as_mut() {
                    s.handle_text(&text, now);
                }
            }
            SocketEvent::OpenFailed { error, .. } => {
                tracing::info!(%error, "socket failed to open");
                self.socket = None;
                self.attempt_failed(now, &error);
            }
            SocketEvent::Closed { reason, .. } => {
                self.socket = None;
                self.on_transport_lost(now, &reason);
            }
        }
    }

    /// The current socket is gone (already dropped from `self.socket`).
    fn on_transport_lost(&mut self, now: Instant, reason: &str) {
        if let Some(s) = self.session.as_mut() {
            s.transport_down(now);
        }
        self.socket_open = false;
        match self.phase {
            Phase::Idle => {}
            Phase::Connecting | Phase::Reconnecting => self.attempt_failed(now, reason),
            Phase::Closing => self.finish_disconnect("disconnected by the application"),
            Phase::Open => {
                tracing::info!(%reason, "transport lost; reconnecting");
                self.phase = Phase::Reconnecting;
                self.set_state(ClientState::Reconnecting);
                self.emit(ClientEvent::Reconnecting);
                self.reconnect_attempt = 0;
                self.handshake_deadline = None;
                self.schedule_reconnect(now);
            }
        }
    }

    /// A connection attempt (first connect or a resume) did not get through.
    fn attempt_failed(&mut self, now: Instant, reason: &str) {
        if let Some(s) = self.socket.take() {
            s.abort();
        }
        self.restore_deadline = None;
        if let Some(s) = self.session.as_mut() {
            s.transport_down(now);
        }
        self.handshake_deadline = None;
        match self.phase {
            Phase::Connecting => {
                if self.server_idx + 1 < self.config.servers.len() {
                    self.server_idx += 1;
                    self.session = Some(Session::new(SessionConfig::client(), None, now));
                    self.open_socket(now, None);
                } else {
                    let reason = format!("connection failed: {reason}");
                    // end_session sets the state first, then fails connect() with `reason`.
                    self.end_session(ClientState::Disconnected, &reason);
                    self.emit(ClientEvent::ConnectionFailed { reason });
                }
            }
            Phase::Reconnecting => {
                self.reconnect_attempt += 1;
                self.schedule_reconnect(now);
            }
            _ => {}
        }
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        match self.config.reconnect.delay(self.reconnect_attempt) {
            Some(d) => {
                tracing::debug!(attempt = self.reconnect_attempt, delay = ?d, "reconnect scheduled");
                self.reconnect_at = Some(now + d);
            }
            None => self.end_session(ClientState::Closed, "reconnect attempts exhausted"),
        }
    }

    fn on_timer(&mut self, now: Instant) {
        if let Some(s) = self.session.as_mut() {
            s.handle_timeout(now);
        }
        if self.handshake_deadline.is_some_and(|d| now >= d) {
            self.handshake_deadline = None;
            tracing::info!("connection attempt timed out");
            self.attempt_failed(now, "handshake timed out");
        }
        if self.reconnect_at.is_some_and(|d| now >= d) && self.phase == Phase::Reconnecting {
            self.reconnect_at = None;
            if self.restore.is_some() {
                // Restoring: every attempt starts a new session.
                self.new_restore_session(now);
            } else {
                let id = self
                    .session
                    .as_ref()
                    .and_then(|s| s.connection_id().map(str::to_owned));
                self.open_socket(now, id);
            }
        }
        if self.restore_deadline.is_some_and(|d| now >= d) {
            self.restore_deadline = None;
            tracing::info!("no answer to the login of the restored session");
            self.attempt_failed(now, "login timed out");
        }
        // Request timeouts.
        let expired: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(u, _)| u.clone())
            .collect();
        for uuid in expired {
            let p = self.pending.remove(&uuid).expect("listed");
            tracing::info!(action = %p.action, request_uuid = %uuid, "request timed out");
            let err = Error::Timeout {
                action: p.action.as_str().into(),
            };
            self.complete(p, Err(err));
        }
        if self.auth.as_ref().is_some_and(|(_, p)| now >= p.deadline) {
            let (_, p) = self.auth.take().expect("checked");
            deliver(
                p.cb,
                Err(Error::Timeout {
                    action: "login".into(),
                }),
            );
        }
        if self
            .refresh
            .as_ref()
            .is_some_and(|(_, p)| now >= p.deadline)
        {
            let (_, p) = self.refresh.take().expect("checked");
            deliver(
                p.cb,
                Err(Error::Timeout {
                    action: "refreshOauthToken".into(),
                }),
            );
        }
        if matches!(self.phase, Phase::Open | Phase::Reconnecting) {
            self.flush_outbox(now);
        }
    }

    /// Write what the session has to send, and act on what it reports, until both are drained.
    fn pump(&mut self) {
        loop {
            let Some(session) = self.session.as_mut() else {
                return;
            };
            while let Some(text) = session.poll_transmit() {
                if let Some(s) = &self.socket {
                    s.send(text);
                }
            }
            let Some(ev) = session.poll_event() else {
                return;
            };
            self.on_session_event(ev);
        }
    }

    fn on_session_event(&mut self, ev: SessionEvent) {
        let now = Instant::now();
        match ev {
            SessionEvent::ConnectionId(id) => tracing::debug!(connection_id = %id, "connection id"),
            SessionEvent::Established { resumed } => {
                self.handshake_deadline = None;
                match self.phase {
                    Phase::Connecting => self.maybe_connected(),
                    Phase::Reconnecting if self.restore.is_some() => self.maybe_relogin(now),
                    Phase::Reconnecting => {
                        tracing::info!(resumed, "session resumed");
                        self.phase = Phase::Open;
                        self.reconnect_attempt = 0;
                        self.reconnect_at = None;
                        self.set_state(if self.logged_in {
                            ClientState::LoggedIn
                        } else {
                            ClientState::Connected
                        });
                        self.emit(ClientEvent::Reconnected);
                        self.flush_outbox(now);
                    }
                    _ => {}
                }
            }
            SessionEvent::Message { payload, .. } => self.on_payload(payload.get()),
            SessionEvent::PeerClosed => {
                self.pump_transmit();
                if let Some(s) = self.socket.take() {
                    s.close(CloseCode::ClientError.as_u16(), "Closing by connection");
                }
                if self.phase == Phase::Closing {
                    self.finish_disconnect("disconnected by the application");
                } else if self.phase == Phase::Open && self.can_restore() {
                    // The server ended the session (it shuts down, e.g. to restart): there is
                    // nothing to resume, so restore it on a new session.
                    tracing::info!("the server closed the session; restoring it");
                    self.phase = Phase::Reconnecting;
                    self.set_state(ClientState::Reconnecting);
                    self.emit(ClientEvent::Reconnecting);
                    self.reconnect_attempt = 0;
                    self.handshake_deadline = None;
                    self.restore = Some(Restore::Connecting);
                    self.schedule_reconnect(now);
                } else {
                    self.end_session(ClientState::Closed, "closed by the server");
                }
            }
            SessionEvent::Closed => {
                self.finish_disconnect("disconnected by the application");
            }
            SessionEvent::Refused => {
                tracing::info!("the server refused the connection");
                if let Some(s) = self.socket.take() {
                    s.close(CloseCode::ClientError.as_u16(), "Refused");
                }
                match self.phase {
                    Phase::Connecting => self.attempt_failed(now, "refused by the server"),
                    Phase::Reconnecting if self.restore.is_some() => {
                        self.attempt_failed(now, "refused by the server")
                    }
                    Phase::Reconnecting => self.start_restore(now),
                    _ => self.end_session(
                        ClientState::Closed,
                        "the server refused to resume the session",
                    ),
                }
            }
            SessionEvent::Failed { code, reason } => {
                tracing::info!(code = code.as_u16(), %reason, "session failure; dropping the socket");
                if let Some(s) = self.socket.take() {
                    s.close(code.as_u16(), "session failure");
                }
                if self.phase == Phase::Closing {
                    // The close was not ACKed within the watchdog: the Web SDK gives up too.
                    self.finish_disconnect("disconnected by the application");
                } else {
                    self.on_transport_lost(now, &reason);
                }
            }
        }
    }

    fn pump_transmit(&mut self) {
        if let Some(session) = self.session.as_mut() {
            while let Some(text) = session.poll_transmit() {
                if let Some(s) = &self.socket {
                    s.send(text);
                }
            }
        }
    }

    fn maybe_connected(&mut self) {
        let established = self.session.as_ref().is_some_and(|s| s.is_established());
        if self.phase == Phase::Connecting && established && self.got_create {
            tracing::info!("connected");
            self.phase = Phase::Open;
            self.set_state(ClientState::Connected);
            if let Some((_, cb)) = self.connect_cb.take() {
                deliver(cb, Ok(()));
            }
        }
    }

    /// End the logical connection: drop the socket, fail everything pending.
    fn end_session(&mut self, state: ClientState, reason: &str) {
        self.end_session_with(state, reason, Error::ConnectionClosed(reason.to_owned()));
    }

    /// [`end_session`](Self::end_session), failing the pending calls with `err`.
    fn end_session_with(&mut self, state: ClientState, reason: &str, err: Error) {
        if let Some(s) = self.socket.take() {
            s.close(CloseCode::ClientError.as_u16(), "Closing by connection");
        }
        self.session = None;
        self.phase = Phase::Idle;
        self.handshake_deadline = None;
        self.reconnect_at = None;
        self.logged_in = false;
        self.outbox.clear();
        self.credentials = None;
        self.restore = None;
        self.restore_deadline = None;
        self.delivered.clear();
        self.filling.clear();
        self.want_online = false;
        if let Some(shared) = self.shared() {
            shared.set_me(None);
        }
        // The state first: a completion that runs next sees it.
        self.set_state(state);
        if state == ClientState::Closed {
            self.emit(ClientEvent::ConnectionClosed {
                reason: reason.to_owned(),
            });
        }
        if let Some((_, cb)) = self.connect_cb.take() {
            deliver(cb, Err(Error::ConnectionFailed(reason.to_owned())));
        }
        self.fail_all(err);
        for cb in self.disconnect_cbs.drain(..) {
            deliver(cb, Ok(()));
        }
    }

    fn finish_disconnect(&mut self, reason: &str) {
        self.end_session(ClientState::Disconnected, reason);
    }

    fn fail_all(&mut self, err: Error) {
        let mut pending: Vec<_> = self.pending.drain().map(|(_, p)| p).collect();
        pending.sort_by_key(|p| p.order);
        for p in pending {
            if let Completion::App(cb) = p.completion {
                deliver(cb, Err(err.clone()));
            }
        }
        if let Some((_, p)) = self.auth.take() {
            deliver(p.cb, Err(err.clone()));
        }
        if let Some((_, p)) = self.refresh.take() {
            deliver(p.cb, Err(err.clone()));
        }
    }

    // -------------------------------------------------------------------------------------
    // Payloads
    // -------------------------------------------------------------------------------------

    fn on_payload(&mut self, text: &str) {
        match payload_kind(text) {
            Ok(PayloadKind::Rpc) => match ServerRpc::from_json(text) {
                Ok(rpc) => self.on_rpc(rpc),
                Err(e) => tracing::debug!(error = %e, "ignoring an RPC"),
            },
            Ok(PayloadKind::Messaging) => self.on_messaging(text),
            Err(e) => tracing::warn!(error = %e, "ignoring a payload"),
        }
    }

    fn on_rpc(&mut self, rpc: ServerRpc) {
        let now = Instant::now();
        match rpc {
            ServerRpc::CreateConnection { .. } => {
                self.got_create = true;
                self.maybe_connected();
                if self.restore.is_some() {
                    self.maybe_relogin(now);
                }
            }
            ServerRpc::Pong => {}
            ServerRpc::LoginSuccessful(ok) if self.restoring_login() => {
                self.finish_restore(now, ok.tokens)
            }
            ServerRpc::LoginFailed(f) if self.restoring_login() => {
                let refreshed = self.restore == Some(Restore::LoggingIn { refreshed: true });
                let refresh = self
                    .credentials
                    .as_ref()
                    .and_then(|c| c.refresh_token.clone());
                match refresh {
                    Some(token) if f.code == 701 && !refreshed && self.refresh.is_none() => {
                        tracing::info!("the access token was refused; refreshing it");
                        self.send_restore_refresh(now, token);
                    }
                    _ => self.fail_restore(f.code),
                }
            }
            ServerRpc::RefreshOauthTokenSuccessful(ok)
                if self.restore == Some(Restore::Refreshing) =>
            {
                if let Some(c) = self.credentials.as_mut() {
                    c.access_token = Some(ok.tokens.access_token.clone());
                    c.refresh_token = Some(ok.tokens.refresh_token.clone());
                }
                self.send_restore_login(now, true);
            }
            ServerRpc::RefreshOauthTokenFailed(f) if self.restore == Some(Restore::Refreshing) => {
                self.fail_restore(f.code)
            }
            ServerRpc::LoginSuccessful(ok) => {
                let Some((kind, p)) = self.auth.take() else {
                    return tracing::warn!("loginSuccessful without a pending login");
                };
                let RpcKind::Login(login) = kind else {
                    return deliver(
                        p.cb,
                        Err(Error::Protocol(
                            "loginSuccessful answering a one-time-key request".into(),
                        )),
                    );
                };
                self.logged_in = true;
                self.login_name = Some(login.login.clone());
                if let Some(shared) = self.shared() {
                    shared.set_me(Some(vox_protocol::auth::sdk_user_name(&login.login)));
                }
                // Keep what a later restore needs: the tokens this login returned, or the
                // token it was made with (a token login returns none).
                let (access_token, refresh_token) = match &ok.tokens {
                    Some(t) => (Some(t.access_token.clone()), Some(t.refresh_token.clone())),
                    None => (login.access_token, None),
                };
                self.credentials = Some(Credentials {
                    login: login.login,
                    options: login.options,
                    access_token,
                    refresh_token,
                });
                tracing::info!("logged in");
                self.set_state(ClientState::LoggedIn);
                deliver(
                    p.cb,
                    Ok(RpcReply::LoggedIn(AuthResult {
                        display_name: ok.display_name,
                        tokens: ok.tokens,
                    })),
                );
            }
            ServerRpc::LoginFailed(f) => {
                let Some((kind, p)) = self.auth.take() else {
                    return tracing::warn!(code = f.code, "loginFailed without a pending login");
                };
                match (kind, f.key()) {
                    (RpcKind::OneTimeKey, Some(key)) if f.code == 302 => {
                        deliver(p.cb, Ok(RpcReply::Key(key.to_owned())))
                    }
                    _ => {
                        tracing::info!(code = f.code, "login failed");
                        deliver(p.cb, Err(Error::LoginFailed { code: f.code }))
                    }
                }
            }
            ServerRpc::RefreshOauthTokenSuccessful(ok) => match self.refresh.take() {
                Some((login, p)) => {
                    // The old refresh token is spent: a later restore needs the new ones.
                    if let Some(c) = self.credentials.as_mut()
                        && vox_protocol::auth::sdk_user_name(&c.login)
                            == vox_protocol::auth::sdk_user_name(&login)
                    {
                        c.access_token = Some(ok.tokens.access_token.clone());
                        c.refresh_token = Some(ok.tokens.refresh_token.clone());
                    }
                    deliver(p.cb, Ok(RpcReply::Tokens(ok.tokens)))
                }
                None => tracing::warn!("refreshOauthTokenSuccessful without a pending refresh"),
            },
            ServerRpc::RefreshOauthTokenFailed(f) => match self.refresh.take() {
                Some((_, p)) => deliver(p.cb, Err(Error::LoginFailed { code: f.code })),
                None => tracing::warn!("refreshOauthTokenFailed without a pending refresh"),
            },
        }
    }

    // -------------------------------------------------------------------------------------
    // Restoring a session the server refused to resume
    // -------------------------------------------------------------------------------------

    /// Logged in, with a token to log in again.
    fn can_restore(&self) -> bool {
        self.logged_in
            && self
                .credentials
                .as_ref()
                .is_some_and(|c| c.access_token.is_some())
    }

    fn restoring_login(&self) -> bool {
        matches!(self.restore, Some(Restore::LoggingIn { .. }))
    }

    /// The server refused to resume the session (it restarted, or the resume window expired).
    /// A logged-in client with a token opens a new session and logs in again; anything else
    /// ends as before.
    fn start_restore(&mut self, now: Instant) {
        if !self.logged_in {
            return self.end_session(
                ClientState::Closed,
                "the server refused to resume the session",
            );
        }
        if !self.can_restore() {
            return self.end_session(
                ClientState::Closed,
                "the server refused to resume the session and no login token is available",
            );
        }
        tracing::info!("the server refused to resume the session; restoring it with a new login");
        self.restore = Some(Restore::Connecting);
        self.new_restore_session(now);
    }

    /// Open a socket for a new session (no resume id) of the restore.
    fn new_restore_session(&mut self, now: Instant) {
        self.restore = Some(Restore::Connecting);
        self.restore_deadline = None;
        self.session = Some(Session::new(SessionConfig::client(), None, now));
        self.got_create = false;
        self.open_socket(now, None);
    }

    /// The new session is up (handshake done and `__createConnection` received): log in.
    fn maybe_relogin(&mut self, now: Instant) {
        let established = self.session.as_ref().is_some_and(|s| s.is_established());
        if self.restore == Some(Restore::Connecting) && established && self.got_create {
            self.handshake_deadline = None;
            self.send_restore_login(now, false);
        }
    }

    fn send_restore_login(&mut self, now: Instant, refreshed: bool) {
        let Some(c) = self.credentials.as_ref() else {
            return self.fail_restore(701);
        };
        let Some(token) = c.access_token.as_deref() else {
            return self.fail_restore(701);
        };
        let rpc = vox_protocol::rpc::ClientRpc::Login(vox_protocol::rpc::Login::with_token(
            &c.login,
            token,
            c.options.clone(),
        ));
        self.restore = Some(Restore::LoggingIn { refreshed });
        self.restore_deadline = Some(now + self.config.request_timeout);
        if let Err(e) = self.session_send(now, rpc.to_json()) {
            tracing::info!(error = %e, "cannot send the login of the restored session");
            self.attempt_failed(now, "cannot send the login");
        }
    }

    fn send_restore_refresh(&mut self, now: Instant, refresh_token: String) {
        let Some(c) = self.credentials.as_ref() else {
            return self.fail_restore(701);
        };
        let rpc =
            vox_protocol::rpc::ClientRpc::RefreshOauthToken(vox_protocol::rpc::RefreshOauthToken {
                login: c.login.clone(),
                refresh_token,
                device_token: None,
            });
        self.restore = Some(Restore::Refreshing);
        self.restore_deadline = Some(now + self.config.request_timeout);
        if let Err(e) = self.session_send(now, rpc.to_json()) {
            tracing::info!(error = %e, "cannot send the token refresh of the restored session");
            self.attempt_failed(now, "cannot send the token refresh");
        }
    }

    /// The tokens were refused: the session cannot be restored without the application.
    fn fail_restore(&mut self, code: u32) {
        tracing::info!(
            code,
            "the session cannot be restored: the login was refused"
        );
        self.end_session_with(
            ClientState::Closed,
            &format!(
                "the server refused to resume the session and the login with the saved token failed (code {code})"
            ),
            Error::LoginFailed { code },
        );
    }

    /// Logged in on the new session: resend what is pending, fill the gaps, carry on.
    fn finish_restore(&mut self, now: Instant, tokens: Option<LoginTokens>) {
        self.restore = None;
        self.restore_deadline = None;
        if let (Some(t), Some(c)) = (tokens, self.credentials.as_mut()) {
            c.access_token = Some(t.access_token);
            c.refresh_token = Some(t.refresh_token);
        }
        tracing::info!(
            pending = self.pending.values().filter(|p| p.is_app()).count(),
            conversations = self.delivered.len(),
            "session restored"
        );
        self.phase = Phase::Open;
        self.reconnect_attempt = 0;
        self.reconnect_at = None;
        self.set_state(ClientState::LoggedIn);
        self.emit(ClientEvent::SessionRestored);
        // The SDK's own requests of an earlier restore that did not finish start over (what a
        // fill held back stays held).
        self.pending.retain(|_, p| p.is_app());
        self.outbox.clear();
        // 1. Gap fill: every conversation with a delivered seq. Live events of these
        //    conversations wait until their fill is done.
        let mut convs: Vec<(String, u64)> = self
            .delivered
            .iter()
            .map(|(c, s)| (c.clone(), *s))
            .collect();
        convs.sort();
        for (conv, last) in convs {
            self.filling.entry(conv.clone()).or_default();
            self.request_fill(now, conv, last + 1);
        }
        // 2. Every request that has not completed, in its original order, with its original
        //    request_uuid: the server runs each write once (answers a repeat from its log).
        let mut resend: Vec<(u64, String)> = self
            .pending
            .iter()
            .map(|(u, p)| (p.order, u.clone()))
            .collect();
        resend.sort();
        for (_, uuid) in resend {
            let p = self.pending.get_mut(&uuid).expect("listed");
            p.reset();
            self.outbox.push_back((uuid, p.json.clone()));
        }
        // 3. Presence is per session: the new one is offline until told otherwise.
        if self.want_online {
            let r = ClientRequest::new(vox_protocol::messaging::Request::SetStatus(
                vox_protocol::messaging::PresenceMessage { online: true },
            ));
            self.queue_request(now, OperationId(0), r, Expect::One, Completion::Discard, 0);
        }
        // 4. Fetch the current user again (what changed while away); the answer updates the
        //    cache of `get_me_user` as it is dispatched.
        if let Some(c) = &self.credentials {
            let name = vox_protocol::auth::sdk_user_name(&c.login);
            let r = ClientRequest::new(vox_protocol::messaging::Request::GetUser(
                vox_protocol::messaging::UserRef::by_name(&name),
            ));
            self.queue_request(now, OperationId(0), r, Expect::One, Completion::Discard, 0);
        }
        self.flush_outbox(now);
    }

    /// Ask for the events of `conv` from `from` on (one window).
    fn request_fill(&mut self, now: Instant, conv: String, from: u64) {
        let r = ClientRequest::new(vox_protocol::messaging::Request::RetransmitEvents(
            vox_protocol::messaging::RetransmitRequest::from_seq(conv.clone(), from, FILL_WINDOW),
        ));
        self.queue_request(
            now,
            OperationId(0),
            r,
            Expect::Retransmit,
            Completion::Fill { conv, from },
            0,
        );
    }

    /// A window of a gap fill arrived: deliver what was not delivered yet, in seq order; ask
    /// for the next window while the server returns full ones.
    fn on_fill(&mut self, conv: String, from: u64, r: Result<Reply, Error>) {
        let events = match r {
            Ok(Reply::Retransmit(r)) => r.events,
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(conversation = %conv, from, error = %e, "gap fill failed; events of this conversation may be missing");
                return self.finish_fill(&conv);
            }
        };
        let n = events.len() as u64;
        let mut events = events;
        events.sort_by_key(|e| e.sequence());
        tracing::debug!(conversation = %conv, from, events = n, "gap fill");
        for e in events {
            let ev = match e {
                RetransmittedEvent::Conversation(c) => MessengerEvent::Conversation(c),
                RetransmittedEvent::Message(m) => MessengerEvent::Message(m),
            };
            let seq = match &ev {
                MessengerEvent::Conversation(c) => c.sequence,
                MessengerEvent::Message(m) => m.sequence,
                _ => 0,
            };
            if self.note_delivered(&conv, seq) {
                self.to_listeners(ev);
            }
        }
        if n >= FILL_WINDOW {
            let next = self.delivered.get(&conv).copied().unwrap_or(from) + 1;
            let next = next.max(from + FILL_WINDOW);
            self.request_fill(Instant::now(), conv, next);
        } else {
            self.finish_fill(&conv);
        }
    }

    /// The fill of `conv` is over: the live events held back meanwhile go out now.
    fn finish_fill(&mut self, conv: &str) {
        let Some(fill) = self.filling.remove(conv) else {
            return;
        };
        for msg in fill.held {
            self.process_messaging(msg);
        }
    }

    /// Record that `seq` of `conv` is delivered; false when it (or a later one) already was.
    fn note_delivered(&mut self, conv: &str, seq: u64) -> bool {
        match self.delivered.get_mut(conv) {
            Some(last) if seq <= *last => false,
            Some(last) => {
                *last = seq;
                true
            }
            None => {
                self.delivered.insert(conv.to_owned(), seq);
                true
            }
        }
    }

    fn to_listeners(&self, ev: MessengerEvent) {
        let Some(shared) = self.shared() else { return };
        let t = ev.event_type();
        runtime::get().deliver(move || {
            for l in shared.messenger_listeners(t) {
                l(&ev);
            }
        });
    }

    // -------------------------------------------------------------------------------------
    // Messaging events
    // -------------------------------------------------------------------------------------

    fn on_messaging(&mut self, text: &str) {
        let msg = match events::parse(text) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable messaging event");
                // Fail the request it answers, if we can tell which, rather than time out.
                #[derive(serde::Deserialize)]
                struct Probe {
                    #[serde(default)]
                    request_uuid: Option<String>,
                }
                if let Ok(Probe {
                    request_uuid: Some(u),
                }) = serde_json::from_str::<Probe>(text)
                    && let Some(p) = self.pending.remove(&u)
                {
                    self.complete(p, Err(Error::Protocol(e.to_string())));
                }
                return;
            }
        };
        // A conversation being gap-filled: its live events wait for the fill.
        if let Some((conv, _)) = seq_key(&msg)
            && let Some(fill) = self.filling.get_mut(&conv)
        {
            fill.held.push(msg);
            return;
        }
        self.process_messaging(msg);
    }

    fn process_messaging(&mut self, msg: vox_protocol::messaging::ServerMessage) {
        let Some(shared) = self.shared() else { return };
        let key = seq_key(&msg);
        let answers = self.pending.get(&msg.request_uuid);
        let internal = answers.is_some_and(|p| !p.is_app());
        // The answer to a request sent once is always new to the application (it may carry
        // an older seq: createConversation of an existing direct conversation); any other
        // event that takes a seq is delivered once per (conversation, seq).
        let first_answer = answers.is_some_and(|p| p.is_app() && !p.resent);
        let fresh = match &key {
            Some((conv, seq)) if first_answer => {
                self.note_delivered(conv, *seq);
                true
            }
            Some((conv, seq)) => self.note_delivered(conv, *seq),
            None => true,
        };
        if !fresh && let Some((conv, seq)) = &key {
            tracing::debug!(conversation = %conv, seq, event = %msg.event, "event already delivered; not repeated");
        }
        let messenger = Messenger::new(super::Client {
            shared: shared.clone(),
        });
        let (count, from, to) = (msg.payload.count, msg.payload.from_seq, msg.payload.to_seq);
        let has_object = msg.payload.object.is_some();
        let event_name = msg.event;
        let Some(ev) = events::convert(&messenger, msg.event, msg.payload) else {
            if event_name != EventName::CreateBot && event_name != EventName::RemoveBot {
                tracing::warn!(event = %event_name, has_object, "event without the object it needs");
            }
            return;
        };
        drop(messenger);
        // The cache of the current user follows every user event about them, the SDK's own
        // fetches included.
        if let MessengerEvent::User(u) = &ev {
            shared.note_user(&u.user);
        }
        // Listeners first, then the completion (the Web SDK's order). The SDK's own requests
        // (gap fill, repeated setStatus) are not the application's events.
        if fresh && !internal {
            self.to_listeners(ev.clone());
        }
        if msg.request_uuid.is_empty() {
            return;
        }
        let done = match self.pending.get_mut(&msg.request_uuid) {
            Some(p) => match p.feed(&ev, count, from, to) {
                Fed::Waiting => None,
                Fed::Done(r) => Some(r),
            },
            None => None,
        };
        if let Some(r) = done {
            let p = self.pending.remove(&msg.request_uuid).expect("present");
            self.complete(p, r);
        }
    }
}
