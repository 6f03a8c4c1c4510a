//! Events and results (`vox_event`) and users (`vox_user`): typed accessors.

use super::handles::{self, Obj, wrong_type};
use super::status::{Fail, VOX_ERR_NO_VALUE, VOX_ERR_OUT_OF_RANGE, guard0, need, write};
use super::strings::{json_text, out_string};
use crate::{
    AuthResult, LoginTokens, MessengerEvent, MessengerEventType, RetransmittedEvent, User,
};
use std::ffi::c_char;
use std::sync::Mutex;

/// A messenger event, or the result of an operation. Owned when returned through an
/// out-parameter (free it with `vox_event_free`); borrowed when passed to a callback.
pub struct vox_event {
    _private: [u8; 0],
}

/// A messenger user (a snapshot: it does not change). Owned; free with `vox_user_free`.
pub struct vox_user {
    _private: [u8; 0],
}

// Event types (`vox_event_type`). 0–17: the messenger's event types (`MessengerEventTypes` of the
// seed API), for listeners and for operation results; 100–102: results of login operations.
// A listener's event mask (`vox_messenger_on`) has bit `1 << type` set for each type it wants.
pub const VOX_EVENT_CREATE_CONVERSATION: i32 = 0;
pub const VOX_EVENT_EDIT_CONVERSATION: i32 = 1;
pub const VOX_EVENT_EDIT_MESSAGE: i32 = 2;
pub const VOX_EVENT_EDIT_USER: i32 = 3;
/// An `onError` the server sent without a pending request to fail (`vox_event_error_code`).
pub const VOX_EVENT_ERROR: i32 = 4;
pub const VOX_EVENT_GET_CONVERSATION: i32 = 5;
pub const VOX_EVENT_GET_PUBLIC_CONVERSATIONS: i32 = 6;
pub const VOX_EVENT_GET_SUBSCRIPTIONS: i32 = 7;
pub const VOX_EVENT_GET_USER: i32 = 8;
pub const VOX_EVENT_READ: i32 = 9;
pub const VOX_EVENT_REMOVE_CONVERSATION: i32 = 10;
pub const VOX_EVENT_REMOVE_MESSAGE: i32 = 11;
pub const VOX_EVENT_RETRANSMIT_EVENTS: i32 = 12;
pub const VOX_EVENT_SEND_MESSAGE: i32 = 13;
pub const VOX_EVENT_SET_STATUS: i32 = 14;
pub const VOX_EVENT_SUBSCRIBE: i32 = 15;
pub const VOX_EVENT_TYPING: i32 = 16;
pub const VOX_EVENT_UNSUBSCRIBE: i32 = 17;
/// The result of a login: `vox_event_display_name`, and tokens when the server issued some.
pub const VOX_EVENT_LOGIN: i32 = 100;
/// The result of `vox_client_request_one_time_login_key`: `vox_event_one_time_key`.
pub const VOX_EVENT_ONE_TIME_KEY: i32 = 101;
/// The result of `vox_client_token_refresh`: the token accessors.
pub const VOX_EVENT_TOKENS: i32 = 102;
/// An event mask with every messenger event type (`vox_messenger_on`): bits 0–17.
pub const VOX_EVENT_MASK_ALL: i32 = (1 << 18) - 1;

/// What a `vox_event` holds.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // lives behind an Arc in the registry
pub(crate) enum Value {
    Event(MessengerEvent),
    /// Several events of one type (get_users_by_*, get_conversations), in the order asked.
    List(MessengerEventType, Vec<MessengerEvent>),
    Login(AuthResult),
    Key(String),
    Tokens(LoginTokens),
}

/// The messenger event types of an event mask (bit `1 << type`); an error for an empty mask or
/// unknown bits.
pub(crate) fn event_types_from_mask(mask: i32) -> Result<Vec<MessengerEventType>, Fail> {
    if mask == 0 || mask & !VOX_EVENT_MASK_ALL != 0 {
        return Err(Fail::new(
            super::status::VOX_ERR_OUT_OF_RANGE,
            format!("invalid event mask {mask:#x} (bits 0-17, at least one)"),
        ));
    }
    Ok(MessengerEventType::ALL
        .iter()
        .copied()
        .filter(|t| mask & (1 << (*t as i32)) != 0)
        .collect())
}

