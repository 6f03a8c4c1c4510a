//! Client configuration, the client, login variants, connection events, cancel.

use super::completion::{Pending, Release, vox_completion, vox_release_fn};
use super::handles::{self, Obj, wrong_type};
use super::messenger::vox_messenger;
use super::status::VOX_ERR_INVALID_HANDLE;
use super::status::{Fail, VOX_ERR_OUT_OF_RANGE, guard, guard0, need, vox_error, write};
use super::strings::{in_array, in_opt_str, in_str, out_string};
use super::{vox_listener_id, vox_op_id};
use crate::{
    Client, ClientConfig, ClientEvent, ClientState, CredentialType, ListenerId, LoginOptions,
    MessengerEventType, TlsTrust,
};
use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---- what the C layer keeps per client -----------------------------------------------------

/// The C layer's state of one live client handle: the handle itself (for the borrowed
/// `vox_*_client` accessors) and the listeners registered through `vox_messenger_on` (one C id
/// may stand for several event types).
pub(crate) struct ClientEntry {
    pub(crate) handle: usize,
    pub(crate) listeners: Mutex<HashMap<u64, Vec<(MessengerEventType, ListenerId)>>>,
}

/// Live clients by the address of their shared state (stable while any clone of the client,
/// including the ones inside messenger, conversation and message objects, exists).
static CLIENTS: Mutex<BTreeMap<usize, Arc<ClientEntry>>> = Mutex::new(BTreeMap::new());
static NEXT_LISTENER: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_listener_id() -> u64 {
    NEXT_LISTENER.fetch_add(1, Ordering::Relaxed)
}

fn key_of(c: &Client) -> usize {
    Arc::as_ptr(&c.shared) as usize
}

fn clients() -> std::sync::MutexGuard<'static, BTreeMap<usize, Arc<ClientEntry>>> {
    CLIENTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The C layer's state of a client, or `None` once its handle was freed.
pub(crate) fn entry_of(c: &Client) -> Option<Arc<ClientEntry>> {
    clients().get(&key_of(c)).cloned()
}

/// The (borrowed) handle of a client, for `vox_messenger_client` and friends.
pub(crate) fn borrowed_client_handle(c: &Client, out: *mut *mut vox_client) -> Result<(), Fail> {
    let e = entry_of(c).ok_or_else(|| {
        Fail::new(
            VOX_ERR_INVALID_HANDLE,
            "the client of this object was freed (vox_client_free)",
        )
    })?;
    write(out, "out", e.handle as *mut vox_client)
}

/// A client configuration (a builder). Owned; free with `vox_client_config_free`. The client
/// copies it: the configuration may be freed right after `vox_client_new`.
pub struct vox_client_config {
    _private: [u8; 0],
}

/// A client: one connection to a Voximplant-compatible server. Owned; free with
/// `vox_client_free`. All functions taking it are safe from any thread.
pub struct vox_client {
    _private: [u8; 0],
}

// Client states (`vox_client_state`, `vox_client_event.state`).
/// No connection (initial state, and after disconnect).
pub const VOX_STATE_DISCONNECTED: i32 = 0;
/// Connect in progress.
pub const VOX_STATE_CONNECTING: i32 = 1;
/// Connected, not logged in.
pub const VOX_STATE_CONNECTED: i32 = 2;
/// The socket was lost; the session is being resumed on a new one.
pub const VOX_STATE_RECONNECTING: i32 = 3;
/// Connected and logged in.
pub const VOX_STATE_LOGGED_IN: i32 = 4;
/// The connection ended without a disconnect (server close, resume refused, reconnects
/// exhausted); connect may be called again.
pub const VOX_STATE_CLOSED: i32 = 5;

// Connection event kinds (`vox_client_event.kind`).
/// The state changed to `state`.
pub const VOX_CLIENT_EVENT_STATE_CHANGED: i32 = 0;
/// Connect failed (`reason`).
pub const VOX_CLIENT_EVENT_CONNECTION_FAILED: i32 = 1;
/// The socket was lost; reconnect attempts begin.
pub const VOX_CLIENT_EVENT_RECONNECTING: i32 = 2;
/// The session was resumed on a new socket; nothing was lost.
pub const VOX_CLIENT_EVENT_RECONNECTED: i32 = 3;
/// The connection ended without a disconnect (`reason`).
pub const VOX_CLIENT_EVENT_CONNECTION_CLOSED: i32 = 4;

/// Password digests for `vox_client_login`.
pub const VOX_DIGEST_MD5: i32 = 0;
pub const VOX_DIGEST_SHA256: i32 = 1;

