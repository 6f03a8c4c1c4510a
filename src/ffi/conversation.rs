//! Conversations: data accessors, local setters, and the network calls.

use super::client::start_op;
use super::completion::vox_completion;
use super::handles::{self, Obj, wrong_type};
use super::status::{Fail, VOX_ERR_OUT_OF_RANGE, guard, guard0, need, vox_error, write};
use super::strings::{
    in_array, in_json_object, in_opt_str, in_payload, in_str, json_text, out_string,
};
use super::vox_op_id;
use crate::{Conversation, ConversationConfig, ConversationParticipant};
use std::ffi::c_char;
use std::sync::Mutex;

/// A conversation (a snapshot of its data plus the calls that act on it). Owned; free with
/// `vox_conversation_free`. The setters change only this handle's copy; `vox_conversation_update`
/// sends it.
pub struct vox_conversation {
    _private: [u8; 0],
}

/// A participant and their permissions, by value.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct vox_participant {
    pub im_user_id: u64,
    pub can_write: bool,
    pub can_edit_messages: bool,
    pub can_edit_all_messages: bool,
    pub can_remove_messages: bool,
    pub can_remove_all_messages: bool,
    pub can_manage_participants: bool,
    pub owner: bool,
    /// Read-only (ignored on input): the last sequence the participant marked as read.
    pub last_read_event_sequence: u64,
}

/// What a new conversation looks like. Every pointer is borrowed for the call.
#[repr(C)]
pub struct vox_conversation_config {
    /// `participant_count` participants (may be NULL when the count is 0). The creator is added
    /// by the server.
    pub participants: *const vox_participant,
    pub participant_count: usize,
    /// The title (UTF-8), or NULL for none.
    pub title: *const c_char,
    /// A direct (one-to-one) conversation.
    pub direct: bool,
    /// Anyone may join.
    pub public_join: bool,
    /// Participants do not see each other (an "uber" conversation).
    pub uber: bool,
    /// Custom data as JSON object text, or NULL for none.
    pub custom_data_json: *const c_char,
}

impl From<&vox_participant> for ConversationParticipant {
    fn from(p: &vox_participant) -> Self {
        ConversationParticipant {
            im_user_id: p.im_user_id,
            can_write: p.can_write,
            can_edit_messages: p.can_edit_messages,
            can_edit_all_messages: p.can_edit_all_messages,
            can_remove_messages: p.can_remove_messages,
            can_remove_all_messages: p.can_remove_all_messages,
            can_manage_participants: p.can_manage_participants,
            owner: p.owner,
            last_read_event_sequence: 0,
        }
    }
}

impl From<&ConversationParticipant> for vox_participant {
    fn from(p: &ConversationParticipant) -> Self {
        vox_participant {
            im_user_id: p.im_user_id,
            can_write: p.can_write,
            can_edit_messages: p.can_edit_messages,
            can_edit_all_messages: p.can_edit_all_messages,
            can_remove_messages: p.can_remove_messages,
            can_remove_all_messages: p.can_remove_all_messages,
            can_manage_participants: p.can_manage_participants,
            owner: p.owner,
            last_read_event_sequence: p.last_read_event_sequence,
        }
    }
}

fn participants_from(
    p: *const vox_participant,
    count: usize,
) -> Result<Vec<ConversationParticipant>, Fail> {
    Ok(in_array(p, count, "participants")?
        .iter()
        .map(ConversationParticipant::from)
        .collect())
}

pub(crate) fn config_from(c: *const vox_conversation_config) -> Result<ConversationConfig, Fail> {
    need(c, "config")?;
    // SAFETY: non-NULL; the caller promises a readable struct.
    let c = unsafe { &*c };
    Ok(ConversationConfig {
        participants: participants_from(c.participants, c.participant_count)?,
        title: in_opt_str(c.title, "config.title")?
            .unwrap_or("")
            .to_owned(),
        direct: c.direct,
        public_join: c.public_join,
        uber: c.uber,
        custom_data: if c.custom_data_json.is_null() {
            Default::default()
        } else {
            in_json_object(c.custom_data_json, "config.custom_data_json")?
        },
    })
}

fn with_conv<R>(
    c: *const vox_conversation,
    f: impl FnOnce(&mut Conversation) -> Result<R, Fail>,
) -> Result<R, Fail> {
    let o = handles::get(c.cast(), "conversation")?;
    match &*o {
        Obj::Conversation(m) => f(&mut m.lock().unwrap_or_else(|e| e.into_inner())),
        _ => Err(wrong_type("conversation")),
    }
}