#[allow(dead_code)]
pub(crate) fn event_type_from(t: i32) -> Result<MessengerEventType, Fail> {
    MessengerEventType::ALL
        .iter()
        .copied()
        .find(|x| *x as i32 == t)
        .ok_or_else(|| {
            Fail::new(
                super::status::VOX_ERR_OUT_OF_RANGE,
                format!("unknown event type {t}"),
            )
        })
}

fn no_value(what: &str) -> Fail {
    Fail::new(VOX_ERR_NO_VALUE, format!("this event has no {what}"))
}

fn value_of(ev: *const vox_event) -> Result<std::sync::Arc<Obj>, Fail> {
    let o = handles::get(ev.cast(), "event")?;
    match &*o {
        Obj::Event(_) => Ok(o),
        _ => Err(wrong_type("event")),
    }
}

/// Run `f` on the value behind an event handle.
fn with_value<R>(
    ev: *const vox_event,
    f: impl FnOnce(&Value) -> Result<R, Fail>,
) -> Result<R, Fail> {
    let o = value_of(ev)?;
    match &*o {
        Obj::Event(v) => f(v),
        _ => unreachable!(),
    }
}

/// Run `f` on the messenger event behind a handle (`VOX_ERR_NO_VALUE` for login results and
/// lists).
fn with_event<R>(
    ev: *const vox_event,
    what: &str,
    f: impl FnOnce(&MessengerEvent) -> Option<R>,
) -> Result<R, Fail> {
    with_value(ev, |v| match v {
        Value::Event(e) => f(e).ok_or_else(|| no_value(what)),
        _ => Err(no_value(what)),
    })
}

/// Typed accessor boilerplate: check `out`, compute, write.
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
        let v = f()?;
        out_string(&v, out)
    })
}

fn at<T>(v: &[T], index: usize) -> Result<&T, Fail> {
    v.get(index).ok_or_else(|| {
        Fail::new(
            VOX_ERR_OUT_OF_RANGE,
            format!("index {index} out of range (count {})", v.len()),
        )
    })
}

/// The type of an event or result: one of the `VOX_EVENT_*` constants.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_type(ev: *const vox_event, out: *mut i32) -> i32 {
    get_into(out, || {
        with_value(ev, |v| {
            Ok(match v {
                Value::Event(e) => e.event_type() as i32,
                Value::List(t, _) => *t as i32,
                Value::Login(_) => VOX_EVENT_LOGIN,
                Value::Key(_) => VOX_EVENT_ONE_TIME_KEY,
                Value::Tokens(_) => VOX_EVENT_TOKENS,
            })
        })
    })
}

fn action_of(e: &MessengerEvent) -> Option<crate::Action> {
    match e {
        MessengerEvent::User(e) => e.action,
        MessengerEvent::Conversation(e) => e.action,
        MessengerEvent::Message(e) => e.action,
        MessengerEvent::ConversationList(e) => e.action,
        MessengerEvent::Subscription(e) => e.action,
        MessengerEvent::Status(e) => e.action,
        MessengerEvent::ConversationService(e) => e.action,
        MessengerEvent::Retransmit(e) => e.action,
        MessengerEvent::Error(e) => e.action,
    }
}

/// The wire name of the action that caused the event (e.g. `"sendMessage"`), as a new string
/// (free with `vox_string_free`); VOX_ERR_NO_VALUE when the event carries none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_action(ev: *const vox_event, out: *mut *mut c_char) -> i32 {
    get_string(out, || {
        with_event(ev, "action", |e| {
            action_of(e).map(|a| a.as_str().to_owned())
        })
    })
}

