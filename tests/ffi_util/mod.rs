//! Helpers for tests that drive the C ABI from Rust: completions that report to a channel,
//! listeners that record events, string helpers.
#![allow(dead_code)]

use ::vox_messenger::ffi::all::*;
use std::ffi::{CString, c_char, c_void};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(15);

pub fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Take a library string: copy it and free it.
pub fn take(p: *mut c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: a string returned by the library.
    let bytes = unsafe {
        let len = vox_string_len(p);
        let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len).to_vec();
        vox_string_free(p);
        bytes
    };
    String::from_utf8(bytes).unwrap()
}

/// Read a string accessor.
pub fn get_str(f: impl FnOnce(*mut *mut c_char) -> i32) -> String {
    let mut p = null_mut();
    assert_eq!(f(&mut p), VOX_OK);
    take(p)
}

pub fn error_of(e: *mut vox_error) -> (i32, i32, String) {
    assert!(!e.is_null());
    // SAFETY: a live error handle.
    unsafe {
        let r = (
            vox_error_status(e),
            vox_error_code(e),
            take(vox_error_message(e)),
        );
        assert_eq!(vox_error_free(e), VOX_OK);
        r
    }
}

/// What a completion reported.
#[derive(Debug)]
pub struct Done {
    pub status: i32,
    pub code: i32,
    pub message: String,
    /// An owned copy of the result (free with `vox_event_free`), or NULL.
    pub result: usize,
    pub on_callback_thread: bool,
}

impl Done {
    pub fn ok(&self) -> *mut vox_event {
        assert_eq!(self.status, VOX_OK, "{}", self.message);
        self.result as *mut vox_event
    }
}

struct Ctx {
    tx: Sender<Done>,
    calls: Arc<AtomicUsize>,
    releases: Arc<AtomicUsize>,
    released_tx: Sender<()>,
}

/// A pending completion.
pub struct Op {
    pub rx: Receiver<Done>,
    pub calls: Arc<AtomicUsize>,
    pub releases: Arc<AtomicUsize>,
    released_rx: Receiver<()>,
}

impl Op {
    /// The completion's report; then checks it ran exactly once and released its user_data.
    pub fn wait(&self) -> Done {
        let d = self.rx.recv_timeout(WAIT).expect("the completion runs");
        self.released_rx
            .recv_timeout(WAIT)
            .expect("user_data is released after the completion");
        assert_eq!(self.calls.load(Ordering::SeqCst), 1, "completion ran once");
        assert_eq!(self.releases.load(Ordering::SeqCst), 1, "released once");
        assert!(d.on_callback_thread, "completion on the callback thread");
        d
    }
}

unsafe extern "C" fn on_done(
    ud: *mut c_void,
    status: i32,
    err: *const vox_error,
    res: *const vox_event,
) {
    // SAFETY: `ud` is the `Ctx` of `completion()`, alive until `on_release`.
    let ctx = unsafe { &*(ud as *const Ctx) };
    ctx.calls.fetch_add(1, Ordering::SeqCst);
    let (code, message) = if err.is_null() {
        (0, String::new())
    } else {
        // SAFETY: a borrowed error valid for the call.
        unsafe {
            assert_eq!(vox_error_status(err), status);
            (vox_error_code(err), take(vox_error_message(err)))
        }
    };
    let mut result = null_mut();
    if !res.is_null() {
        // SAFETY: a borrowed event valid for the call.
        assert_eq!(unsafe { vox_event_clone(res, &mut result) }, VOX_OK);
    }
    let _ = ctx.tx.send(Done {
        status,
        code,
        message,
        result: result as usize,
        on_callback_thread: ::vox_messenger::runtime::is_callback_thread(),
    });
}

unsafe extern "C" fn on_release(ud: *mut c_void) {
    // SAFETY: the `Ctx` boxed by `completion()`; released exactly once.
    let ctx = unsafe { Box::from_raw(ud as *mut Ctx) };
    ctx.releases.fetch_add(1, Ordering::SeqCst);
    let _ = ctx.released_tx.send(());
}

