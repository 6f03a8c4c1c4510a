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
/// start-up to detect a header/library mismatch.
pub const VOX_ABI_VERSION: u32 = 1;

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
pub extern "C" fn vox_abi_version() -> u32 {
    VOX_ABI_VERSION
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
    pub use super::{VOX_ABI_VERSION, vox_abi_version, vox_listener_id, vox_op_id, vox_version};
}