/// The IM user id whose action caused the event. VOX_ERR_NO_VALUE for error events and results
/// that are not messenger events.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_initiator(ev: *const vox_event, out: *mut u64) -> i32 {
    get_into(out, || {
        with_event(ev, "initiator", |e| match e {
            MessengerEvent::User(e) => Some(e.initiator),
            MessengerEvent::Conversation(e) => Some(e.initiator),
            MessengerEvent::Message(e) => Some(e.initiator),
            MessengerEvent::ConversationList(e) => Some(e.initiator),
            MessengerEvent::Subscription(e) => Some(e.initiator),
            MessengerEvent::Status(e) => Some(e.initiator),
            MessengerEvent::ConversationService(e) => Some(e.initiator),
            MessengerEvent::Retransmit(e) => Some(e.initiator),
            MessengerEvent::Error(_) => None,
        })
    })
}

/// The conversation sequence number of a conversation, message, typing or read event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_sequence(ev: *const vox_event, out: *mut u64) -> i32 {
    get_into(out, || {
        with_event(ev, "sequence", |e| match e {
            MessengerEvent::Conversation(e) => Some(e.sequence),
            MessengerEvent::Message(e) => Some(e.sequence),
            MessengerEvent::ConversationService(e) => Some(e.sequence),
            _ => None,
        })
    })
}

/// The server's timestamp (UNIX seconds), when the event carries one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_timestamp(ev: *const vox_event, out: *mut i64) -> i32 {
    get_into(out, || {
        with_event(ev, "timestamp", |e| match e {
            MessengerEvent::User(e) => e.timestamp,
            MessengerEvent::Conversation(e) => e.timestamp,
            MessengerEvent::Message(e) => e.timestamp,
            MessengerEvent::Status(e) => e.timestamp,
            MessengerEvent::Error(e) => e.timestamp,
            _ => None,
        })
    })
}

/// The user of a user event (get_user, edit_user, manage_push_notifications results), as a new
/// `vox_user*` the caller owns (free with `vox_user_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_user(ev: *const vox_event, out: *mut *mut vox_user) -> i32 {
    get_into(out, || {
        let u = with_event(ev, "user", |e| match e {
            MessengerEvent::User(e) => Some(e.user.clone()),
            _ => None,
        })?;
        Ok(handles::insert(Obj::User(u)).cast())
    })
}

/// The conversation of a conversation event, as a new `vox_conversation*` the caller owns (free
/// with `vox_conversation_free`); it can be used for further calls.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_conversation(
    ev: *const vox_event,
    out: *mut *mut super::conversation::vox_conversation,
) -> i32 {
    get_into(out, || {
        let c = with_event(ev, "conversation", |e| match e {
            MessengerEvent::Conversation(e) => Some(e.conversation.clone()),
            _ => None,
        })?;
        Ok(handles::insert(Obj::Conversation(Mutex::new(c))).cast())
    })
}

/// The message of a message event (send, edit, remove), as a new `vox_message*` the caller owns
/// (free with `vox_message_free`); it can be used for further calls.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_message(
    ev: *const vox_event,
    out: *mut *mut super::message::vox_message,
) -> i32 {
    get_into(out, || {
        let m = with_event(ev, "message", |e| match e {
            MessengerEvent::Message(e) => Some(e.message.clone()),
            _ => None,
        })?;
        Ok(handles::insert(Obj::Message(m)).cast())
    })
}

/// The conversation uuid of a conversation, message, typing or read event (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_conversation_uuid(
    ev: *const vox_event,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || {
        with_event(ev, "conversation uuid", |e| match e {
            MessengerEvent::Conversation(e) => Some(e.conversation.uuid().to_owned()),
            MessengerEvent::Message(e) => Some(e.message.data().conversation.clone()),
            MessengerEvent::ConversationService(e) => Some(e.conversation_uuid.clone()),
            _ => None,
        })
    })
}

/// Whether the user is online, for a set-status event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_is_online(ev: *const vox_event, out: *mut bool) -> i32 {
    get_into(out, || {
        with_event(ev, "online status", |e| match e {
            MessengerEvent::Status(e) => Some(e.is_online),
            _ => None,
        })
    })
}

fn ids_of(e: &MessengerEvent) -> Option<&[u64]> {
    match e {
        MessengerEvent::Subscription(e) => Some(&e.users),
        _ => None,
    }
}