/// A connection event, borrowed for the duration of the listener call.
#[repr(C)]
pub struct vox_client_event {
    /// A `VOX_CLIENT_EVENT_*` kind.
    pub kind: i32,
    /// The client's state after the event (a `VOX_STATE_*`).
    pub state: i32,
    /// For CONNECTION_FAILED and CONNECTION_CLOSED: why (UTF-8, NUL-terminated); NULL otherwise.
    pub reason: *const c_char,
}

/// A connection event listener, passed by value to `vox_client_on_event`. `callback` runs on
/// the callback thread; `release(user_data)` once after its last call.
#[repr(C)]
pub struct vox_client_listener {
    pub callback:
        Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const vox_client_event)>,
    pub user_data: *mut c_void,
    pub release: vox_release_fn,
}

/// Login options (the Web SDK's login options object); pass NULL for none.
#[repr(C)]
pub struct vox_login_options {
    /// `receiveCalls`: -1 = not sent, 0 = false, 1 = true.
    pub receive_calls: i32,
    /// `deviceToken`, the push token of this device (UTF-8), or NULL for none. Borrowed for the
    /// call.
    pub device_token: *const c_char,
}

// ---- configuration -------------------------------------------------------------------------

fn with_config<R>(
    cfg: *const vox_client_config,
    f: impl FnOnce(&mut ClientConfig) -> Result<R, Fail>,
) -> Result<R, Fail> {
    let o = handles::get(cfg.cast(), "client config")?;
    match &*o {
        Obj::Config(c) => f(&mut c.lock().unwrap_or_else(|e| e.into_inner())),
        _ => Err(wrong_type("client config")),
    }
}

/// A new configuration with the defaults for one server: `ws://host:port`, `wss://host:port`,
/// or `host:port` (= wss). Request timeout 20 s, connect timeout 10 s, request spacing 220 ms,
/// the Web SDK's reconnect schedule, the Mozilla root store for wss.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_new(
    server: *const c_char,
    out: *mut *mut vox_client_config,
) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let s = in_str(server, "server")?;
        let h = handles::insert(Obj::Config(Mutex::new(ClientConfig::new(s))));
        write(out, "out", h.cast())
    })
}

/// Add a fallback server (tried in order when the previous ones fail).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_add_server(
    cfg: *mut vox_client_config,
    server: *const c_char,
) -> i32 {
    guard0(|| {
        let s = in_str(server, "server")?;
        with_config(cfg, |c| {
            c.servers.push(s.to_owned());
            Ok(())
        })
    })
}

/// Trust only certificates chaining to these CA certificates (PEM text) for wss, instead of the
/// operating system's store (the default).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_set_custom_ca(
    cfg: *mut vox_client_config,
    pem: *const c_char,
) -> i32 {
    guard0(|| {
        let s = in_str(pem, "pem")?;
        with_config(cfg, |c| {
            c.tls = TlsTrust::CustomCa(s.to_owned());
            Ok(())
        })
    })
}

/// Accept exactly this server certificate (PEM text or DER bytes, `len` bytes) for wss.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_set_pinned_certificate(
    cfg: *mut vox_client_config,
    cert: *const u8,
    len: usize,
) -> i32 {
    guard0(|| {
        need(cert, "cert")?;
        let bytes = in_array(cert, len, "cert")?.to_vec();
        with_config(cfg, |c| {
            c.tls = TlsTrust::PinnedCertificate(bytes);
            Ok(())
        })
    })
}

/// Trust only the Mozilla root store bundled with the library for wss, ignoring the operating
/// system's store (the default trusts the OS store: the system CA bundle or `SSL_CERT_FILE` on
/// Linux, the keychain on Apple platforms, the certificate store on Windows; Android always uses
/// the bundled roots). Replaces a custom CA or pinned certificate set earlier.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_use_bundled_roots(cfg: *mut vox_client_config) -> i32 {
    guard0(|| {
        with_config(cfg, |c| {
            c.tls = TlsTrust::WebPkiRoots;
            Ok(())
        })
    })
}

/// Time limits in milliseconds: every request fails with VOX_ERR_TIMEOUT after
/// `request_timeout_ms`; opening a socket plus the handshake may take `connect_timeout_ms`.
/// 0 leaves a value unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_set_timeouts(
    cfg: *mut vox_client_config,
    request_timeout_ms: u64,
    connect_timeout_ms: u64,
) -> i32 {
    guard0(|| {
        with_config(cfg, |c| {
            if request_timeout_ms > 0 {
                c.request_timeout = Duration::from_millis(request_timeout_ms);
            }
            if connect_timeout_ms > 0 {
                c.connect_timeout = Duration::from_millis(connect_timeout_ms);
            }
            Ok(())
        })
    })
}

