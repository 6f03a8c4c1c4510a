//! Local argument checks, made before anything is sent (the SDKs' code 10001, and 28 for a
//! reversed retransmit range).

use super::{ConversationConfig, ConversationParticipant, JsonObject, UserId};
use crate::error::{Error, Result};
use vox_protocol::messaging::ErrorCode;

/// Conversations per `get_conversations` call.
pub const MAX_CONVERSATIONS: usize = 30;
/// Users per `get_users_*` call.
pub const MAX_USERS: usize = 50;
/// Events per retransmit call.
pub const MAX_RETRANSMIT: u64 = 100;
/// Conversation custom data, as JSON bytes (5 KB).
pub const MAX_CUSTOM_DATA_BYTES: usize = 5 * 1024;
/// Message text, in characters.
pub const MAX_TEXT_CHARS: usize = 5000;
/// Participants per conversation.
pub const MAX_PARTICIPANTS: usize = 1000;
/// User custom data is not limited by the documentation; this bound (64 KB of JSON) only keeps
/// a runaway application from sending megabytes.
pub const MAX_USER_DATA_BYTES: usize = 64 * 1024;

pub(crate) fn uuid(s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::invalid("empty UUID"));
    }
    uuid::Uuid::try_parse(s)
        .map(|_| ())
        .map_err(|_| Error::invalid(format!("{s:?} is not a UUID")))
}

pub(crate) fn uuids(v: &[String]) -> Result<()> {
    if v.is_empty() {
        return Err(Error::invalid("no conversation UUID given"));
    }
    if v.len() > MAX_CONVERSATIONS {
        return Err(Error::invalid(format!(
            "{} conversations asked; at most {MAX_CONVERSATIONS} per call",
            v.len()
        )));
    }
    v.iter().try_for_each(|u| uuid(u))
}

pub(crate) fn user_name(s: &str) -> Result<()> {
    if s.trim().is_empty() {
        return Err(Error::invalid("empty user name"));
    }
    Ok(())
}

pub(crate) fn user_id(id: UserId) -> Result<()> {
    if id == 0 {
        return Err(Error::invalid("user id 0"));
    }
    Ok(())
}

fn count(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid("no user given"));
    }
    if n > MAX_USERS {
        return Err(Error::invalid(format!(
            "{n} users given; at most {MAX_USERS} per call"
        )));
    }
    Ok(())
}

pub(crate) fn user_names(v: &[String]) -> Result<()> {
    count(v.len())?;
    v.iter().try_for_each(|n| user_name(n))
}

pub(crate) fn user_ids(v: &[UserId]) -> Result<()> {
    count(v.len())?;
    v.iter().try_for_each(|&i| user_id(i))
}

fn json_len(o: &JsonObject) -> usize {
    serde_json::to_string(o)
        .map(|s| s.len())
        .unwrap_or(usize::MAX)
}

pub(crate) fn custom_data(o: &JsonObject) -> Result<()> {
    let n = json_len(o);
    if n > MAX_CUSTOM_DATA_BYTES {
        return Err(Error::invalid(format!(
            "custom data is {n} bytes of JSON; at most {MAX_CUSTOM_DATA_BYTES}"
        )));
    }
    Ok(())
}

pub(crate) fn user_data(o: Option<&JsonObject>) -> Result<()> {
    match o {
        Some(o) if json_len(o) > MAX_USER_DATA_BYTES => Err(Error::invalid(format!(
            "user custom data above {MAX_USER_DATA_BYTES} bytes of JSON"
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn participants(v: &[ConversationParticipant]) -> Result<()> {
    if v.is_empty() {
        return Err(Error::invalid("no participant given"));
    }
    if v.len() > MAX_PARTICIPANTS {
        return Err(Error::invalid(format!(
            "{} participants; at most {MAX_PARTICIPANTS}",
            v.len()
        )));
    }
    v.iter().try_for_each(|p| user_id(p.im_user_id))
}

pub(crate) fn conversation_config(c: &ConversationConfig) -> Result<()> {
    participants(&c.participants)?;
    custom_data(&c.custom_data)?;
    Ok(())
}

pub(crate) fn message(text: &str, payload: &[JsonObject]) -> Result<()> {
    if text.is_empty() && payload.is_empty() {
        return Err(Error::invalid("a message needs a text or a payload"));
    }
    if text.is_empty() && payload.iter().any(|o| o.is_empty()) {
        return Err(Error::invalid(
            "without a text, every payload object must be non-empty",
        ));
    }
    let n = text.chars().count();
    if n > MAX_TEXT_CHARS {
        return Err(Error::invalid(format!(
            "message text is {n} characters; at most {MAX_TEXT_CHARS}"
        )));
    }
    Ok(())
}

pub(crate) fn retransmit_range(from: u64, to: u64) -> Result<()> {
    if from == 0 || to == 0 {
        return Err(Error::invalid("retransmit sequences start at 1"));
    }
    if from > to {
        return Err(Error::InvalidArgument {
            code: ErrorCode::FromGreaterThanTo.code(),
            reason: format!("from {from} is greater than to {to}"),
        });
    }
    if to - from + 1 > MAX_RETRANSMIT {
        return Err(Error::invalid(format!(
            "{} events asked; at most {MAX_RETRANSMIT} per call",
            to - from + 1
        )));
    }
    Ok(())
}

pub(crate) fn retransmit_count(seq: u64, count: u64) -> Result<()> {
    if seq == 0 || count == 0 {
        return Err(Error::invalid(
            "retransmit sequence and count must be positive",
        ));
    }
    if count > MAX_RETRANSMIT {
        return Err(Error::invalid(format!(
            "{count} events asked; at most {MAX_RETRANSMIT} per call"
        )));
    }
    Ok(())
}