/// The number of IM user ids of a subscription event (subscribe, unsubscribe, get_subscriptions).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_user_id_count(ev: *const vox_event, out: *mut usize) -> i32 {
    get_into(out, || {
        with_event(ev, "user ids", |e| ids_of(e).map(<[u64]>::len))
    })
}

/// The IM user id at `index` of a subscription event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_user_id_at(
    ev: *const vox_event,
    index: usize,
    out: *mut u64,
) -> i32 {
    get_into(out, || {
        let ids = with_event(ev, "user ids", |e| ids_of(e).map(<[u64]>::to_vec))?;
        at(&ids, index).copied()
    })
}

fn list_of(e: &MessengerEvent) -> Option<&[String]> {
    match e {
        MessengerEvent::ConversationList(e) => Some(&e.conversation_list),
        _ => None,
    }
}

/// The number of conversation uuids of a get-public-conversations result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_conversation_list_count(
    ev: *const vox_event,
    out: *mut usize,
) -> i32 {
    get_into(out, || {
        with_event(ev, "conversation list", |e| list_of(e).map(<[String]>::len))
    })
}

/// The conversation uuid at `index` of a get-public-conversations result (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_conversation_list_at(
    ev: *const vox_event,
    index: usize,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || {
        let l = with_event(ev, "conversation list", |e| {
            list_of(e).map(<[String]>::to_vec)
        })?;
        at(&l, index).cloned()
    })
}

fn items_of(v: &Value) -> Option<Vec<MessengerEvent>> {
    match v {
        Value::List(_, l) => Some(l.clone()),
        Value::Event(MessengerEvent::Retransmit(r)) => Some(
            r.events
                .iter()
                .map(|e| match e {
                    RetransmittedEvent::Conversation(c) => MessengerEvent::Conversation(c.clone()),
                    RetransmittedEvent::Message(m) => MessengerEvent::Message(m.clone()),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// The number of items of a list result (get_users_by_name, get_users_by_im_id,
/// get_conversations: one event per item, in the order asked) or of a retransmit result (the
/// retransmitted conversation and message events, in sequence order).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_item_count(ev: *const vox_event, out: *mut usize) -> i32 {
    get_into(out, || {
        with_value(ev, |v| {
            items_of(v)
                .map(|l| l.len())
                .ok_or_else(|| no_value("items"))
        })
    })
}

/// The item at `index` of a list or retransmit result, as a new `vox_event*` the caller owns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_item_at(
    ev: *const vox_event,
    index: usize,
    out: *mut *mut vox_event,
) -> i32 {
    get_into(out, || {
        let l = with_value(ev, |v| items_of(v).ok_or_else(|| no_value("items")))?;
        let e = at(&l, index)?.clone();
        Ok(handles::insert(Obj::Event(Value::Event(e))).cast())
    })
}

/// The range a retransmit result covers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_retransmit_range(
    ev: *const vox_event,
    out_from: *mut u64,
    out_to: *mut u64,
) -> i32 {
    guard0(|| {
        need(out_from, "out_from")?;
        need(out_to, "out_to")?;
        let (f, t) = with_event(ev, "retransmit range", |e| match e {
            MessengerEvent::Retransmit(r) => Some((r.from, r.to)),
            _ => None,
        })?;
        write(out_from, "out_from", f)?;
        write(out_to, "out_to", t)
    })
}

/// The protocol's error code of an error event (VOX_EVENT_ERROR).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_error_code(ev: *const vox_event, out: *mut i32) -> i32 {
    get_into(out, || {
        with_event(ev, "error code", |e| match e {
            MessengerEvent::Error(e) => Some(i32::try_from(e.code).unwrap_or(i32::MAX)),
            _ => None,
        })
    })
}

/// The description of an error event (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_error_description(
    ev: *const vox_event,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || {
        with_event(ev, "error description", |e| match e {
            MessengerEvent::Error(e) => Some(e.description.clone()),
            _ => None,
        })
    })
}

/// The display name of a login result (VOX_EVENT_LOGIN), new string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_display_name(
    ev: *const vox_event,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || {
        with_value(ev, |v| match v {
            Value::Login(a) => Ok(a.display_name.clone()),
            _ => Err(no_value("display name")),
        })
    })
}

