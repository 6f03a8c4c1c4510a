//! Status codes, the owned error object, and the guard every `extern "C"` body runs in.

use super::handles::{self, Obj};
use super::strings::out_string;
use crate::error::Error;
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Success.
pub const VOX_OK: i32 = 0;

// ---- 100–199: the arguments of the call --------------------------------------------------------
/// A required pointer argument was NULL.
pub const VOX_ERR_NULL_ARGUMENT: i32 = 100;
/// A string argument was not valid UTF-8.
pub const VOX_ERR_INVALID_UTF8: i32 = 101;
/// A JSON argument did not parse, or was not of the required shape (object / array of objects).
pub const VOX_ERR_INVALID_JSON: i32 = 102;
/// The SDK rejected the arguments locally; nothing was sent. `vox_error_code` is the SDKs'
/// number: 10001 (invalid arguments), or 28 (a retransmit range with `from` > `to`).
pub const VOX_ERR_INVALID_ARGUMENT: i32 = 103;
/// The handle was never issued, was already freed (stale or double free), or is garbage.
pub const VOX_ERR_INVALID_HANDLE: i32 = 104;
/// The handle is valid but of another type (e.g. a `vox_message*` passed as a `vox_client*`).
pub const VOX_ERR_WRONG_HANDLE_TYPE: i32 = 105;
/// An index argument was out of range.
pub const VOX_ERR_OUT_OF_RANGE: i32 = 106;
/// The object has no value for this field (e.g. the timestamp of an event that carries none, or
/// the user of a message event). Nothing was written to the out-parameter.
pub const VOX_ERR_NO_VALUE: i32 = 107;

// ---- 200–299: the state of the client ----------------------------------------------------------
/// The call does not fit the client's state (e.g. login before connect, connect twice), or a
/// process-wide setting was already made.
pub const VOX_ERR_INVALID_STATE: i32 = 200;
/// A messaging call before a successful login (`vox_error_code` 10003).
pub const VOX_ERR_NOT_LOGGED_IN: i32 = 201;
/// `vox_conversation_typing` within 10 s of the last call; nothing was sent (code 10000).
pub const VOX_ERR_CALL_DISCARDED: i32 = 202;

// ---- 300–399: the network ---------------------------------------------------------------------
/// The socket could not be opened or the session handshake failed.
pub const VOX_ERR_CONNECTION_FAILED: i32 = 300;
/// A TLS configuration problem (unreadable CA or pinned certificate).
pub const VOX_ERR_TLS: i32 = 301;
/// The connection ended (server close, resume refused, reconnects exhausted, disconnect, or the
/// client was freed) while the call was pending.
pub const VOX_ERR_CONNECTION_CLOSED: i32 = 302;
/// The server's answer could not be understood (code 10004).
pub const VOX_ERR_PROTOCOL: i32 = 303;

// ---- 400–499: the server refused ---------------------------------------------------------------
/// The messenger service answered with an error: `vox_error_code` is the protocol's number
/// (e.g. 1 = transport message structure is wrong, 8 = conversation does not exist,
/// 10 = user is not a participant, 500 = internal error).
pub const VOX_ERR_MESSENGER: i32 = 400;
/// The server refused a login or token refresh: `vox_error_code` is the `loginFailed` code
/// (401 wrong password, 404 invalid username, 701 token expired, …).
pub const VOX_ERR_LOGIN_FAILED: i32 = 401;

// ---- 500: timeout, 600: cancelled, 900: internal -----------------------------------------------
/// No answer within the request timeout (code 10002).
pub const VOX_ERR_TIMEOUT: i32 = 500;
/// The operation was cancelled with `vox_cancel`.
pub const VOX_ERR_CANCELLED: i32 = 600;
/// A bug in the library (including a caught panic). The library stays usable.
pub const VOX_ERR_INTERNAL: i32 = 900;

/// An error object: a status, a numeric code and a message. Owned by whoever received it from an
/// out-parameter (free it with `vox_error_free`); borrowed when passed to a callback (valid
/// until the callback returns; keep a copy with `vox_error_clone`).
pub struct vox_error {
    _private: [u8; 0],
}

/// The contents of a `vox_error`.
#[derive(Debug, Clone)]
pub(crate) struct ErrorObj {
    pub status: i32,
    pub code: i32,
    pub message: String,
}

/// A failure of an FFI call: what becomes the status and the `vox_error`.
#[derive(Debug, Clone)]
pub(crate) struct Fail {
    pub status: i32,
    pub code: i32,
    pub message: String,
}

impl Fail {
    pub fn new(status: i32, message: impl Into<String>) -> Fail {
        Fail {
            status,
            code: 0,
            message: message.into(),
        }
    }
    pub fn null(arg: &str) -> Fail {
        Fail::new(VOX_ERR_NULL_ARGUMENT, format!("`{arg}` is NULL"))
    }
}

/// The status of an SDK error.
pub(crate) fn status_of(e: &Error) -> i32 {
    #[allow(unreachable_patterns)]
    match e {
        Error::InvalidArgument { .. } => VOX_ERR_INVALID_ARGUMENT,
        Error::InvalidState(_) => VOX_ERR_INVALID_STATE,
        Error::NotLoggedIn => VOX_ERR_NOT_LOGGED_IN,
        Error::CallDiscarded => VOX_ERR_CALL_DISCARDED,
        Error::Timeout { .. } => VOX_ERR_TIMEOUT,
        Error::Messenger(_) => VOX_ERR_MESSENGER,
        Error::LoginFailed { .. } => VOX_ERR_LOGIN_FAILED,
        Error::Protocol(_) => VOX_ERR_PROTOCOL,
        Error::ConnectionFailed(_) => VOX_ERR_CONNECTION_FAILED,
        Error::Tls(_) => VOX_ERR_TLS,
        Error::ConnectionClosed(_) => VOX_ERR_CONNECTION_CLOSED,
        Error::Cancelled => VOX_ERR_CANCELLED,
        Error::Internal(_) => VOX_ERR_INTERNAL,
        _ => VOX_ERR_INTERNAL,
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail {
            status: status_of(&e),
            code: i32::try_from(e.code()).unwrap_or(i32::MAX),
            message: e.to_string(),
        }
    }
}

