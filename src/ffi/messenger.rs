//! The messenger: users, presence, subscriptions, push settings, conversations, listeners.
//!
//! Every asynchronous function has the same tail: `vox_completion completion` (the callback,
//! its `user_data` and an optional release), `vox_op_id* out_op` (may be NULL) and
//! `vox_error** out_error` (may be NULL). It returns VOX_OK once the operation is started (the
//! completion then runs exactly once, later, on the callback thread), or an error status when
//! an argument is rejected (then nothing runs and `*out_error` holds the details).

use super::client::start_op;
use super::client::{borrowed_client_handle, entry_of, next_listener_id, vox_client};
use super::completion::{listener_closure, vox_completion, vox_listener};
use super::conversation::{config_from, vox_conversation, vox_conversation_config};
use super::events::event_types_from_mask;
use super::events::vox_user;
use super::handles::{self, Obj, wrong_type};
use super::message::vox_message;
use super::status::{
    Fail, VOX_ERR_INVALID_HANDLE, VOX_ERR_NO_VALUE, VOX_ERR_OUT_OF_RANGE, guard, guard0, need,
    vox_error, write,
};
use super::strings::{in_array, in_opt_json_object, in_payload, in_str, in_str_array};
use super::{vox_listener_id, vox_op_id};
use crate::{Messenger, MessengerNotification};
use std::ffi::c_char;
use std::sync::Mutex;

/// The messenger of a client. Owned; free with `vox_messenger_free`.
pub struct vox_messenger {
    _private: [u8; 0],
}

/// Push notification kinds for `vox_messenger_manage_push_notifications`.
pub const VOX_NOTIFICATION_SEND_MESSAGE: i32 = 0;
pub const VOX_NOTIFICATION_EDIT_MESSAGE: i32 = 1;
pub const VOX_NOTIFICATION_CREATE_CONVERSATION: i32 = 2;

pub(crate) fn messenger_of(m: *const vox_messenger) -> Result<Messenger, Fail> {
    let o = handles::get(m.cast(), "messenger")?;
    match &*o {
        Obj::Messenger(m) => Ok(m.clone()),
        _ => Err(wrong_type("messenger")),
    }
}

/// The logged-in user, with every field a get_user result has (IM id, display name, custom
/// data, private custom data, conversation lists, notifications), without a network call: the
/// library fetches the user once right after each login (before the login completes) and keeps
/// the copy up to date from the user events it sees about them (get_user and edit_user results
/// and events, also from the user's other sessions). `*out` receives a new `vox_user*` the
/// caller owns (free it with `vox_user_free`). VOX_ERR_NO_VALUE before login. Should that fetch
/// have failed, the user carries only its name (`vox_user_im_id` 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_me(
    m: *const vox_messenger,
    out: *mut *mut vox_user,
) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let m = messenger_of(m)?;
        let user = m
            .get_me_user()
            .ok_or_else(|| Fail::new(VOX_ERR_NO_VALUE, "not logged in"))?;
        write(out, "out", handles::insert(Obj::User(user)).cast())
    })
}

/// The client this messenger belongs to, as a BORROWED handle: `*out` receives the very
/// `vox_client*` that `vox_client_new` returned (like `sqlite3_db_handle`). Do not free it; it
/// stays valid until that client is freed with `vox_client_free`. Use it for `vox_cancel`,
/// listeners and state. VOX_ERR_INVALID_HANDLE when the client was already freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_client(
    m: *const vox_messenger,
    out: *mut *mut vox_client,
) -> i32 {
    guard0(|| {
        need(out, "out")?;
        let m = messenger_of(m)?;
        borrowed_client_handle(m.client(), out)
    })
}

/// A user by `username@appname.accname`. Result: VOX_EVENT_GET_USER (`vox_event_user`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_user_by_name(
    m: *const vox_messenger,
    name: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let name = in_str(name, "name")?;
        start_op(out_op, completion, |p| {
            m.get_user_by_name_cb(name, p.into_callback())
        })
    })
}

/// A user by IM id. Result: VOX_EVENT_GET_USER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_user_by_im_id(
    m: *const vox_messenger,
    im_id: u64,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        start_op(out_op, completion, |p| {
            m.get_user_by_im_id_cb(im_id, p.into_callback())
        })
    })
}

/// Up to 50 users by name (`names`: `count` strings). Result: a list (VOX_EVENT_GET_USER;
/// `vox_event_item_count`/`vox_event_item_at`, one user event per name, in the order asked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_users_by_name(
    m: *const vox_messenger,
    names: *const *const c_char,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let names = in_str_array(names, count, "names")?;
        start_op(out_op, completion, |p| {
            m.get_users_by_name_cb(&names, p.into_callback())
        })
    })
}

/// Up to 50 users by IM id (`ids`: `count` ids). Result: a list, as for get_users_by_name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_users_by_im_id(
    m: *const vox_messenger,
    ids: *const u64,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let ids = in_array(ids, count, "ids")?;
        start_op(out_op, completion, |p| {
            m.get_users_by_im_id_cb(ids, p.into_callback())
        })
    })
}