/// The key of a one-time-key result (VOX_EVENT_ONE_TIME_KEY), new string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_one_time_key(
    ev: *const vox_event,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || {
        with_value(ev, |v| match v {
            Value::Key(k) => Ok(k.clone()),
            _ => Err(no_value("one-time key")),
        })
    })
}

fn tokens_of(v: &Value) -> Result<LoginTokens, Fail> {
    match v {
        Value::Login(AuthResult {
            tokens: Some(t), ..
        })
        | Value::Tokens(t) => Ok(t.clone()),
        _ => Err(no_value("tokens")),
    }
}

/// The access token of a login or token-refresh result (new string; a secret: do not log it).
/// VOX_ERR_NO_VALUE when the server issued no tokens.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_access_token(
    ev: *const vox_event,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || with_value(ev, tokens_of).map(|t| t.access_token))
}

/// The refresh token of a login or token-refresh result (new string; a secret).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_refresh_token(
    ev: *const vox_event,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || with_value(ev, tokens_of).map(|t| t.refresh_token))
}

/// The lifetimes of the tokens (as the server sends them: `accessExpire`, `refreshExpire`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_token_expiry(
    ev: *const vox_event,
    out_access_expire: *mut u64,
    out_refresh_expire: *mut u64,
) -> i32 {
    guard0(|| {
        need(out_access_expire, "out_access_expire")?;
        need(out_refresh_expire, "out_refresh_expire")?;
        let t = with_value(ev, tokens_of)?;
        write(out_access_expire, "out_access_expire", t.access_expire)?;
        write(out_refresh_expire, "out_refresh_expire", t.refresh_expire)
    })
}

/// A copy of an event the caller owns (free with `vox_event_free`): keep an event or result
/// passed to a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_clone(ev: *const vox_event, out: *mut *mut vox_event) -> i32 {
    get_into(out, || {
        let v = with_value(ev, |v| Ok(v.clone()))?;
        Ok(handles::insert(Obj::Event(v)).cast())
    })
}

/// Free an event. NULL → no-op; stale or double free → VOX_ERR_INVALID_HANDLE. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_event_free(ev: *mut vox_event) -> i32 {
    guard0(|| {
        if ev.is_null() {
            return Ok(());
        }
        handles::free(ev.cast(), "event", |o| matches!(o, Obj::Event(_)))
    })
}

// ---- users ---------------------------------------------------------------------------------

fn with_user<R>(u: *const vox_user, f: impl FnOnce(&User) -> R) -> Result<R, Fail> {
    let o = handles::get(u.cast(), "user")?;
    match &*o {
        Obj::User(u) => Ok(f(u)),
        _ => Err(wrong_type("user")),
    }
}

/// `username@appname.accname` (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_name(u: *const vox_user, out: *mut *mut c_char) -> i32 {
    get_string(out, || with_user(u, |u| u.name.clone()))
}

/// The IM user id.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_im_id(u: *const vox_user, out: *mut u64) -> i32 {
    get_into(out, || with_user(u, |u| u.im_id))
}

/// The display name (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_display_name(u: *const vox_user, out: *mut *mut c_char) -> i32 {
    get_string(out, || with_user(u, |u| u.display_name.clone()))
}

/// The public custom data as JSON object text (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_custom_data(u: *const vox_user, out: *mut *mut c_char) -> i32 {
    get_string(out, || with_user(u, |u| json_text(&u.custom_data)))
}

/// The private custom data as JSON object text (new string); only the current user's carries
/// it, VOX_ERR_NO_VALUE otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_private_custom_data(
    u: *const vox_user,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || {
        with_user(u, |u| u.private_custom_data.as_ref().map(json_text))?
            .ok_or_else(|| no_value("private custom data"))
    })
}

/// Whether the user was deleted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_is_deleted(u: *const vox_user, out: *mut bool) -> i32 {
    get_into(out, || with_user(u, |u| u.is_deleted))
}

/// Which list of a user: 0 = conversations the user is in, 1 = conversations the user left,
/// 2 = push notifications subscribed to (wire names such as `"onSendMessage"`).
pub const VOX_USER_CONVERSATIONS: i32 = 0;
pub const VOX_USER_LEFT_CONVERSATIONS: i32 = 1;
pub const VOX_USER_NOTIFICATIONS: i32 = 2;