/// A copy of the conversation (for starting calls without holding the handle's lock).
fn conv_of(c: *const vox_conversation) -> Result<Conversation, Fail> {
    with_conv(c, |c| Ok(c.clone()))
}

fn get_into<T>(out: *mut T, f: impl FnOnce() -> Result<T, Fail>) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let v = f()?;
        write(out, "out", v)
    })
}

fn get_string(out: *mut *mut c_char, f: impl FnOnce() -> Result<String, Fail>) -> i32 {
    guard0(|| {
        need(out, "out")?;
        out_string(&f()?, out)
    })
}

/// The uuid (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_uuid(
    c: *const vox_conversation,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || with_conv(c, |c| Ok(c.uuid().to_owned())))
}

/// The title (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_title(
    c: *const vox_conversation,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || with_conv(c, |c| Ok(c.data().title.clone())))
}

/// The custom data as JSON object text (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_custom_data(
    c: *const vox_conversation,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || {
        with_conv(c, |c| Ok(json_text(&c.data().custom_data)))
    })
}

/// Whether the conversation is direct.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_is_direct(
    c: *const vox_conversation,
    out: *mut bool,
) -> i32 {
    get_into(out, || with_conv(c, |c| Ok(c.data().direct)))
}

/// Whether anyone may join.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_is_public_join(
    c: *const vox_conversation,
    out: *mut bool,
) -> i32 {
    get_into(out, || with_conv(c, |c| Ok(c.data().public_join)))
}

/// Whether the conversation is an uber conversation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_is_uber(
    c: *const vox_conversation,
    out: *mut bool,
) -> i32 {
    get_into(out, || with_conv(c, |c| Ok(c.data().uber)))
}

/// Creation time (UNIX seconds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_created_time(
    c: *const vox_conversation,
    out: *mut i64,
) -> i32 {
    get_into(out, || with_conv(c, |c| Ok(c.data().created_time)))
}

/// Last update time (UNIX seconds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_last_update_time(
    c: *const vox_conversation,
    out: *mut i64,
) -> i32 {
    get_into(out, || with_conv(c, |c| Ok(c.data().last_update_time)))
}

/// The sequence of the conversation's last event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_last_sequence(
    c: *const vox_conversation,
    out: *mut u64,
) -> i32 {
    get_into(out, || with_conv(c, |c| Ok(c.data().last_sequence)))
}

/// The number of participants.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_participant_count(
    c: *const vox_conversation,
    out: *mut usize,
) -> i32 {
    get_into(out, || with_conv(c, |c| Ok(c.data().participants.len())))
}

/// The participant at `index`, copied into `*out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_participant_at(
    c: *const vox_conversation,
    index: usize,
    out: *mut vox_participant,
) -> i32 {
    get_into(out, || {
        with_conv(c, |c| {
            c.data()
                .participants
                .get(index)
                .map(vox_participant::from)
                .ok_or_else(|| Fail::new(VOX_ERR_OUT_OF_RANGE, format!("no participant {index}")))
        })
    })
}

/// Set the title of this handle's copy (sent by `vox_conversation_update`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_set_title(
    c: *mut vox_conversation,
    title: *const c_char,
) -> i32 {
    guard0(|| {
        let t = in_str(title, "title")?;
        with_conv(c, |c| {
            c.set_title(t);
            Ok(())
        })
    })
}

/// Set public join on this handle's copy (sent by `vox_conversation_update`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_set_public_join(
    c: *mut vox_conversation,
    public_join: bool,
) -> i32 {
    guard0(|| {
        with_conv(c, |c| {
            c.set_public_join(public_join);
            Ok(())
        })
    })
}

/// Set the custom data (JSON object text) of this handle's copy (sent by
/// `vox_conversation_update`). Invalid JSON → VOX_ERR_INVALID_JSON, nothing changes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_set_custom_data(
    c: *mut vox_conversation,
    custom_data_json: *const c_char,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let d = in_json_object(custom_data_json, "custom_data_json")?;
        with_conv(c, |c| {
            c.set_custom_data(d);
            Ok(())
        })
    })
}

/// Send the title, public join and custom data of this handle. Result:
/// VOX_EVENT_EDIT_CONVERSATION.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_update(
    c: *const vox_conversation,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        start_op(out_op, completion, |p| c.update_cb(p.into_callback()))
    })
}

/// Add participants (`count` entries). Result: VOX_EVENT_EDIT_CONVERSATION.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_add_participants(
    c: *const vox_conversation,
    participants: *const vox_participant,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        let ps = participants_from(participants, count)?;
        start_op(out_op, completion, |p| {
            c.add_participants_cb(&ps, p.into_callback())
        })
    })
}