/// Edit the current user's custom data (JSON object text; NULL leaves a field unchanged, `{}`
/// clears it; at least one must be given). Result: VOX_EVENT_EDIT_USER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_edit_user(
    m: *const vox_messenger,
    custom_data_json: *const c_char,
    private_custom_data_json: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let c = in_opt_json_object(custom_data_json, "custom_data_json")?;
        let pc = in_opt_json_object(private_custom_data_json, "private_custom_data_json")?;
        start_op(out_op, completion, |p| {
            m.edit_user_cb(c, pc, p.into_callback())
        })
    })
}

/// Set the current user's presence. Result: VOX_EVENT_SET_STATUS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_set_status(
    m: *const vox_messenger,
    online: bool,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        start_op(out_op, completion, |p| {
            m.set_status_cb(online, p.into_callback())
        })
    })
}

/// Subscribe to the presence and user edits of these users. Result: VOX_EVENT_SUBSCRIBE
/// (`vox_event_user_id_count`/`_at`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_subscribe(
    m: *const vox_messenger,
    ids: *const u64,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let ids = in_array(ids, count, "ids")?;
        start_op(out_op, completion, |p| {
            m.subscribe_cb(ids, p.into_callback())
        })
    })
}

/// Unsubscribe from these users. Result: VOX_EVENT_UNSUBSCRIBE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_unsubscribe(
    m: *const vox_messenger,
    ids: *const u64,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let ids = in_array(ids, count, "ids")?;
        start_op(out_op, completion, |p| {
            m.unsubscribe_cb(ids, p.into_callback())
        })
    })
}

/// Unsubscribe from everyone. Result: VOX_EVENT_UNSUBSCRIBE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_unsubscribe_from_all(
    m: *const vox_messenger,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        start_op(out_op, completion, |p| {
            m.unsubscribe_from_all_cb(p.into_callback())
        })
    })
}

/// The users the current user is subscribed to. Result: VOX_EVENT_GET_SUBSCRIPTIONS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_subscriptions(
    m: *const vox_messenger,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        start_op(out_op, completion, |p| {
            m.get_subscriptions_cb(p.into_callback())
        })
    })
}

/// Choose which events reach this user as push notifications (`kinds`: `count`
/// `VOX_NOTIFICATION_*` values; 0 entries: none). Result: VOX_EVENT_EDIT_USER.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_manage_push_notifications(
    m: *const vox_messenger,
    kinds: *const i32,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let kinds = in_array(kinds, count, "kinds")?
            .iter()
            .map(|&k| match k {
                VOX_NOTIFICATION_SEND_MESSAGE => Ok(MessengerNotification::SendMessage),
                VOX_NOTIFICATION_EDIT_MESSAGE => Ok(MessengerNotification::EditMessage),
                VOX_NOTIFICATION_CREATE_CONVERSATION => {
                    Ok(MessengerNotification::CreateConversation)
                }
                k => Err(Fail::new(
                    VOX_ERR_OUT_OF_RANGE,
                    format!("unknown notification kind {k}"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        start_op(out_op, completion, |p| {
            m.manage_push_notifications_cb(&kinds, p.into_callback())
        })
    })
}

/// Create a conversation (participants with no permission get write, edit and remove). Result:
/// VOX_EVENT_CREATE_CONVERSATION (`vox_event_conversation`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_create_conversation(
    m: *const vox_messenger,
    config: *const vox_conversation_config,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let config = config_from(config)?;
        start_op(out_op, completion, |p| {
            m.create_conversation_cb(config, p.into_callback())
        })
    })
}

/// A conversation by uuid. Result: VOX_EVENT_GET_CONVERSATION (`vox_event_conversation`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_conversation(
    m: *const vox_messenger,
    uuid: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let uuid = in_str(uuid, "uuid")?;
        start_op(out_op, completion, |p| {
            m.get_conversation_cb(uuid, p.into_callback())
        })
    })
}

/// Up to 30 conversations by uuid. Result: a list (VOX_EVENT_GET_CONVERSATION items, in the
/// order asked).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_conversations(
    m: *const vox_messenger,
    uuids: *const *const c_char,
    count: usize,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let uuids = in_str_array(uuids, count, "uuids")?;
        start_op(out_op, completion, |p| {
            m.get_conversations_cb(&uuids, p.into_callback())
        })
    })
}

/// The uuids of every public conversation. Result: VOX_EVENT_GET_PUBLIC_CONVERSATIONS
/// (`vox_event_conversation_list_count`/`_at`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_get_public_conversations(
    m: *const vox_messenger,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        start_op(out_op, completion, |p| {
            m.get_public_conversations_cb(p.into_callback())
        })
    })
}

/// Join a public conversation. Result: VOX_EVENT_EDIT_CONVERSATION.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_join_conversation(
    m: *const vox_messenger,
    uuid: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let uuid = in_str(uuid, "uuid")?;
        start_op(out_op, completion, |p| {
            m.join_conversation_cb(uuid, p.into_callback())
        })
    })
}