fn user_list(u: &User, which: i32) -> Result<Vec<String>, Fail> {
    match which {
        VOX_USER_CONVERSATIONS => Ok(u.conversation_list.clone()),
        VOX_USER_LEFT_CONVERSATIONS => Ok(u.leave_conversation_list.clone()),
        VOX_USER_NOTIFICATIONS => Ok(u.notifications.clone()),
        _ => Err(Fail::new(
            VOX_ERR_OUT_OF_RANGE,
            format!("unknown user list {which}"),
        )),
    }
}

/// The number of entries of one of the user's lists (`which`: a `VOX_USER_*` list constant).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_list_count(
    u: *const vox_user,
    which: i32,
    out: *mut usize,
) -> i32 {
    get_into(out, || {
        with_user(u, |u| user_list(u, which))?.map(|l| l.len())
    })
}

/// The entry at `index` of one of the user's lists (new string).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_list_at(
    u: *const vox_user,
    which: i32,
    index: usize,
    out: *mut *mut c_char,
) -> i32 {
    get_string(out, || {
        let l = with_user(u, |u| user_list(u, which))??;
        at(&l, index).cloned()
    })
}

/// Free a user. NULL → no-op; stale or double free → VOX_ERR_INVALID_HANDLE. Any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vox_user_free(u: *mut vox_user) -> i32 {
    guard0(|| {
        if u.is_null() {
            return Ok(());
        }
        handles::free(u.cast(), "user", |o| matches!(o, Obj::User(_)))
    })
}

#[cfg(test)]
mod tests {
    //! Accessors on values the server tests cannot easily provoke (an unsolicited error event,
    //! a login without tokens, user lists).
    use super::*;
    use crate::ErrorEvent;
    use crate::ffi::status::VOX_OK;
    use crate::ffi::strings::{vox_string_free, vox_string_len};

    fn take(p: *mut c_char) -> String {
        // SAFETY: a library string.
        unsafe {
            let s = std::str::from_utf8(std::slice::from_raw_parts(
                p.cast::<u8>(),
                vox_string_len(p),
            ))
            .unwrap()
            .to_owned();
            vox_string_free(p);
            s
        }
    }

