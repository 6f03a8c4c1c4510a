//! Completions and listeners: how user callbacks are called.
//!
//! Every user callback runs on the library's callback thread (the SDK guarantees it), never while
//! the library holds a lock. Objects passed to a callback are registered as handles for the
//! duration of the call and freed after it returns (the callback may free them itself, or keep a
//! copy with a `_clone` function). A completion's `release(user_data)` runs after its callback,
//! once; a listener's after its last call.

use super::events::{Value, vox_event};
use super::handles::{self, Obj};
use super::status::{ErrorObj, Fail, VOX_ERR_INTERNAL, VOX_OK, vox_error};
use crate::error::Result;
use crate::runtime;
use crate::{
    AuthResult, ConversationEvent, ConversationListEvent, ConversationServiceEvent, LoginTokens,
    MessageEvent, MessengerEvent, MessengerEventType, RetransmitEvent, StatusEvent,
    SubscriptionEvent, UserEvent,
};
use std::ffi::c_void;

/// Called once when an asynchronous operation ends, on the library's callback thread.
///
/// * `user_data` — the `user_data` of the `vox_completion`.
/// * `status` — `VOX_OK` or a `VOX_ERR_*` code.
/// * `error` — NULL on success; otherwise an error borrowed for the duration of the call.
/// * `result` — on success, the operation's result, borrowed for the duration of the call
///   (NULL for operations without a result: connect, disconnect); NULL on failure. Keep it with
///   `vox_event_clone`; the objects you get from it (`vox_event_user`, …) are yours to free.
///
/// Any library function may be called from inside the callback, including freeing the handles
/// used to start the operation. Do not block the callback waiting for another completion: it
/// would never arrive (it needs this thread).
pub type vox_completion_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: i32,
        error: *const vox_error,
        result: *const vox_event,
    ),
>;

/// Releases `user_data` (optional, may be NULL): called once, on the callback thread, after the
/// last call that uses `user_data`.
pub type vox_release_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The completion of an asynchronous operation, passed by value.
///
/// When the starting function returns `VOX_OK`, `callback` runs exactly once (success, error,
/// cancellation or client shutdown), on the callback thread, never inside the starting call;
/// then `release(user_data)`. When it returns an error, nothing is called and `user_data` stays
/// the caller's. `callback` may be NULL (fire and forget).
#[repr(C)]
pub struct vox_completion {
    pub callback: vox_completion_fn,
    pub user_data: *mut c_void,
    pub release: vox_release_fn,
}

/// Called for every event of the types a listener was registered for (its event mask), on the
/// callback thread; `event` is borrowed for the duration of the call (keep it with
/// `vox_event_clone`; `vox_event_type` tells which type it is).
pub type vox_event_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const vox_event)>;

/// A messenger event listener, passed by value to `vox_messenger_on`. `release(user_data)` runs
/// once on the callback thread after the listener's last call (after `vox_messenger_off`, or
/// when the client is freed).
#[repr(C)]
pub struct vox_listener {
    pub callback: vox_event_fn,
    pub user_data: *mut c_void,
    pub release: vox_release_fn,
}

/// A raw pointer that may cross threads: the C side promises `user_data` may be used from the
/// callback thread.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub *mut c_void);
// SAFETY: the header documents that user_data is used on the callback thread.
unsafe impl Send for SendPtr {}
// SAFETY: as above; the library never touches what it points to.
unsafe impl Sync for SendPtr {}

/// Calls `release(user_data)` on the callback thread when dropped.
pub(crate) struct Release {
    release: vox_release_fn,
    user_data: SendPtr,
}

impl Release {
    pub(crate) fn new(release: vox_release_fn, user_data: *mut c_void) -> Release {
        Release {
            release,
            user_data: SendPtr(user_data),
        }
    }
    pub(crate) fn user_data(&self) -> *mut c_void {
        self.user_data.0
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(f) = self.release.take() {
            let ud = self.user_data;
            let call = move || {
                let ud = ud;
                // SAFETY: the user's release function with the user's pointer.
                unsafe { f(ud.0) }
            };
            // Always queued: a drop may happen under one of the SDK's locks (e.g. `off` from
            // inside a callback), where user code must not run.
            runtime::get().deliver(call);
        }
    }
}

impl Release {
    /// Run `release` now (only where no lock is held: on the callback thread after a
    /// completion's callback).
    fn run_now(mut self) {
        if let Some(f) = self.release.take() {
            // SAFETY: the user's release function with the user's pointer.
            unsafe { f(self.user_data.0) }
        }
    }
}

