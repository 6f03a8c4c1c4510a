//! The C ABI: `extern "C"` functions only. Nothing here knows JSON frames; nothing below knows C.
//!
//! * [`handles`] — the generation-checked handle registry behind every opaque pointer.
//! * [`strings`] — UTF-8 strings and JSON text in and out.
//! * [`status`] — status codes, the owned `vox_error`, the panic guard.
//! * [`completion`] — completions and listeners: user callbacks on the callback thread.
//! * `client`, `messenger`, `conversation`, `message`, `events`, `log` — one file per area.
//!
//! The header `include/vox_messenger.h` is generated from this module by cbindgen (`build.rs`);
//! the doc comments here are the header's comments.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod client;
pub mod completion;
pub mod conversation;
pub mod events;
pub mod handles;
pub mod log;
pub mod message;
pub mod messenger;
pub mod status;
pub mod strings;

use std::ffi::c_char;

/// The version of the C ABI described by this header. It changes whenever a function's
/// signature or a struct's layout changes incompatibly. Compare it with `vox_abi_version()` at
/// start-up to detect a header/library mismatch. On Linux it is also the major number of the
/// shared library's SONAME (`libvox_messenger.so.2`).
///
/// Version 2: no unsigned return values or event/kind constants (JNA-safe); `vox_messenger_on`
/// takes an event mask and `vox_messenger_off` a listener id; `vox_messenger_get_me` gives the
/// whole current user; `vox_messenger_client`, `vox_conversation_client`, `vox_message_client`;
/// `vox_is_callback_thread`; `vox_set_log_callback` takes a release function.
pub const VOX_ABI_VERSION: i32 = 2;

/// An operation id (0 is never a valid id): pass it to `vox_cancel`.
pub type vox_op_id = u64;

/// A listener id (0 is never a valid id): pass it to the matching `_off` function.
pub type vox_listener_id = u64;

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, e.g. `"0.1.0"`: a static NUL-terminated string (never free it).
#[unsafe(no_mangle)]
pub extern "C" fn vox_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// The ABI version of the library (compare with `VOX_ABI_VERSION` of the header you compiled
/// against).
#[unsafe(no_mangle)]
pub extern "C" fn vox_abi_version() -> i32 {
    VOX_ABI_VERSION
}

/// Whether the calling thread is the library's callback thread (where every completion,
/// listener and release function runs). Wrappers use it to avoid waiting for a callback from
/// inside a callback (which would deadlock). Never starts the library's threads: false before
/// the first client exists.
#[unsafe(no_mangle)]
pub extern "C" fn vox_is_callback_thread() -> bool {
    std::panic::catch_unwind(crate::runtime::is_callback_thread_if_started).unwrap_or(false)
}

/// Every item of the C ABI in one namespace (for Rust callers such as the tests and benches).
#[doc(hidden)]
pub mod all {
    pub use super::client::*;
    pub use super::completion::*;
    pub use super::conversation::*;
    pub use super::events::*;
    pub use super::handles::vox_debug_live_handles;
    pub use super::log::*;
    pub use super::message::*;
    pub use super::messenger::*;
    pub use super::status::*;
    pub use super::strings::*;
    pub use super::{
        VOX_ABI_VERSION, vox_abi_version, vox_is_callback_thread, vox_listener_id, vox_op_id,
        vox_version,
    };
}