impl From<&Fail> for ErrorObj {
    fn from(f: &Fail) -> ErrorObj {
        ErrorObj {
            status: f.status,
            code: f.code,
            message: f.message.clone(),
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

/// Run an FFI body: catch panics, turn the result into a status, and fill `out_error` (which may
/// be NULL) with NULL on success or a new error object on failure.
pub(crate) fn guard(out_error: *mut *mut vox_error, f: impl FnOnce() -> Result<(), Fail>) -> i32 {
    let r = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = panic_message(&*p);
            tracing::error!(panic = %msg, "a panic was caught at the C boundary");
            Err(Fail::new(
                VOX_ERR_INTERNAL,
                format!("internal error: {msg}"),
            ))
        }
    };
    match r {
        Ok(()) => {
            if !out_error.is_null() {
                // SAFETY: the caller passes NULL or a writable `vox_error*` slot.
                unsafe { *out_error = std::ptr::null_mut() };
            }
            VOX_OK
        }
        Err(f) => {
            if !out_error.is_null() {
                let h = handles::insert(Obj::Error(ErrorObj::from(&f)));
                // SAFETY: as above.
                unsafe { *out_error = h.cast() };
            }
            f.status
        }
    }
}

/// [`guard`] for functions without an error out-parameter.
pub(crate) fn guard0(f: impl FnOnce() -> Result<(), Fail>) -> i32 {
    guard(std::ptr::null_mut(), f)
}

/// Write `v` through the out-pointer `out` (checked for NULL).
pub(crate) fn write<T>(out: *mut T, name: &str, v: T) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::null(name));
    }
    // SAFETY: non-NULL; the caller promises it points to writable memory for a `T`.
    unsafe { out.write(v) };
    Ok(())
}

/// Fail early if an out-pointer is NULL (before any side effect).
pub(crate) fn need<T>(p: *const T, name: &str) -> Result<(), Fail> {
    if p.is_null() {
        Err(Fail::null(name))
    } else {
        Ok(())
    }
}

fn with_error<R>(e: *const vox_error, f: impl FnOnce(&ErrorObj) -> R) -> Result<R, Fail> {
    let obj = handles::get(e.cast(), "error")?;
    match &*obj {
        Obj::Error(err) => Ok(f(err)),
        _ => Err(handles::wrong_type("error")),
    }
}

/// The status of an error (one of the `VOX_ERR_*` codes). 0 if `error` is NULL or invalid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_error_status(error: *const vox_error) -> i32 {
    let mut s = 0;
    guard0(|| {
        s = with_error(error, |e| e.status)?;
        Ok(())
    });
    s
}

/// The numeric code of an error: the protocol's number for `VOX_ERR_MESSENGER`, the
/// `loginFailed` code for `VOX_ERR_LOGIN_FAILED`, the SDKs' client-side codes (10000–10004) for
/// local rejections, 20001–20099 for the SDK's own conditions, and 0 for errors of the C layer
/// (NULL, UTF-8, JSON, handles). 0 if `error` is NULL or invalid. (Signed since ABI 2; every
/// code is below 2^31.)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_error_code(error: *const vox_error) -> i32 {
    let mut c = 0;
    guard0(|| {
        c = with_error(error, |e| e.code)?;
        Ok(())
    });
    c
}

/// A human-readable English message (never contains passwords or tokens). Returns a new string
/// the caller owns (free it with `vox_string_free`), or NULL if `error` is NULL or invalid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_error_message(error: *const vox_error) -> *mut c_char {
    let mut s = std::ptr::null_mut();
    guard0(|| {
        let m = with_error(error, |e| e.message.clone())?;
        out_string(&m, &mut s)
    });
    s
}

/// A copy of an error that the caller owns (free it with `vox_error_free`); use it to keep an
/// error passed to a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_error_clone(error: *const vox_error, out: *mut *mut vox_error) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let e = with_error(error, |e| e.clone())?;
        write(out, "out", handles::insert(Obj::Error(e)).cast())
    })
}

/// Free an error object. NULL is accepted (no-op, VOX_OK); a stale or already-freed error
/// returns VOX_ERR_INVALID_HANDLE. Safe from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_error_free(error: *mut vox_error) -> i32 {
    guard0(|| {
        if error.is_null() {
            return Ok(());
        }
        handles::free(error.cast(), "error", |o| matches!(o, Obj::Error(_)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error_with_details() {
        let mut err: *mut vox_error = std::ptr::null_mut();
        let st = guard(&mut err, || panic!("boom"));
        assert_eq!(st, VOX_ERR_INTERNAL);
        // SAFETY: a live error handle.
        unsafe {
            assert_eq!(vox_error_status(err), VOX_ERR_INTERNAL);
            let m = vox_error_message(err);
            let len = crate::ffi::strings::vox_string_len(m);
            let s = std::str::from_utf8(std::slice::from_raw_parts(m.cast::<u8>(), len)).unwrap();
            assert!(s.contains("boom"), "{s}");
            crate::ffi::strings::vox_string_free(m);
            assert_eq!(vox_error_free(err), VOX_OK);
        }
        // The library carries on.
        assert_eq!(guard0(|| Ok(())), VOX_OK);
    }
}