/// A completion waiting for its result.
pub(crate) struct Pending {
    callback: vox_completion_fn,
    release: Option<Release>,
}

impl Pending {
    pub(crate) fn new(c: vox_completion) -> Pending {
        Pending {
            callback: c.callback,
            release: Some(Release::new(c.release, c.user_data)),
        }
    }

    /// Call the user's callback (we are on the callback thread), then release.
    pub(crate) fn complete(mut self, r: std::result::Result<Option<Value>, Fail>) {
        let release = self.release.take().expect("completed once");
        let cb = self.callback.take();
        debug_assert!(runtime::is_callback_thread());
        if let Some(cb) = cb {
            let (status, err, res) = match r {
                Ok(v) => (
                    VOX_OK,
                    std::ptr::null_mut(),
                    v.map_or(std::ptr::null_mut(), |v| handles::insert(Obj::Event(v))),
                ),
                Err(f) => (
                    f.status,
                    handles::insert(Obj::Error(ErrorObj::from(&f))),
                    std::ptr::null_mut(),
                ),
            };
            // SAFETY: the user's callback with the user's pointer and handles valid for the call.
            unsafe { cb(release.user_data(), status, err.cast(), res.cast()) };
            if !err.is_null() {
                handles::release_temporary(err);
            }
            if !res.is_null() {
                handles::release_temporary(res);
            }
        }
        release.run_now();
    }

    /// The SDK callback for an operation whose result converts to a [`Value`].
    pub(crate) fn into_callback<T: IntoValue>(self) -> impl FnOnce(Result<T>) + Send + 'static {
        move |r: Result<T>| self.complete(r.map(IntoValue::into_value).map_err(Fail::from))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // The SDK promises to call every completion; should one ever be dropped uncalled, still
        // complete it once (with an internal error) instead of losing it.
        if let Some(release) = self.release.take() {
            let p = Pending {
                callback: self.callback.take(),
                release: Some(release),
            };
            tracing::error!("a completion was dropped without being called");
            runtime::get().deliver(move || {
                p.complete(Err(Fail::new(
                    VOX_ERR_INTERNAL,
                    "the operation ended without a result",
                )))
            });
        }
    }
}

/// A messenger listener as a Rust closure: registers the event as a temporary handle, calls the
/// user, frees the handle. Dropping it (after `off`) releases `user_data`.
pub(crate) fn listener_closure(
    l: vox_listener,
) -> impl Fn(&MessengerEvent) + Send + Sync + 'static {
    let cb = l.callback;
    let release = Release::new(l.release, l.user_data);
    move |ev: &MessengerEvent| {
        let Some(cb) = cb else { return };
        let h = handles::insert(Obj::Event(Value::Event(ev.clone())));
        // SAFETY: the user's callback with the user's pointer and a handle valid for the call.
        unsafe { cb(release.user_data(), h.cast()) };
        handles::release_temporary(h);
    }
}

/// What an operation's result becomes on the C side.
pub(crate) trait IntoValue: Send + 'static {
    fn into_value(self) -> Option<Value>;
}

impl IntoValue for () {
    fn into_value(self) -> Option<Value> {
        None
    }
}

macro_rules! event_value {
    ($ty:ty, $variant:ident) => {
        impl IntoValue for $ty {
            fn into_value(self) -> Option<Value> {
                Some(Value::Event(MessengerEvent::$variant(self)))
            }
        }
    };
}

event_value!(UserEvent, User);
event_value!(ConversationEvent, Conversation);
event_value!(MessageEvent, Message);
event_value!(ConversationListEvent, ConversationList);
event_value!(SubscriptionEvent, Subscription);
event_value!(StatusEvent, Status);
event_value!(ConversationServiceEvent, ConversationService);
event_value!(RetransmitEvent, Retransmit);

impl IntoValue for Vec<UserEvent> {
    fn into_value(self) -> Option<Value> {
        Some(Value::List(
            MessengerEventType::GetUser,
            self.into_iter().map(MessengerEvent::User).collect(),
        ))
    }
}

impl IntoValue for Vec<ConversationEvent> {
    fn into_value(self) -> Option<Value> {
        Some(Value::List(
            MessengerEventType::GetConversation,
            self.into_iter().map(MessengerEvent::Conversation).collect(),
        ))
    }
}

impl IntoValue for AuthResult {
    fn into_value(self) -> Option<Value> {
        Some(Value::Login(self))
    }
}

impl IntoValue for LoginTokens {
    fn into_value(self) -> Option<Value> {
        Some(Value::Tokens(self))
    }
}

impl IntoValue for String {
    fn into_value(self) -> Option<Value> {
        Some(Value::Key(self))
    }
}