/// Leave a conversation. Result: VOX_EVENT_EDIT_CONVERSATION.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_leave_conversation(
    m: *const vox_messenger,
    uuid: *const c_char,
    completion: vox_completion,
    out_op: *mut vox_op_id,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        let m = messenger_of(m)?;
        let uuid = in_str(uuid, "uuid")?;
        start_op(out_op, completion, |p| {
            m.leave_conversation_cb(uuid, p.into_callback())
        })
    })
}

/// A conversation object from values cached earlier (no network). `*out` receives a new
/// conversation the caller owns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_recreate_conversation(
    m: *const vox_messenger,
    config: *const vox_conversation_config,
    uuid: *const c_char,
    last_sequence: u64,
    last_update_time: i64,
    created_time: i64,
    out: *mut *mut vox_conversation,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        need(out, "out")?;
        let m = messenger_of(m)?;
        let config = config_from(config)?;
        let uuid = in_str(uuid, "uuid")?;
        let c =
            m.recreate_conversation(config, uuid, last_sequence, last_update_time, created_time)?;
        write(
            out,
            "out",
            handles::insert(Obj::Conversation(Mutex::new(c))).cast(),
        )
    })
}

/// A message object from values cached earlier (no network). `payload_json` is a JSON array of
/// objects or NULL. `*out` receives a new message the caller owns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_recreate_message(
    m: *const vox_messenger,
    uuid: *const c_char,
    conversation_uuid: *const c_char,
    text: *const c_char,
    payload_json: *const c_char,
    sequence: u64,
    out: *mut *mut vox_message,
    out_error: *mut *mut vox_error,
) -> i32 {
    guard(out_error, || {
        need(out, "out")?;
        let m = messenger_of(m)?;
        let uuid = in_str(uuid, "uuid")?;
        let conv = in_str(conversation_uuid, "conversation_uuid")?;
        let text = in_str(text, "text")?;
        let payload = in_payload(payload_json, "payload_json")?;
        let msg = m.recreate_message(uuid, conv, text, payload, sequence)?;
        write(out, "out", handles::insert(Obj::Message(msg)).cast())
    })
}

/// Register a listener for the event types in `event_mask`: bit `1 << VOX_EVENT_x` for each
/// type wanted (types 0–17; `VOX_EVENT_MASK_ALL` for every one; an empty mask or other bits:
/// VOX_ERR_OUT_OF_RANGE, nothing registered and `user_data` stays the caller's). It runs on the
/// callback thread for every such event (`vox_event_type` tells which), including the echoes
/// of this client's own requests (before their completion). `*out_id` (may be NULL) receives
/// its id, unique in the process. Listeners registered from inside a callback see the events
/// queued after it. `release(user_data)` runs once, on the callback thread, after the last
/// call (after `vox_messenger_off`, or when the client is freed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_on(
    m: *const vox_messenger,
    event_mask: i32,
    listener: vox_listener,
    out_id: *mut vox_listener_id,
) -> i32 {
    guard0(|| {
        let m = messenger_of(m)?;
        let types = event_types_from_mask(event_mask)?;
        let entry = entry_of(m.client()).ok_or_else(|| {
            Fail::new(
                VOX_ERR_INVALID_HANDLE,
                "the client of this messenger was freed (vox_client_free)",
            )
        })?;
        // One closure for every type; `release` runs when the last registration is dropped.
        let f = std::sync::Arc::new(listener_closure(listener));
        let regs = types
            .into_iter()
            .map(|t| {
                let f = f.clone();
                (t, m.on(t, move |ev| f(ev)))
            })
            .collect();
        drop(f);
        let id = next_listener_id();
        entry
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, regs);
        if !out_id.is_null() {
            // SAFETY: the caller passes NULL or a writable id.
            unsafe { *out_id = id };
        }
        Ok(())
    })
}

/// Remove the listener `id` (every event type it was registered for); `id` 0 removes every
/// listener registered with `vox_messenger_on` on this client. Unknown or already removed ids
/// are ignored (VOX_OK). Its `release` runs later on the callback thread, after any call in
/// progress. After `vox_client_free` (which removes every listener) this is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_off(m: *const vox_messenger, id: vox_listener_id) -> i32 {
    guard0(|| {
        let m = messenger_of(m)?;
        let Some(entry) = entry_of(m.client()) else {
            return Ok(());
        };
        let removed: Vec<_> = {
            let mut l = entry.listeners.lock().unwrap_or_else(|e| e.into_inner());
            if id == 0 {
                l.drain().flat_map(|(_, v)| v).collect()
            } else {
                l.remove(&id).unwrap_or_default()
            }
        };
        for (t, lid) in removed {
            m.off(t, Some(lid));
        }
        Ok(())
    })
}

/// Free a messenger handle (listeners stay registered until `vox_messenger_off` or
/// `vox_client_free`). NULL → no-op; stale or double free → VOX_ERR_INVALID_HANDLE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_messenger_free(m: *mut vox_messenger) -> i32 {
    guard0(|| {
        if m.is_null() {
            return Ok(());
        }
        handles::free(m.cast(), "messenger", |o| matches!(o, Obj::Messenger(_)))
    })
}