/// Change participants' permissions. Result: VOX_EVENT_EDIT_CONVERSATION.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_edit_participants(
    c: *const vox_conversation,
    participants: *const vox_participant,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        let ps = participants_from(participants, count)?;
        start_op(out_op, completion, |p| {
            c.edit_participants_cb(&ps, p.into_callback())
        })
    })
}

/// Remove participants (only `im_user_id` is used). Result: VOX_EVENT_EDIT_CONVERSATION.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_remove_participants(
    c: *const vox_conversation,
    participants: *const vox_participant,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        let ps = participants_from(participants, count)?;
        start_op(out_op, completion, |p| {
            c.remove_participants_cb(&ps, p.into_callback())
        })
    })
}

/// Tell the participants the user is typing. A call within 10 s of the last one completes
/// with VOX_ERR_CALL_DISCARDED and sends nothing. Result: VOX_EVENT_TYPING.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_typing(
    c: *const vox_conversation,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        start_op(out_op, completion, |p| c.typing_cb(p.into_callback()))
    })
}

/// Send a message: `text` (UTF-8, up to 5000 characters) and `payload_json` (a JSON array of
/// objects, or NULL). Result: VOX_EVENT_SEND_MESSAGE (`vox_event_message`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_send_message(
    c: *const vox_conversation,
    text: *const c_char,
    payload_json: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        let text = in_str(text, "text")?;
        let payload = in_payload(payload_json, "payload_json")?;
        start_op(out_op, completion, |p| {
            c.send_message_cb(text, payload, p.into_callback())
        })
    })
}

/// Mark events up to `sequence` as read. Result: VOX_EVENT_READ.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_mark_as_read(
    c: *const vox_conversation,
    sequence: u64,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        start_op(out_op, completion, |p| {
            c.mark_as_read_cb(sequence, p.into_callback())
        })
    })
}

/// The events `from..=to` (at most 100). Result: VOX_EVENT_RETRANSMIT_EVENTS
/// (`vox_event_item_count`/`_at`, `vox_event_retransmit_range`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_retransmit_events(
    c: *const vox_conversation,
    from: u64,
    to: u64,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        start_op(out_op, completion, |p| {
            c.retransmit_events_cb(from, to, p.into_callback())
        })
    })
}

/// Up to `count` (≤ 100) events from `from` on. Result: VOX_EVENT_RETRANSMIT_EVENTS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_retransmit_events_from(
    c: *const vox_conversation,
    from: u64,
    count: u64,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        start_op(out_op, completion, |p| {
            c.retransmit_events_from_cb(from, count, p.into_callback())
        })
    })
}

/// Up to `count` (≤ 100) events up to `to`. Result: VOX_EVENT_RETRANSMIT_EVENTS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_retransmit_events_to(
    c: *const vox_conversation,
    to: u64,
    count: u64,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let c = conv_of(c)?;
        start_op(out_op, completion, |p| {
            c.retransmit_events_to_cb(to, count, p.into_callback())
        })
    })
}

/// The client this conversation belongs to, as a BORROWED handle: `*out` receives the very
/// `vox_client*` that `vox_client_new` returned (like `sqlite3_db_handle`). Do not free it; it
/// stays valid until that client is freed. Use it for `vox_cancel` of the conversation's
/// operations. VOX_ERR_INVALID_HANDLE when the client was already freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_client(
    c: *const vox_conversation,
    out: *mut *mut super::client::vox_client,
) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let c = conv_of(c)?;
        super::client::borrowed_client_handle(c.messenger().client(), out)
    })
}

/// A new handle with a copy of this conversation (the caller owns it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_clone(
    c: *const vox_conversation,
    out: *mut *mut vox_conversation,
) -> i32 {
    get_into(out, || {
        let c = conv_of(c)?;
        Ok(handles::insert(Obj::Conversation(Mutex::new(c))).cast())
    })
}

/// Free a conversation. NULL → no-op; stale or double free → VOX_ERR_INVALID_HANDLE. Any
/// thread, including inside a callback; operations it started still complete.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_conversation_free(c: *mut vox_conversation) -> i32 {
    guard0(|| {
        if c.is_null() {
            return Ok(());
        }
        handles::free(c.cast(), "conversation", |o| {
            matches!(o, Obj::Conversation(_))
        })
    })
}

// The header checks the same layout with a static assertion.
const _: () = assert!(std::mem::size_of::<vox_participant>() == 24);
