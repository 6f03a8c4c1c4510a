//! The client: connection, session layer, reconnect/resume, login, and the state of the
//! connection as the application sees it.

mod actor;

use crate::error::{Error, Result};
use crate::messenger::{Messenger, MessengerEvent, MessengerEventType, User};
use crate::runtime;
use crate::transport::{ReconnectPolicy, TlsTrust};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub(crate) use actor::{Expect, Reply};
pub use vox_protocol::auth::CredentialType;
pub use vox_protocol::rpc::{LoginFailureCode, OAuthTokens as LoginTokens};

/// The identifier of one asynchronous operation, for [`Client::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationId(pub u64);

/// The identifier of a registered listener, for `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(pub u64);

/// A completion callback: called exactly once, on the SDK's callback thread.
pub type Callback<T> = Box<dyn FnOnce(Result<T>) + Send + 'static>;

/// The state of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ClientState {
    /// No connection (initial state, and after `disconnect()`).
    Disconnected = 0,
    /// `connect()` is in progress.
    Connecting = 1,
    /// Connected, not logged in.
    Connected = 2,
    /// The socket was lost; the SDK is resuming the session on a new one (or, if the server
    /// cannot resume it, restoring it with a new session and a token login).
    Reconnecting = 3,
    /// Connected and logged in.
    LoggedIn = 4,
    /// The connection ended without `disconnect()` (the session could not be restored — no
    /// token, or the token login refused — or reconnect attempts exhausted). `connect()` may
    /// be called again.
    Closed = 5,
}

impl ClientState {
    fn from_u8(v: u8) -> ClientState {
        match v {
            1 => ClientState::Connecting,
            2 => ClientState::Connected,
            3 => ClientState::Reconnecting,
            4 => ClientState::LoggedIn,
            5 => ClientState::Closed,
            _ => ClientState::Disconnected,
        }
    }
}

/// Connection events (delivered to [`Client::on_event`] listeners on the callback thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Every change of [`ClientState`], in order.
    StateChanged(ClientState),
    /// `connect()` failed.
    ConnectionFailed { reason: String },
    /// The socket was lost; reconnect attempts begin.
    Reconnecting,
    /// The session was resumed on a new socket; nothing was lost.
    Reconnected,
    /// The server could not resume the session (it restarted, or the resume window expired), so
    /// the SDK opened a new session and logged in again with the access token of the last login
    /// (refreshing it if needed). Pending requests were resent with their original
    /// `request_uuid` (the server executes each once) and the events missed in every conversation
    /// seen so far were fetched and delivered, in order, before any newer one. Lost: events
    /// without a seq (typing, read marks, presence) sent while the client was away. The new
    /// session is offline until `setStatus(true)`; the SDK repeats the last `setStatus(true)`
    /// of this client itself.
    SessionRestored,
    /// The connection ended without `disconnect()`.
    ConnectionClosed { reason: String },
}

/// Options sent with a login (the Web SDK's login options object).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LoginOptions {
    /// `receiveCalls` (calls are out of scope; sent only when set).
    pub receive_calls: Option<bool>,
    /// `deviceToken`: the push token of this device (sent only when set).
    pub device_token: Option<String>,
}

impl std::fmt::Debug for LoginOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginOptions")
            .field("receive_calls", &self.receive_calls)
            .field("device_token", &self.device_token.as_ref().map(|_| ".."))
            .finish()
    }
}

impl LoginOptions {
    pub(crate) fn to_wire(&self) -> vox_protocol::rpc::LoginOptions {
        let mut o = vox_protocol::rpc::LoginOptions::new();
        if let Some(r) = self.receive_calls {
            o.set("receiveCalls", r);
        }
        if let Some(d) = &self.device_token {
            o.set("deviceToken", d.clone());
        }
        o
    }
}

/// A successful login.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthResult {
    pub display_name: String,
    /// New tokens, when the server issued some (it does for password and one-time-key logins).
    pub tokens: Option<LoginTokens>,
}

/// How a client connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Servers to try in order: `wss://host:port`, `ws://host:port`, or `host:port` (= `wss://`).
    pub servers: Vec<String>,
    /// Which certificates `wss://` accepts.
    pub tls: TlsTrust,
    pub reconnect: ReconnectPolicy,
    /// Every request and login fails with a timeout error after this long (Web SDK: 20 s).
    pub request_timeout: Duration,
    /// How long opening one socket plus the session handshake may take.
    pub connect_timeout: Duration,
    /// Minimum spacing of messaging requests on the wire. The default is the Web SDK's queue
    /// (one request per 220 ms), which keeps a client under the servers' rate limits (errors 32
    /// and 33). Zero sends at once. Requests always keep their order; login RPCs and pings are
    /// not queued.
    pub request_spacing: Duration,
    /// `client_version` of the URL.
    pub client_version: String,
    /// `client_platform` of the URL.
    pub client_platform: String,
}

