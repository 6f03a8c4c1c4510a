//! Messages: accessors, update, remove.

use super::client::start_op;
use super::completion::vox_completion;
use super::handles::{self, Obj, wrong_type};
use super::status::{Fail, guard, guard0, need, vox_error, write};
use super::strings::{in_payload, in_str, json_text, out_string};
use super::vox_op_id;
use crate::Message;
use std::ffi::c_char;

/// A message (a snapshot of its data plus the calls that act on it). Owned; free with
/// `vox_message_free`.
pub struct vox_message {
    _private: [u8; 0],
}

fn message_of(m: *const vox_message) -> Result<Message, Fail> {
    let o = handles::get(m.cast(), "message")?;
    match &*o {
        Obj::Message(m) => Ok(m.clone()),
        _ => Err(wrong_type("message")),
    }
}

fn with_message<R>(m: *const vox_message, f: impl FnOnce(&Message) -> R) -> Result<R, Fail> {
    let o = handles::get(m.cast(), "message")?;
    match &*o {
        Obj::Message(m) => Ok(f(m)),
        _ => Err(wrong_type("message")),
    }
}

fn get_string(out: *mut *mut c_char, f: impl FnOnce() -> Result<String, Fail>) -> i32 {
    guard0(|| {
        need(out, "out")?;
        out_string(&f()?, out)
    })
}

fn get_u64(out: *mut u64, f: impl FnOnce() -> Result<u64, Fail>) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let v = f()?;
        write(out, "out", v)
    })
}

/// The message uuid (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_uuid(m: *const vox_message, out: *mut *mut c_char) -> i32 {
    get_string(out, || with_message(m, |m| m.uuid().to_owned()))
}

/// The uuid of the message's conversation (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_conversation(
    m: *const vox_message,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || with_message(m, |m| m.data().conversation.clone()))
}

/// The text (new string; `vox_string_len` gives its exact length).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_text(m: *const vox_message, out: *mut *mut c_char) -> i32 {
    get_string(out, || with_message(m, |m| m.text().to_owned()))
}

/// The payload as JSON text of an array of objects (`[]` when there is none; new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_payload(m: *const vox_message, out: *mut *mut c_char) -> i32 {
    get_string(out, || with_message(m, |m| json_text(&m.data().payload)))
}

/// The IM user id of the sender (0 for a recreated message).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_sender(m: *const vox_message, out: *mut u64) -> i32 {
    get_u64(out, || with_message(m, |m| m.data().sender))
}

/// The conversation sequence of the message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_sequence(m: *const vox_message, out: *mut u64) -> i32 {
    get_u64(out, || with_message(m, |m| m.data().sequence))
}

/// Replace the text and payload (`payload_json`: JSON array of objects, or NULL). Result:
/// VOX_EVENT_EDIT_MESSAGE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_update(
    m: *const vox_message,
    text: *const c_char,
    payload_json: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = message_of(m)?;
        let text = in_str(text, "text")?;
        let payload = in_payload(payload_json, "payload_json")?;
        start_op(out_op, completion, |p| {
            m.update_cb(text, payload, p.into_callback())
        })
    })
}

/// Remove the message. Result: VOX_EVENT_REMOVE_MESSAGE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_remove(
    m: *const vox_message,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = message_of(m)?;
        start_op(out_op, completion, |p| m.remove_cb(p.into_callback()))
    })
}

/// The client this message belongs to, as a BORROWED handle: `*out` receives the very
/// `vox_client*` that `vox_client_new` returned (like `sqlite3_db_handle`). Do not free it; it
/// stays valid until that client is freed. Use it for `vox_cancel` of the message's
/// operations. VOX_ERR_INVALID_HANDLE when the client was already freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_client(
    m: *const vox_message,
    out: *mut *mut super::client::vox_client,
) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let m = message_of(m)?;
        super::client::borrowed_client_handle(m.messenger().client(), out)
    })
}

/// A new handle to the same message (the caller owns it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_clone(
    m: *const vox_message,
    out: *mut *mut vox_message,
) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let m = message_of(m)?;
        write(out, "out", handles::insert(Obj::Message(m)).cast())
    })
}

/// Free a message. NULL → no-op; stale or double free → VOX_ERR_INVALID_HANDLE. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_message_free(m: *mut vox_message) -> i32 {
    guard0(|| {
        if m.is_null() {
            return Ok(());
        }
        handles::free(m.cast(), "message", |o| matches!(o, Obj::Message(_)))
    })
}