/// Minimum spacing of messaging requests on the wire, in milliseconds (default 220, as the Web
/// SDK, which keeps a client under the servers' rate limits; 0 sends at once).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_set_request_spacing(
    cfg: *mut vox_client_config,
    spacing_ms: u64,
) -> i32 {
    guard0(|| {
        with_config(cfg, |c| {
            c.request_spacing = Duration::from_millis(spacing_ms);
            Ok(())
        })
    })
}

/// The reconnect schedule: the delay before each attempt, in milliseconds (`count` entries; 0
/// entries disables reconnecting). `jitter_percent` (0–100) randomises each delay by ±that much.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_set_reconnect(
    cfg: *mut vox_client_config,
    delays_ms: *const u64,
    count: usize,
    jitter_percent: u32,
) -> i32 {
    guard0(|| {
        let d = in_array(delays_ms, count, "delays_ms")?;
        if jitter_percent > 100 {
            return Err(Fail::new(VOX_ERR_OUT_OF_RANGE, "jitter_percent above 100"));
        }
        with_config(cfg, |c| {
            c.reconnect.delays = d.iter().map(|&ms| Duration::from_millis(ms)).collect();
            c.reconnect.jitter = f64::from(jitter_percent) / 100.0;
            Ok(())
        })
    })
}

/// Free a configuration. NULL → no-op; stale or double free → VOX_ERR_INVALID_HANDLE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_config_free(cfg: *mut vox_client_config) -> i32 {
    guard0(|| {
        if cfg.is_null() {
            return Ok(());
        }
        handles::free(cfg.cast(), "client config", |o| matches!(o, Obj::Config(_)))
    })
}

// ---- client --------------------------------------------------------------------------------

pub(crate) fn client_of(c: *const vox_client) -> Result<Client, Fail> {
    let o = handles::get(c.cast(), "client")?;
    match &*o {
        Obj::Client(c) => Ok(c.clone()),
        _ => Err(wrong_type("client")),
    }
}

/// A new, disconnected client. `*out` receives a client the caller owns. Fails with
/// VOX_ERR_INVALID_ARGUMENT (no server, unsupported scheme) or VOX_ERR_TLS (unreadable CA or
/// certificate). The library's threads start with the first client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_new(
    cfg: *const vox_client_config,
    out: *mut *mut vox_client,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        need(out, "out")?;
        let config = with_config(cfg, |c| Ok(c.clone()))?;
        let client = Client::new(config)?;
        let key = key_of(&client);
        let h = handles::insert(Obj::Client(client));
        let entry = Arc::new(ClientEntry {
            handle: h as usize,
            listeners: Mutex::new(HashMap::new()),
        });
        clients().insert(key, entry);
        write(out, "out", h.cast())
    })
}

/// Start an operation: validate the completion target, run `start`, write the op id.
pub(crate) fn start_op(
    out_op: *mut vox_op_id,
    completion: vox_completion,
    start: impl FnOnce(Pending) -> crate::OperationId,
) -> Result<(), Fail> {
    // Every argument is checked before this point: from here on the operation is started and
    // its completion will run. (A failure before this point calls nothing and leaves user_data
    // the caller's.)
    let op = start(Pending::new(completion));
    if !out_op.is_null() {
        // SAFETY: the caller passes NULL or a writable op id.
        unsafe { *out_op = op.0 };
    }
    Ok(())
}

/// Connect to the first server that accepts. Completes (no result) once the session is
/// established. Returns at once; `*out_op` (may be NULL) receives the operation id.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_connect(
    client: *const vox_client,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = client_of(client)?;
        start_op(out_op, completion, |p| {
            c.connect_cb(p.into_callback::<()>())
        })
    })
}

/// Close the session gracefully. Every pending operation completes with
/// VOX_ERR_CONNECTION_CLOSED (a `vox_client_connect` still in progress: VOX_ERR_CONNECTION_FAILED);
/// then this one (no result).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_disconnect(
    client: *const vox_client,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = client_of(client)?;
        start_op(out_op, completion, |p| {
            c.disconnect_cb(p.into_callback::<()>())
        })
    })
}

/// The client's current state (a `VOX_STATE_*`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_state(client: *const vox_client, out: *mut i32) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let c = client_of(client)?;
        write(out, "out", c.state() as i32)
    })
}

/// A hint that the network changed: the session moves to a new socket at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_notify_network_changed(client: *const vox_client) -> i32 {
    guard0(|| {
        client_of(client)?.notify_network_changed();
        Ok(())
    })
}