impl ClientConfig {
    /// The defaults for one server.
    pub fn new(server: impl Into<String>) -> ClientConfig {
        ClientConfig {
            servers: vec![server.into()],
            tls: TlsTrust::default(),
            reconnect: ReconnectPolicy::default(),
            request_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            request_spacing: Duration::from_millis(220),
            client_version: "4.13.1-3005".into(),
            client_platform: "native".into(),
        }
    }
}

type ClientListener = Arc<dyn Fn(&ClientEvent) + Send + Sync>;
type MessengerListener = Arc<dyn Fn(&MessengerEvent) + Send + Sync>;

pub(crate) struct Shared {
    pub(crate) config: ClientConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    cmds: mpsc::UnboundedSender<actor::Cmd>,
    state: AtomicU8,
    next_id: AtomicU64,
    client_listeners: Mutex<Vec<(ListenerId, ClientListener)>>,
    messenger_listeners: Mutex<HashMap<MessengerEventType, Vec<(ListenerId, MessengerListener)>>>,
    /// `user@app.account` of the logged-in user.
    pub(crate) me: Mutex<Option<String>>,
    /// The logged-in user as the server last described them: set to the name only at each
    /// login, filled by the fetch that completes the login (and by the one after a restored
    /// session), kept current from every user event about them; cleared with `me`.
    pub(crate) me_user: Mutex<Option<User>>,
    /// Last `typing()` per conversation uuid.
    pub(crate) typing: Mutex<HashMap<String, Instant>>,
}

impl Shared {
    fn set_state(&self, state: ClientState) -> bool {
        self.state.swap(state as u8, Ordering::SeqCst) != state as u8
    }

    pub(crate) fn messenger_listeners(&self, t: MessengerEventType) -> Vec<MessengerListener> {
        let map = self
            .messenger_listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.get(&t)
            .map(|v| v.iter().map(|(_, l)| l.clone()).collect())
            .unwrap_or_default()
    }

    /// A user event (get_user or edit_user result or event, from any session): when it is
    /// about the logged-in user, it becomes the cached current user.
    pub(crate) fn note_user(&self, user: &User) {
        let me = self.me.lock().unwrap_or_else(|e| e.into_inner());
        if me
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(&user.name))
        {
            *self.me_user.lock().unwrap_or_else(|e| e.into_inner()) = Some(user.clone());
        }
    }

    /// Set (at login) or clear (at the end of a session) the current user.
    pub(crate) fn set_me(&self, name: Option<String>) {
        let mut me = self.me.lock().unwrap_or_else(|e| e.into_inner());
        *self.me_user.lock().unwrap_or_else(|e| e.into_inner()) = name.as_ref().map(|n| User {
            name: n.clone(),
            ..Default::default()
        });
        *me = name;
    }

    fn client_listeners(&self) -> Vec<ClientListener> {
        let v = self
            .client_listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        v.iter().map(|(_, l)| l.clone()).collect()
    }
}

/// Deliver `event` to the client listeners on the callback thread.
fn emit(shared: &Arc<Shared>, event: ClientEvent) {
    let shared = shared.clone();
    runtime::get().deliver(move || {
        for l in shared.client_listeners() {
            l(&event);
        }
    });
}

/// A client handle: cheap to clone, usable from any thread (including SDK callbacks). The
/// connection lives as long as any handle (or any object obtained through one) does.
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("servers", &self.shared.config.servers)
            .field("state", &self.state())
            .finish()
    }
}