/// A completion reporting to the returned [`Op`].
pub fn completion() -> (vox_completion, Op) {
    let (tx, rx) = channel();
    let (released_tx, released_rx) = channel();
    let calls = Arc::new(AtomicUsize::new(0));
    let releases = Arc::new(AtomicUsize::new(0));
    let ctx = Box::new(Ctx {
        tx,
        calls: calls.clone(),
        releases: releases.clone(),
        released_tx,
    });
    (
        vox_completion {
            callback: Some(on_done),
            user_data: Box::into_raw(ctx).cast(),
            release: Some(on_release),
        },
        Op {
            rx,
            calls,
            releases,
            released_rx,
        },
    )
}

/// Reclaim a completion's user_data when the starting call failed (nothing is called then).
pub fn discard(c: vox_completion) {
    // SAFETY: the `Ctx` of `completion()`, never handed to the library.
    drop(unsafe { Box::from_raw(c.user_data as *mut Ctx) });
}

/// Start an operation and wait for its completion.
pub fn call(start: impl FnOnce(vox_completion, *mut u64, *mut *mut vox_error) -> i32) -> Done {
    let (c, op) = completion();
    let mut id = 0u64;
    let mut err = null_mut();
    let st = start(c, &mut id, &mut err);
    if st != VOX_OK {
        let (s, code, m) = error_of(err);
        panic!("start failed: {s} {code} {m}");
    }
    assert!(err.is_null());
    assert_ne!(id, 0);
    op.wait()
}

/// Start an operation that must be rejected at once: returns the status; checks the error
/// object and that the completion was never called.
pub fn rejected(start: impl FnOnce(vox_completion, *mut u64, *mut *mut vox_error) -> i32) -> i32 {
    let (c, op) = completion();
    let ud = c.user_data;
    let mut err = null_mut();
    let st = start(c, null_mut(), &mut err);
    assert_ne!(st, VOX_OK);
    let (s, _, _) = error_of(err);
    assert_eq!(s, st);
    // Nothing was called: reclaim user_data ourselves.
    drop(op);
    discard(vox_completion {
        callback: None,
        user_data: ud,
        release: None,
    });
    st
}

/// A listener that records events (as owned copies) into a channel.
pub struct Events {
    pub rx: Receiver<usize>,
    pub released: Arc<AtomicUsize>,
}

struct LCtx {
    tx: Mutex<Sender<usize>>,
    released: Arc<AtomicUsize>,
}

unsafe extern "C" fn on_event(ud: *mut c_void, ev: *const vox_event) {
    // SAFETY: the `LCtx` of `listener()`.
    let ctx = unsafe { &*(ud as *const LCtx) };
    assert!(::vox_messenger::runtime::is_callback_thread());
    let mut copy = null_mut();
    // SAFETY: a borrowed event.
    assert_eq!(unsafe { vox_event_clone(ev, &mut copy) }, VOX_OK);
    let _ = ctx.tx.lock().unwrap().send(copy as usize);
}

unsafe extern "C" fn on_listener_release(ud: *mut c_void) {
    // SAFETY: released once.
    let ctx = unsafe { Box::from_raw(ud as *mut LCtx) };
    ctx.released.fetch_add(1, Ordering::SeqCst);
}

pub fn listener() -> (vox_listener, Events) {
    let (tx, rx) = channel();
    let released = Arc::new(AtomicUsize::new(0));
    let ctx = Box::new(LCtx {
        tx: Mutex::new(tx),
        released: released.clone(),
    });
    (
        vox_listener {
            callback: Some(on_event),
            user_data: Box::into_raw(ctx).cast(),
            release: Some(on_listener_release),
        },
        Events { rx, released },
    )
}

impl Events {
    /// The next event satisfying `pred` (others are freed and skipped).
    pub fn next(&self, pred: impl Fn(*mut vox_event) -> bool) -> *mut vox_event {
        loop {
            let e = self.rx.recv_timeout(WAIT).expect("event arrives") as *mut vox_event;
            if pred(e) {
                return e;
            }
            // SAFETY: an owned copy.
            unsafe { vox_event_free(e) };
        }
    }
}