/// Cancel a pending operation of this client: its completion runs with VOX_ERR_CANCELLED
/// (unless it already completed or is about to). Idempotent; unknown ids are ignored. A request
/// already sent is not recalled from the server.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_cancel(client: *const vox_client, op: vox_op_id) -> i32 {
    guard0(|| {
        client_of(client)?.cancel(crate::OperationId(op));
        Ok(())
    })
}

fn options(o: *const vox_login_options) -> Result<LoginOptions, Fail> {
    if o.is_null() {
        return Ok(LoginOptions::default());
    }
    // SAFETY: non-NULL; the caller promises a readable struct.
    let o = unsafe { &*o };
    Ok(LoginOptions {
        receive_calls: match o.receive_calls {
            -1 => None,
            0 => Some(false),
            1 => Some(true),
            v => {
                return Err(Fail::new(
                    VOX_ERR_OUT_OF_RANGE,
                    format!("receive_calls must be -1, 0 or 1, not {v}"),
                ));
            }
        },
        device_token: in_opt_str(o.device_token, "device_token")?.map(str::to_owned),
    })
}

/// Log in with a password (after connect). `user` is `username@appname.accname[.voximplant.com]`;
/// the password is hashed locally (`digest`: VOX_DIGEST_MD5 or VOX_DIGEST_SHA256) and never
/// sent or logged. `options` may be NULL. Result: VOX_EVENT_LOGIN (display name, tokens).
/// A refused login completes with VOX_ERR_LOGIN_FAILED (`vox_error_code`: 401, 404, …).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_login(
    client: *const vox_client,
    user: *const c_char,
    password: *const c_char,
    digest: i32,
    options: *const vox_login_options,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = client_of(client)?;
        let user = in_str(user, "user")?;
        let password = in_str(password, "password")?;
        let digest = match digest {
            VOX_DIGEST_MD5 => CredentialType::Md5,
            VOX_DIGEST_SHA256 => CredentialType::Sha256,
            d => {
                return Err(Fail::new(
                    VOX_ERR_OUT_OF_RANGE,
                    format!("unknown digest {d}"),
                ));
            }
        };
        let o = self::options(options)?;
        start_op(out_op, completion, |p| {
            c.login_cb(user, password, digest, o, p.into_callback())
        })
    })
}

/// Log in with an access token from an earlier login. Result: VOX_EVENT_LOGIN.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_login_with_token(
    client: *const vox_client,
    user: *const c_char,
    access_token: *const c_char,
    options: *const vox_login_options,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = client_of(client)?;
        let user = in_str(user, "user")?;
        let token = in_str(access_token, "access_token")?;
        let o = self::options(options)?;
        start_op(out_op, completion, |p| {
            c.login_with_token_cb(user, token, o, p.into_callback())
        })
    })
}

/// Ask the server for a one-time login key. Result: VOX_EVENT_ONE_TIME_KEY
/// (`vox_event_one_time_key`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_request_one_time_login_key(
    client: *const vox_client,
    user: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = client_of(client)?;
        let user = in_str(user, "user")?;
        start_op(out_op, completion, |p| {
            c.request_one_time_login_key_cb(user, p.into_callback())
        })
    })
}

/// The hash to log in with a one-time key: `md5(key + "|" + md5(login:voximplant.com:password))`,
/// where `login` is the user name before `@`. Usually computed by the application's backend.
/// `*out` receives a new string (free with `vox_string_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_one_time_key_hash(
    key: *const c_char,
    login: *const c_char,
    password: *const c_char,
    out: *mut *mut c_char,
) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let h = Client::one_time_key_hash(
            in_str(key, "key")?,
            in_str(login, "login")?,
            in_str(password, "password")?,
        );
        out_string(&h, out)
    })
}

/// Log in with the hash of a one-time key. Result: VOX_EVENT_LOGIN.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_login_with_one_time_key(
    client: *const vox_client,
    user: *const c_char,
    hash: *const c_char,
    options: *const vox_login_options,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = client_of(client)?;
        let user = in_str(user, "user")?;
        let hash = in_str(hash, "hash")?;
        let o = self::options(options)?;
        start_op(out_op, completion, |p| {
            c.login_with_one_time_key_cb(user, hash, o, p.into_callback())
        })
    })
}