    #[test]
    fn error_event_login_result_and_user_lists() {
        let err = handles::insert(Obj::Event(Value::Event(MessengerEvent::Error(
            ErrorEvent {
                action: Some(crate::Action::SendMessage),
                code: 8,
                description: "conversation does not exist".into(),
                timestamp: Some(1_700_000_000),
            },
        ))))
        .cast::<vox_event>();
        let login = handles::insert(Obj::Event(Value::Login(AuthResult {
            display_name: "D".into(),
            tokens: None,
        })))
        .cast::<vox_event>();
        let user = handles::insert(Obj::User(User {
            name: "u@a.b".into(),
            conversation_list: vec!["c1".into(), "c2".into()],
            leave_conversation_list: vec!["c0".into()],
            ..Default::default()
        }))
        .cast::<vox_user>();
        // SAFETY: live handles and valid out-pointers.
        unsafe {
            let (mut t, mut code, mut ts) = (0i32, 0i32, 0i64);
            assert_eq!(vox_event_type(err, &mut t), VOX_OK);
            assert_eq!(t, VOX_EVENT_ERROR);
            assert_eq!(vox_event_error_code(err, &mut code), VOX_OK);
            assert_eq!(code, 8);
            let mut s = std::ptr::null_mut();
            assert_eq!(vox_event_error_description(err, &mut s), VOX_OK);
            assert_eq!(take(s), "conversation does not exist");
            assert_eq!(vox_event_action(err, &mut s), VOX_OK);
            assert_eq!(take(s), "sendMessage");
            assert_eq!(vox_event_timestamp(err, &mut ts), VOX_OK);
            assert_eq!(ts, 1_700_000_000);
            assert_eq!(vox_event_initiator(err, &mut 0), VOX_ERR_NO_VALUE);
            assert_eq!(vox_event_display_name(err, &mut s), VOX_ERR_NO_VALUE);

            assert_eq!(vox_event_type(login, &mut t), VOX_OK);
            assert_eq!(t, VOX_EVENT_LOGIN);
            assert_eq!(vox_event_display_name(login, &mut s), VOX_OK);
            assert_eq!(take(s), "D");
            assert_eq!(vox_event_access_token(login, &mut s), VOX_ERR_NO_VALUE);
            assert_eq!(
                vox_event_token_expiry(login, &mut 0, &mut 0),
                VOX_ERR_NO_VALUE
            );
            assert_eq!(vox_event_error_code(login, &mut code), VOX_ERR_NO_VALUE);
            assert_eq!(vox_event_sequence(login, &mut 0), VOX_ERR_NO_VALUE);

            let mut n = 0usize;
            assert_eq!(
                vox_user_list_count(user, VOX_USER_CONVERSATIONS, &mut n),
                VOX_OK
            );
            assert_eq!(n, 2);
            assert_eq!(
                vox_user_list_at(user, VOX_USER_CONVERSATIONS, 1, &mut s),
                VOX_OK
            );
            assert_eq!(take(s), "c2");
            assert_eq!(
                vox_user_list_count(user, VOX_USER_LEFT_CONVERSATIONS, &mut n),
                VOX_OK
            );
            assert_eq!(n, 1);
            assert_eq!(
                vox_user_list_count(user, VOX_USER_NOTIFICATIONS, &mut n),
                VOX_OK
            );
            assert_eq!(n, 0);
            assert_eq!(
                vox_user_list_at(user, VOX_USER_NOTIFICATIONS, 0, &mut s),
                VOX_ERR_OUT_OF_RANGE
            );
            assert_eq!(vox_user_list_count(user, 3, &mut n), VOX_ERR_OUT_OF_RANGE);
            assert_eq!(vox_user_custom_data(user, &mut s), VOX_OK);
            assert_eq!(take(s), "{}");

            // NULL out-pointers with a live event and a live user.
            use crate::ffi::status::VOX_ERR_NULL_ARGUMENT as NULL_ARG;
            use std::ptr::null_mut as nul;
            for st in [
                vox_event_type(err, nul()),
                vox_event_action(err, nul()),
                vox_event_initiator(err, nul()),
                vox_event_sequence(err, nul()),
                vox_event_timestamp(err, nul()),
                vox_event_user(err, nul()),
                vox_event_conversation(err, nul()),
                vox_event_message(err, nul()),
                vox_event_conversation_uuid(err, nul()),
                vox_event_is_online(err, nul()),
                vox_event_user_id_count(err, nul()),
                vox_event_user_id_at(err, 0, nul()),
                vox_event_conversation_list_count(err, nul()),
                vox_event_conversation_list_at(err, 0, nul()),
                vox_event_item_count(err, nul()),
                vox_event_item_at(err, 0, nul()),
                vox_event_retransmit_range(err, nul(), &mut 0),
                vox_event_retransmit_range(err, &mut 0, nul()),
                vox_event_error_code(err, nul()),
                vox_event_error_description(err, nul()),
                vox_event_display_name(login, nul()),
                vox_event_one_time_key(login, nul()),
                vox_event_access_token(login, nul()),
                vox_event_refresh_token(login, nul()),
                vox_event_token_expiry(login, nul(), &mut 0),
                vox_event_token_expiry(login, &mut 0, nul()),
                vox_event_clone(err, nul()),
                vox_user_name(user, nul()),
                vox_user_im_id(user, nul()),
                vox_user_display_name(user, nul()),
                vox_user_custom_data(user, nul()),
                vox_user_private_custom_data(user, nul()),
                vox_user_is_deleted(user, nul()),
                vox_user_list_count(user, 0, nul()),
                vox_user_list_at(user, 0, 0, nul()),
            ] {
                assert_eq!(st, NULL_ARG);
            }

            assert_eq!(vox_event_free(err), VOX_OK);
            assert_eq!(vox_event_free(login), VOX_OK);
            assert_eq!(vox_user_free(user), VOX_OK);
        }
    }
}