impl Client {
    /// A new, disconnected client. Fails on a bad configuration (no server, an unsupported
    /// scheme, unreadable TLS material).
    pub fn new(config: ClientConfig) -> Result<Client> {
        if config.servers.is_empty() {
            return Err(Error::invalid("no server given"));
        }
        for s in &config.servers {
            crate::transport::platform_url(s, "", "", None)?;
        }
        let needs_tls = config.servers.iter().any(|s| !s.starts_with("ws://"));
        let tls = if needs_tls {
            Some(crate::transport::client_config(&config.tls)?)
        } else {
            None
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            config,
            tls,
            cmds: tx,
            state: AtomicU8::new(ClientState::Disconnected as u8),
            next_id: AtomicU64::new(1),
            client_listeners: Mutex::new(Vec::new()),
            messenger_listeners: Mutex::new(HashMap::new()),
            me: Mutex::new(None),
            me_user: Mutex::new(None),
            typing: Mutex::new(HashMap::new()),
        });
        actor::spawn(&shared, rx);
        Ok(Client { shared })
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        ClientState::from_u8(self.shared.state.load(Ordering::SeqCst))
    }

    /// The messenger of this client.
    pub fn messenger(&self) -> Messenger {
        Messenger::new(self.clone())
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Register a connection-event listener. It runs on the callback thread.
    pub fn on_event(&self, listener: impl Fn(&ClientEvent) + Send + Sync + 'static) -> ListenerId {
        let id = ListenerId(self.next_id());
        self.shared
            .client_listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, Arc::new(listener)));
        id
    }

    /// Remove a connection-event listener; `None` removes them all.
    pub fn off_event(&self, id: Option<ListenerId>) {
        let mut v = self
            .shared
            .client_listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match id {
            Some(id) => v.retain(|(i, _)| *i != id),
            None => v.clear(),
        }
    }

    pub(crate) fn on_messenger(
        &self,
        t: MessengerEventType,
        listener: impl Fn(&MessengerEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        let id = ListenerId(self.next_id());
        self.shared
            .messenger_listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(t)
            .or_default()
            .push((id, Arc::new(listener)));
        id
    }

    pub(crate) fn off_messenger(&self, t: MessengerEventType, id: Option<ListenerId>) {
        let mut map = self
            .shared
            .messenger_listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match id {
            Some(id) => {
                if let Some(v) = map.get_mut(&t) {
                    v.retain(|(i, _)| *i != id);
                }
            }
            None => {
                map.remove(&t);
            }
        }
    }

    fn send_cmd(&self, cmd: actor::Cmd) {
        if let Err(mpsc::error::SendError(cmd)) = self.shared.cmds.send(cmd) {
            cmd.fail(Error::Internal("the connection task is gone".into()));
        }
    }

    /// Complete `cb` with `err` on the callback thread (never inside the caller).
    pub(crate) fn fail_later<T: Send + 'static>(cb: Callback<T>, err: Error) {
        runtime::get().deliver(move || cb(Err(err)));
    }

    // -----------------------------------------------------------------------------------------
    // Connection
    // -----------------------------------------------------------------------------------------

    /// Connect (callback form). Completes once the session is established and the server has
    /// sent `__createConnection`.
    pub fn connect_cb(&self, cb: impl FnOnce(Result<()>) + Send + 'static) -> OperationId {
        let op = OperationId(self.next_id());
        self.send_cmd(actor::Cmd::Connect(op, Box::new(cb)));
        op
    }

    /// Connect to the first server that accepts the connection.
    pub async fn connect(&self) -> Result<()> {
        wait(|cb| self.connect_cb(cb)).await
    }

    /// Close the session gracefully (callback form): `close`, wait up to 6 s for its ACK, close
    /// the socket. Every pending call fails with [`Error::ConnectionClosed`].
    pub fn disconnect_cb(&self, cb: impl FnOnce(Result<()>) + Send + 'static) -> OperationId {
        let op = OperationId(self.next_id());
        self.send_cmd(actor::Cmd::Disconnect(Box::new(cb)));
        op
    }

    pub async fn disconnect(&self) -> Result<()> {
        wait(|cb| self.disconnect_cb(cb)).await
    }

    /// A hint that the network changed (e.g. Wi-Fi → cellular): the SDK drops the current socket
    /// and resumes the session on a new one at once (or, while reconnecting, tries again now).
    pub fn notify_network_changed(&self) {
        let _ = self.shared.cmds.send(actor::Cmd::NetworkChanged);
    }

    /// Cancel a pending operation: its callback is called with [`Error::Cancelled`] (unless it
    /// already completed). Idempotent. A request already sent is not recalled from the server.
    pub fn cancel(&self, op: OperationId) {
        let _ = self.shared.cmds.send(actor::Cmd::Cancel(op));
    }

    // -----------------------------------------------------------------------------------------
    // Login
    // -----------------------------------------------------------------------------------------

    fn rpc<T: Send + 'static>(
        &self,
        kind: actor::RpcKind,
        payload: String,
        map: fn(actor::RpcReply) -> Result<T>,
        cb: Callback<T>,
    ) -> OperationId {
        let op = OperationId(self.next_id());
        let cb: Callback<actor::RpcReply> = Box::new(move |r| cb(r.and_then(map)));
        self.send_cmd(actor::Cmd::Rpc {
            op,
            kind,
            payload,
            cb,
        });
        op
    }

    fn login_payload(login: vox_protocol::rpc::ClientRpc) -> String {
        login.to_json()
    }

    /// The completion of a login: after a successful one, fetch the current user (so that
    /// [`Messenger::get_me_user`] has every field), then complete. A failed fetch does not fail
    /// the login; the cached user then has the name only.
    fn after_login(
        &self,
        cb: impl FnOnce(Result<AuthResult>) + Send + 'static,
    ) -> Callback<AuthResult> {
        // Weak: the callback waits inside the connection task, which the client owns.
        let weak = Arc::downgrade(&self.shared);
        Box::new(move |r| match (r, weak.upgrade()) {
            (Ok(auth), Some(shared)) => {
                let m = Client { shared }.messenger();
                let Some(name) = m.get_me() else {
                    return cb(Ok(auth));
                };
                // The actor caches the user as it dispatches the answer, before this runs.
                m.get_user_by_name_cb(&name, move |r| {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "could not fetch the current user");
                    }
                    cb(Ok(auth))
                });
            }
            (r, _) => cb(r),
        })
    }

    fn auth_reply(r: actor::RpcReply) -> Result<AuthResult> {
        match r {
            actor::RpcReply::LoggedIn(a) => Ok(a),
            _ => Err(Error::Protocol("unexpected reply to a login".into())),
        }
    }

    /// Log in with a password (callback form). The password is hashed here (MD5 or SHA-256
    /// digest of `user:voximplant.com:password`) and never leaves the device or the logs.
    ///
    /// Like every login, it completes only after the SDK fetched the logged-in user (one
    /// `getUser`, whose result listeners see) for [`Messenger::get_me_user`].
    pub fn login_cb(
        &self,
        user: &str,
        password: &str,
        digest: CredentialType,
        options: LoginOptions,
        cb: impl FnOnce(Result<AuthResult>) + Send + 'static,
    ) -> OperationId {
        let rpc = vox_protocol::rpc::ClientRpc::Login(vox_protocol::rpc::Login::with_password(
            user,
            password,
            digest,
            options.to_wire(),
        ));
        self.rpc(
            actor::RpcKind::Login(actor::LoginKind {
                login: user.to_owned(),
                options: options.to_wire(),
                access_token: None,
            }),
            Self::login_payload(rpc),
            Self::auth_reply,
            self.after_login(cb),
        )
    }

    /// Log in with a password (MD5 digest, no options).
    pub async fn login(&self, user: &str, password: &str) -> Result<AuthResult> {
        self.login_with(user, password, CredentialType::Md5, LoginOptions::default())
            .await
    }

    /// Log in with a password, choosing the digest and the options.
    pub async fn login_with(
        &self,
        user: &str,
        password: &str,
        digest: CredentialType,
        options: LoginOptions,
    ) -> Result<AuthResult> {
        wait(|cb| self.login_cb(user, password, digest, options, cb)).await
    }

    /// Log in with an access token obtained from an earlier login (callback form).
    pub fn login_with_token_cb(
        &self,
        user: &str,
        access_token: &str,
        options: LoginOptions,
        cb: impl FnOnce(Result<AuthResult>) + Send + 'static,
    ) -> OperationId {
        let rpc = vox_protocol::rpc::ClientRpc::Login(vox_protocol::rpc::Login::with_token(
            user,
            access_token,
            options.to_wire(),
        ));
        self.rpc(
            actor::RpcKind::Login(actor::LoginKind {
                login: user.to_owned(),
                options: options.to_wire(),
                access_token: Some(access_token.to_owned()),
            }),
            Self::login_payload(rpc),
            Self::auth_reply,
            self.after_login(cb),
        )
    }

    pub async fn login_with_token(
        &self,
        user: &str,
        access_token: &str,
        options: LoginOptions,
    ) -> Result<AuthResult> {
        wait(|cb| self.login_with_token_cb(user, access_token, options, cb)).await
    }

    /// Ask the server for a one-time login key (callback form).
    pub fn request_one_time_login_key_cb(
        &self,
        user: &str,
        cb: impl FnOnce(Result<String>) + Send + 'static,
    ) -> OperationId {
        let rpc = vox_protocol::rpc::ClientRpc::LoginGenerateOneTimeKey(
            vox_protocol::rpc::GenerateOneTimeKey {
                login: user.to_owned(),
            },
        );
        self.rpc(
            actor::RpcKind::OneTimeKey,
            rpc.to_json(),
            |r| match r {
                actor::RpcReply::Key(k) => Ok(k),
                _ => Err(Error::Protocol(
                    "unexpected reply to loginGenerateOneTimeKey".into(),
                )),
            },
            Box::new(cb),
        )
    }

    pub async fn request_one_time_login_key(&self, user: &str) -> Result<String> {
        wait(|cb| self.request_one_time_login_key_cb(user, cb)).await
    }

    /// The hash to log in with a one-time key: `md5(key + "|" + md5(user:voximplant.com:password))`,
    /// where `user` is the login name before `@`. Usually computed by the application's backend,
    /// which knows the password.
    pub fn one_time_key_hash(key: &str, login: &str, password: &str) -> String {
        vox_protocol::auth::one_time_key_hash(key, vox_protocol::auth::digest_user(login), password)
    }

    /// Log in with the hash of a one-time key (callback form).
    pub fn login_with_one_time_key_cb(
        &self,
        user: &str,
        hash: &str,
        options: LoginOptions,
        cb: impl FnOnce(Result<AuthResult>) + Send + 'static,
    ) -> OperationId {
        let rpc = vox_protocol::rpc::ClientRpc::LoginUsingOneTimeKey(
            vox_protocol::rpc::OneTimeKeyLogin::new(user, hash, options.to_wire()),
        );
        self.rpc(
            actor::RpcKind::Login(actor::LoginKind {
                login: user.to_owned(),
                options: options.to_wire(),
                access_token: None,
            }),
            rpc.to_json(),
            Self::auth_reply,
            self.after_login(cb),
        )
    }

    pub async fn login_with_one_time_key(
        &self,
        user: &str,
        hash: &str,
        options: LoginOptions,
    ) -> Result<AuthResult> {
        wait(|cb| self.login_with_one_time_key_cb(user, hash, options, cb)).await
    }

    /// Exchange a refresh token for new tokens (callback form). Allowed while connected, logged
    /// in or not.
    pub fn token_refresh_cb(
        &self,
        user: &str,
        refresh_token: &str,
        device_token: Option<&str>,
        cb: impl FnOnce(Result<LoginTokens>) + Send + 'static,
    ) -> OperationId {
        let rpc =
            vox_protocol::rpc::ClientRpc::RefreshOauthToken(vox_protocol::rpc::RefreshOauthToken {
                login: user.to_owned(),
                refresh_token: refresh_token.to_owned(),
                device_token: device_token.map(str::to_owned),
            });
        self.rpc(
            actor::RpcKind::Refresh(user.to_owned()),
            rpc.to_json(),
            |r| match r {
                actor::RpcReply::Tokens(t) => Ok(t),
                _ => Err(Error::Protocol(
                    "unexpected reply to refreshOauthToken".into(),
                )),
            },
            Box::new(cb),
        )
    }

    pub async fn token_refresh(
        &self,
        user: &str,
        refresh_token: &str,
        device_token: Option<&str>,
    ) -> Result<LoginTokens> {
        wait(|cb| self.token_refresh_cb(user, refresh_token, device_token, cb)).await
    }

    // -----------------------------------------------------------------------------------------
    // Messaging plumbing
    // -----------------------------------------------------------------------------------------

    /// Send a messaging request; `cb` gets the reply (or the error) on the callback thread.
    pub(crate) fn request(
        &self,
        op: OperationId,
        request: vox_protocol::messaging::ClientRequest,
        expect: Expect,
        cb: Callback<Reply>,
    ) {
        self.send_cmd(actor::Cmd::Request {
            op,
            request,
            expect,
            cb,
        });
    }

    /// Test hook: drop the socket at once without a close frame (as a network failure would).
    #[doc(hidden)]
    pub fn debug_kill_socket(&self) {
        let _ = self.shared.cmds.send(actor::Cmd::KillSocket);
    }
}

/// Run a callback-form call and wait for its completion.
pub(crate) async fn wait<T: Send + 'static>(
    start: impl FnOnce(Callback<T>) -> OperationId,
) -> Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.await
        .unwrap_or_else(|_| Err(Error::Internal("the completion was dropped".into())))
}
