//! Objects carried in the `object` of server events (and, for the small ones, in requests too).
//!
//! Field names and order are the wire's. Optional fields are skipped when absent, so an object
//! read from the wire encodes back to the same keys. Readers are as lenient as the Web SDK where
//! it matters to a client: ids and flags may be numeric strings, a `null` `custom_data` reads as
//! empty, missing lists read as empty.

use super::de;
use super::permissions::Permissions;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A messaging user id (`user_id`, `initiator`).
pub type UserId = u64;

/// A JSON object (`custom_data`, message payload items).
pub type JsonObject = Map<String, Value>;

/// A participant of a conversation: `{user_id, flags, last_read?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub user_id: UserId,
    pub flags: Permissions,
    /// The last seq the participant marked read (0 if none). Sent by the server; a request
    /// carries it only if the application set it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::opt_u64_lenient"
    )]
    pub last_read: Option<u64>,
}

impl Participant {
    pub fn new(user_id: UserId, flags: Permissions) -> Self {
        Participant {
            user_id,
            flags,
            last_read: None,
        }
    }
}

/// A conversation, as `onCreateConversation`, `onEditConversation` and `onGetConversation`
/// carry it. The conversation's last event seq travels as the event payload's `seq`, which is
/// what the Web SDK reads; `last_seq` inside the object is optional and not read by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub uuid: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub participants: Vec<Participant>,
    #[serde(default)]
    pub direct: bool,
    #[serde(default)]
    pub enable_public_join: bool,
    #[serde(default)]
    pub uber_conversation: bool,
    #[serde(default, deserialize_with = "de::object_or_empty")]
    pub custom_data: JsonObject,
    /// UNIX seconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::opt_seconds"
    )]
    pub created_at: Option<i64>,
    /// UNIX seconds of the last conversation or message event.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::opt_seconds"
    )]
    pub last_update: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::opt_u64_lenient"
    )]
    pub last_seq: Option<u64>,
}

/// A message: `{uuid, conversation, text?, payload?}`. `onRemoveMessage` carries only `uuid`
/// and `conversation`. The sender is the event's `initiator`, the message's seq the event's `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub uuid: String,
    pub conversation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Vec<JsonObject>>,
}

/// A user, as `onGetUser` and `onEditUser` carry it. `user_name` is `user@app.account`.
/// The optional lists and `private_custom_data` are shown only to the user themself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub user_id: UserId,
    pub user_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default, deserialize_with = "de::object_or_empty")]
    pub custom_data: JsonObject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_custom_data: Option<JsonObject>,
    #[serde(default)]
    pub deleted: bool,
    /// `MsgEvent` names the user gets push notifications for (`onSendMessage`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_events: Option<Vec<String>>,
    /// Uuids of the conversations the user is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversations_list: Option<Vec<String>>,
    /// Uuids of conversations the user left or was removed from (and which still exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave_conversations: Option<Vec<String>>,
}

/// `{online}`: `setStatus` request and `onSetStatus` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceMessage {
    pub online: bool,
}

/// `{conversation}`: `typingMessage` request and `onTyping` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypingMessage {
    pub conversation: String,
}

/// `{conversation, seq, status?}`: `isRead` request and `isRead` event object (the SDK reads
/// `seq` from inside the object for this event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMessage {
    pub conversation: String,
    #[serde(deserialize_with = "de::u64_lenient")]
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `{user_id?, all?}`: `subscribe` / `unsubscribe` requests and their events' objects.
/// The SDK sends either `user_id` or, to drop every subscription, only `all: true`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ManageSubscribes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Vec<UserId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
}

impl ManageSubscribes {
    pub fn users(ids: Vec<UserId>) -> Self {
        ManageSubscribes {
            user_id: Some(ids),
            all: None,
        }
    }

    /// `{all: true}` (unsubscribe from everyone).
    pub fn all() -> Self {
        ManageSubscribes {
            user_id: None,
            all: Some(true),
        }
    }
}

/// `{subscriptions}`: `onGetSubscriptionList` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserSubscriptions {
    pub subscriptions: Vec<UserId>,
}

/// `{uuid: [...]}`: `onGetPublicConversations` object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublicConversations {
    pub uuid: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_round_trip_and_leniency() {
        let text = r#"{"user_id":1001,"user_name":"user1@app.acc","display_name":"User One","custom_data":{},"private_custom_data":{},"deleted":false,"notification_events":[],"conversations_list":[],"leave_conversations":[]}"#;
        let u: User = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), text);
        let u: User =
            serde_json::from_str(r#"{"user_id":"1002","user_name":"u@a.b","custom_data":null}"#)
                .unwrap();
        assert_eq!(u.user_id, 1002);
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            r#"{"user_id":1002,"user_name":"u@a.b","display_name":"","custom_data":{},"deleted":false}"#
        );
    }

    #[test]
    fn conversation_round_trip() {
        let text = r#"{"uuid":"conv-1","title":"T","participants":[{"user_id":5,"flags":65535,"last_read":0},{"user_id":6,"flags":7,"last_read":0}],"direct":false,"enable_public_join":false,"uber_conversation":false,"custom_data":{"b":1,"a":2},"created_at":1700000000,"last_update":1700000000}"#;
        let c: Conversation = serde_json::from_str(text).unwrap();
        assert!(c.participants[0].flags.is_owner());
        assert_eq!(serde_json::to_string(&c).unwrap(), text);
    }

    #[test]
    fn message_shapes() {
        let removed = r#"{"uuid":"m1","conversation":"c1"}"#;
        let m: Message = serde_json::from_str(removed).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), removed);
        let full = r#"{"uuid":"m1","conversation":"c1","text":"hi","payload":[{"x":1}]}"#;
        let m: Message = serde_json::from_str(full).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), full);
        assert!(
            serde_json::from_str::<Message>(r#"{"uuid":"m","conversation":"c","payload":[1]}"#)
                .is_err()
        );
    }
}