pub fn event_type(e: *const vox_event) -> i32 {
    let mut t = 0;
    // SAFETY: a live event.
    assert_eq!(unsafe { vox_event_type(e, &mut t) }, VOX_OK);
    t
}

/// A configuration for `server` without request spacing.
pub fn config(server: &str) -> *mut vox_client_config {
    let mut cfg = null_mut();
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(vox_client_config_new(cs(server).as_ptr(), &mut cfg), VOX_OK);
        assert_eq!(vox_client_config_set_request_spacing(cfg, 0), VOX_OK);
    }
    cfg
}

pub fn new_client(server: &str) -> *mut vox_client {
    new_client_spaced(server, 0)
}

/// A client whose messaging requests go out at most one per `spacing_ms`.
pub fn new_client_spaced(server: &str, spacing_ms: u64) -> *mut vox_client {
    let cfg = config(server);
    // SAFETY: a live config.
    assert_eq!(
        unsafe { vox_client_config_set_request_spacing(cfg, spacing_ms) },
        VOX_OK
    );
    let mut c = null_mut();
    // SAFETY: valid arguments.
    unsafe {
        assert_eq!(vox_client_new(cfg, &mut c, null_mut()), VOX_OK);
        assert_eq!(vox_client_config_free(cfg), VOX_OK);
    }
    c
}

/// A connected, logged-in client and its messenger.
pub fn logged_in(server: &str, user: &str) -> (*mut vox_client, *mut vox_messenger) {
    logged_in_spaced(server, user, 0)
}

pub fn logged_in_spaced(
    server: &str,
    user: &str,
    spacing_ms: u64,
) -> (*mut vox_client, *mut vox_messenger) {
    let c = new_client_spaced(server, spacing_ms);
    // SAFETY: valid arguments throughout.
    unsafe {
        let d = call(|cm, op, e| vox_client_connect(c, cm, op, e));
        assert_eq!(d.status, VOX_OK, "{}", d.message);
        let u = cs(user);
        let p = cs("secret");
        let d = call(|cm, op, e| {
            vox_client_login(c, u.as_ptr(), p.as_ptr(), VOX_DIGEST_MD5, null(), cm, op, e)
        });
        let r = d.ok();
        assert_eq!(event_type(r), VOX_EVENT_LOGIN);
        vox_event_free(r);
        let mut m = null_mut();
        assert_eq!(vox_client_messenger(c, &mut m), VOX_OK);
        (c, m)
    }
}

/// The real server on its own runtime (the tests' code blocks on channels).
pub struct Server {
    pub ws: String,
    /// `wss://` address of the TLS listener, and its self-signed certificate (PEM).
    pub wss: String,
    pub cert_pem: String,
    _srv: vox_messenger_server::server::RunningServer,
    _dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

pub fn start_server() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = vox_messenger_server::config::ServeArgs {
        dev: true,
        listen: Some("127.0.0.1:0".parse().unwrap()),
        plain_listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        db: Some(dir.path().join("test.sqlite3")),
        msg_rate_per_second: Some(0),
        msg_rate_per_minute: Some(0),
        ..Default::default()
    };
    let config = vox_messenger_server::config::Config::resolve(&args).expect("config");
    let srv = rt
        .block_on(vox_messenger_server::server::start(config))
        .expect("server starts");
    Server {
        ws: format!("ws://{}", srv.plain_addr.expect("plain listener")),
        wss: format!("wss://{}", srv.addr),
        cert_pem: std::fs::read_to_string(srv.generated_cert.as_ref().expect("dev cert")).unwrap(),
        _srv: srv,
        _dir: dir,
        _rt: rt,
    }
}

pub const USER1: &str = "user1@app.acc.voximplant.com";
pub const USER2: &str = "user2@app.acc.voximplant.com";
pub const USER3: &str = "user3@app.acc.voximplant.com";
