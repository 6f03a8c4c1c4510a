//! `vox_set_log_callback`: the SDK's `tracing` records, forwarded to a C function.

use super::completion::{SendPtr, vox_release_fn};
use super::status::{Fail, VOX_ERR_INVALID_STATE, VOX_ERR_OUT_OF_RANGE, guard0};
use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, span};

/// Log levels (`vox_set_log_callback`).
pub const VOX_LOG_OFF: i32 = 0;
pub const VOX_LOG_ERROR: i32 = 1;
pub const VOX_LOG_WARN: i32 = 2;
pub const VOX_LOG_INFO: i32 = 3;
pub const VOX_LOG_DEBUG: i32 = 4;
pub const VOX_LOG_TRACE: i32 = 5;

/// Receives one log record: `level` (a `VOX_LOG_*`), `target` (the module, e.g.
/// `"vox_messenger::client"`) and `message` (the text and its fields), both NUL-terminated UTF-8
/// borrowed for the duration of the call. Called on whichever library thread logs (not only the
/// callback thread), possibly from several threads at once: it must be thread-safe and quick.
/// Records of library calls made from inside it are dropped.
pub type vox_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: i32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

static LEVEL: AtomicI32 = AtomicI32::new(VOX_LOG_OFF);

/// The installed callback. Every call in progress holds a reference; `release(user_data)` runs
/// when the last one goes (the sink was replaced or cleared and no call uses it any more).
struct Sink {
    f: unsafe extern "C" fn(*mut c_void, i32, *const c_char, *const c_char),
    user_data: SendPtr,
    release: vox_release_fn,
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(r) = self.release.take() {
            // SAFETY: the user's release function with the user's pointer, once.
            unsafe { r(self.user_data.0) }
        }
    }
}

static SINK: RwLock<Option<Arc<Sink>>> = RwLock::new(None);
static INSTALLED: OnceLock<bool> = OnceLock::new();

thread_local! {
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn level_of(l: &Level) -> i32 {
    match *l {
        Level::ERROR => VOX_LOG_ERROR,
        Level::WARN => VOX_LOG_WARN,
        Level::INFO => VOX_LOG_INFO,
        Level::DEBUG => VOX_LOG_DEBUG,
        _ => VOX_LOG_TRACE,
    }
}

fn ours(target: &str) -> bool {
    target.starts_with("vox_messenger") || target.starts_with("vox_protocol")
}

struct Forwarder;

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl tracing::Subscriber for Forwarder {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        level_of(meta.level()) <= LEVEL.load(Ordering::Relaxed) && ours(meta.target())
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match LEVEL.load(Ordering::Relaxed) {
            VOX_LOG_OFF => LevelFilter::OFF,
            VOX_LOG_ERROR => LevelFilter::ERROR,
            VOX_LOG_WARN => LevelFilter::WARN,
            VOX_LOG_INFO => LevelFilter::INFO,
            VOX_LOG_DEBUG => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        if IN_CALLBACK.with(Cell::get) {
            return;
        }
        let meta = event.metadata();
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(sink) = sink else { return };
        let mut text = Text(String::new());
        event.record(&mut text);
        let target = CString::new(meta.target()).unwrap_or_default();
        let msg = CString::new(text.0.replace('\0', " ")).unwrap_or_default();
        IN_CALLBACK.with(|c| c.set(true));
        // The sink was copied out: no lock is held while the user's function runs.
        // SAFETY: the user's function with the user's pointer and strings valid for the call.
        unsafe {
            (sink.f)(
                sink.user_data.0,
                level_of(meta.level()),
                target.as_ptr(),
                msg.as_ptr(),
            )
        };
        // The last reference of a replaced sink releases its user_data here (no lock held);
        // records logged by the release function are dropped too.
        drop(sink);
        IN_CALLBACK.with(|c| c.set(false));
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// Send the library's log records at `level` and more severe (`VOX_LOG_*`) to `callback`, with
/// `user_data`. Only the library's own targets (`vox_messenger…`, `vox_protocol…`) are
/// forwarded; passwords, digests and tokens are never logged. A later call replaces the
/// callback and level; `callback` NULL or `VOX_LOG_OFF` turns logging off (a NULL callback is
/// not stored and its `release` is not called; with VOX_LOG_OFF the callback is stored but not
/// called).
///
/// Ownership of `user_data`: when this returns VOX_OK, the library owns it until
/// `release(user_data)` (optional, may be NULL) runs — exactly once, after the callback was
/// replaced or cleared by a later `vox_set_log_callback` and every call of it in progress has
/// returned (on the thread of the last call or of the replacing call; never while the library
/// holds a lock). A callback that is never replaced is never released. When this returns an
/// error, nothing is stored, `release` is not called and `user_data` stays the caller's.
///
/// The library installs itself as the process's `tracing` subscriber on the first call; if the
/// host process (a Rust program) already installed one, this returns VOX_ERR_INVALID_STATE and
/// records go to that subscriber instead.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_set_log_callback(
    level: i32,
    callback: vox_log_fn,
    user_data: *mut c_void,
    release: vox_release_fn,
) -> i32 {
    guard0(|| {
        if !(VOX_LOG_OFF..=VOX_LOG_TRACE).contains(&level) {
            return Err(Fail::new(
                VOX_ERR_OUT_OF_RANGE,
                format!("unknown log level {level}"),
            ));
        }
        let installed =
            *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Forwarder).is_ok());
        if !installed {
            return Err(Fail::new(
                VOX_ERR_INVALID_STATE,
                "another tracing subscriber is installed in this process",
            ));
        }
        let new = callback.map(|f| {
            Arc::new(Sink {
                f,
                user_data: SendPtr(user_data),
                release,
            })
        });
        let old = {
            let mut s = SINK.write().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *s, new)
        };
        LEVEL.store(
            if callback.is_some() {
                level
            } else {
                VOX_LOG_OFF
            },
            Ordering::Relaxed,
        );
        tracing::callsite::rebuild_interest_cache();
        // Outside the lock: releases the old user_data unless a call is still using it.
        drop(old);
        Ok(())
    })
}