/// Exchange a refresh token for new tokens (while connected). `device_token` may be NULL.
/// Result: VOX_EVENT_TOKENS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_token_refresh(
    client: *const vox_client,
    user: *const c_char,
    refresh_token: *const c_char,
    device_token: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = client_of(client)?;
        let user = in_str(user, "user")?;
        let token = in_str(refresh_token, "refresh_token")?;
        let device = in_opt_str(device_token, "device_token")?;
        start_op(out_op, completion, |p| {
            c.token_refresh_cb(user, token, device, p.into_callback())
        })
    })
}

fn state_code(s: ClientState) -> i32 {
    s as i32
}

/// Register a connection event listener (runs on the callback thread for every state change,
/// connect failure, reconnect and close). `*out_id` (may be NULL) receives its id.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_on_event(
    client: *const vox_client,
    listener: vox_client_listener,
    out_id: *mut vox_listener_id,
) -> i32 {
    guard0(|| {
        let c = client_of(client)?;
        let cb = listener.callback;
        let release = Release::new(listener.release, listener.user_data);
        let id = c.on_event(move |ev| {
            let Some(cb) = cb else { return };
            let (kind, state, reason) = match ev {
                ClientEvent::StateChanged(s) => (VOX_CLIENT_EVENT_STATE_CHANGED, Some(*s), None),
                ClientEvent::ConnectionFailed { reason } => (
                    VOX_CLIENT_EVENT_CONNECTION_FAILED,
                    None,
                    Some(reason.as_str()),
                ),
                ClientEvent::Reconnecting => (VOX_CLIENT_EVENT_RECONNECTING, None, None),
                ClientEvent::Reconnected => (VOX_CLIENT_EVENT_RECONNECTED, None, None),
                // A new session replaced the lost one: RECONNECTED, with a reason that says so.
                ClientEvent::SessionRestored => (
                    VOX_CLIENT_EVENT_RECONNECTED,
                    None,
                    Some("session restored: logged in again on a new session"),
                ),
                ClientEvent::ConnectionClosed { reason } => (
                    VOX_CLIENT_EVENT_CONNECTION_CLOSED,
                    None,
                    Some(reason.as_str()),
                ),
            };
            let state = state.unwrap_or(match kind {
                VOX_CLIENT_EVENT_RECONNECTING => ClientState::Reconnecting,
                VOX_CLIENT_EVENT_RECONNECTED => ClientState::LoggedIn,
                _ => ClientState::Closed,
            });
            let reason = reason.map(|r| CString::new(r.replace('\0', " ")).unwrap_or_default());
            let e = vox_client_event {
                kind,
                state: state_code(state),
                reason: reason.as_ref().map_or(std::ptr::null(), |r| r.as_ptr()),
            };
            // SAFETY: the user's callback with the user's pointer and an event valid for the call.
            unsafe { cb(release.user_data(), &e) };
        });
        if !out_id.is_null() {
            // SAFETY: the caller passes NULL or a writable id.
            unsafe { *out_id = id.0 };
        }
        Ok(())
    })
}

/// Remove a connection event listener (`id` 0: all of them). Its `release` runs later on the
/// callback thread; a call already in progress finishes first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_off_event(
    client: *const vox_client,
    id: vox_listener_id,
) -> i32 {
    guard0(|| {
        let c = client_of(client)?;
        c.off_event((id != 0).then_some(crate::ListenerId(id)));
        Ok(())
    })
}

/// The messenger of a client (a new handle the caller owns; free with `vox_messenger_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_messenger(
    client: *const vox_client,
    out: *mut *mut vox_messenger,
) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let c = client_of(client)?;
        write(
            out,
            "out",
            handles::insert(Obj::Messenger(c.messenger())).cast(),
        )
    })
}

/// Free a client: it disconnects (every pending operation completes with
/// VOX_ERR_CONNECTION_CLOSED, a connect still in progress with VOX_ERR_CONNECTION_FAILED, on the
/// callback thread), every listener registered on it or its
/// messenger is removed (their `release` runs on the callback thread), and the handle becomes
/// invalid. Messenger, conversation and message handles obtained from it stay valid until freed
/// (reading them works; their network calls fail). NULL → no-op; a stale handle or a second free
/// → VOX_ERR_INVALID_HANDLE. Safe from any thread, including inside a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_client_free(client: *mut vox_client) -> i32 {
    guard0(|| {
        if client.is_null() {
            return Ok(());
        }
        let o = handles::take(client.cast(), "client", |o| matches!(o, Obj::Client(_)))?;
        if let Obj::Client(c) = &*o {
            clients().remove(&key_of(c));
            c.off_event(None);
            let m = c.messenger();
            for t in MessengerEventType::ALL {
                m.off(t, None);
            }
            c.disconnect_cb(|_| {});
        }
        Ok(())
    })
}
