//! Request payloads (client → server), one type per action.
//!
//! Each struct lists its fields in the order the Web SDK writes them; optional fields are those
//! the SDK (or the `.d.ts` schema) may leave out, and they are skipped when `None`. The `@type`
//! key is not part of these structs: the envelope appends it (see
//! [`ClientRequest`](super::ClientRequest)).
//!
//! Constructors named `new` apply the SDK's own rules where it has some (flags 0 → 7 on
//! create, the payload array always present on send, …), so that our client's frames equal the
//! Web SDK's.

use super::names::Action;
use super::objects::{
    JsonObject, ManageSubscribes, Participant, PresenceMessage, StatusMessage, TypingMessage,
    UserId,
};
use serde::{Deserialize, Serialize};

/// The client envelope as written: `{service, event, payload: {...fields, "@type"}, request_uuid}`.
#[derive(Serialize)]
struct OutEnvelope<'a, T> {
    service: &'static str,
    event: &'static str,
    payload: TypedPayload<'a, T>,
    request_uuid: &'a str,
}

/// A payload struct's fields followed by `@type`, where the SDK inserts it.
#[derive(Serialize)]
struct TypedPayload<'a, T> {
    #[serde(flatten)]
    body: &'a T,
    #[serde(rename = "@type")]
    at_type: &'static str,
}

impl<'a, T> OutEnvelope<'a, T> {
    fn new(action: Action, body: &'a T, request_uuid: &'a str) -> Self {
        OutEnvelope {
            service: super::SERVICE_CHAT,
            event: action.as_str(),
            payload: TypedPayload {
                body,
                at_type: action.at_type(),
            },
            request_uuid,
        }
    }
}

/// `createConversation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateConversation {
    pub participants: Vec<Participant>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub direct: bool,
    #[serde(default)]
    pub enable_public_join: bool,
    /// Omitted by the SDK unless the caller gave a boolean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uber_conversation: Option<bool>,
    #[serde(default)]
    pub custom_data: JsonObject,
}

impl CreateConversation {
    /// As the SDK builds it: participants whose flags are 0 are sent with 7.
    pub fn new(
        participants: Vec<Participant>,
        title: impl Into<String>,
        direct: bool,
        enable_public_join: bool,
        uber_conversation: Option<bool>,
        custom_data: JsonObject,
    ) -> Self {
        let participants = participants
            .into_iter()
            .map(|p| Participant {
                flags: p.flags.for_create(),
                ..p
            })
            .collect();
        CreateConversation {
            participants,
            title: title.into(),
            direct,
            enable_public_join,
            uber_conversation,
            custom_data,
        }
    }
}

/// `editConversation`. The SDK always sends all four keys (a full replacement of the editable
/// fields); the schema makes the last two optional, and `None` means "not sent".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditConversation {
    pub uuid: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_public_join: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<JsonObject>,
}

impl EditConversation {
    /// As the SDK sends it: every editable field.
    pub fn new(
        uuid: impl Into<String>,
        title: impl Into<String>,
        enable_public_join: bool,
        custom_data: JsonObject,
    ) -> Self {
        EditConversation {
            uuid: uuid.into(),
            title: title.into(),
            enable_public_join: Some(enable_public_join),
            custom_data: Some(custom_data),
        }
    }
}

/// `{uuid}`: `getConversation`, `joinConversation`, `leaveConversation`, `removeConversation`,
/// `removeEmptyConversation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRef {
    pub uuid: String,
}

impl ConversationRef {
    pub fn new(uuid: impl Into<String>) -> Self {
        ConversationRef { uuid: uuid.into() }
    }
}

/// `getConversations`: `{uuid: [...]}` (the key is singular). The SDK sends at most 30.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetConversations {
    pub uuid: Vec<String>,
}

/// A payload with no fields (`getPublicConversations`, `getSubscriptionList`): only `@type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

/// `searchConversations` (declared, never sent by the Web SDK).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchConversations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_public_join: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// `addParticipants` / `editParticipants`: `{uuid, participants: [{user_id, flags, last_read?}]}`.
/// Flags are sent as computed, 0 included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageParticipants {
    pub uuid: String,
    pub participants: Vec<Participant>,
}

/// `removeParticipants`: `{uuid, participants: [user_id, ...]}` (bare ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveParticipants {
    pub uuid: String,
    pub participants: Vec<UserId>,
}

/// A user by id or by name: `getUser` payload, and each item of `getUsers`. The SDK sets exactly
/// one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

impl UserRef {
    pub fn by_id(user_id: UserId) -> Self {
        UserRef {
            user_id: Some(user_id),
            user_name: None,
        }
    }

    /// By messaging name, `user@app.account`.
    pub fn by_name(user_name: impl Into<String>) -> Self {
        UserRef {
            user_id: None,
            user_name: Some(user_name.into()),
        }
    }
}

/// `getUser`.
pub type GetUser = UserRef;

/// `getUsers`: `{users: [{user_name} | {user_id}, ...]}` (documented maximum 50).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUsers {
    pub users: Vec<UserRef>,
}

/// `editUser`: each key only if given; `{}` clears the data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EditUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<JsonObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_custom_data: Option<JsonObject>,
}

/// `sendMessage`: `{text?, conversation, payload?}` in this order. The SDK always sends
/// `payload` (`[]` when there is none) and omits `text` only when the caller gave none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub conversation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Vec<JsonObject>>,
}

impl SendMessage {
    /// As the SDK sends it (`payload` always present).
    pub fn new(
        conversation: impl Into<String>,
        text: Option<String>,
        payload: Vec<JsonObject>,
    ) -> Self {
        SendMessage {
            text,
            conversation: conversation.into(),
            payload: Some(payload),
        }
    }
}

/// `editMessage`: `{text?, conversation, payload?, uuid}` in this order; the SDK sends the
/// message's current text and payload, replacing both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub conversation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Vec<JsonObject>>,
    pub uuid: String,
}

impl EditMessage {
    /// As the SDK sends it (`payload` always present).
    pub fn new(
        uuid: impl Into<String>,
        conversation: impl Into<String>,
        text: Option<String>,
        payload: Vec<JsonObject>,
    ) -> Self {
        EditMessage {
            text,
            conversation: conversation.into(),
            payload: Some(payload),
            uuid: uuid.into(),
        }
    }
}

/// `removeMessage`: `{uuid, conversation}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveMessage {
    pub uuid: String,
    pub conversation: String,
}

/// `manageNotification`: `{notifications: [...]}` of `MsgEvent` names. The SDK turns an event it
/// does not support into `null`, hence the `Option`s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageNotifications {
    pub notifications: Vec<Option<String>>,
}

/// `createBot` (declared, never sent by the Web SDK).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateBot {
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<JsonObject>,
}

/// `removeBot` (declared, never sent by the Web SDK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveBot {
    pub user_id: UserId,
}

/// `retransmitEvents`: the conversation and two of `events_from`, `events_to`, `count` (the
/// 4.13 SDK always sends exactly two; all three is error 36, fewer than two error 41).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetransmitRequest {
    pub conversation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_from: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_to: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl RetransmitRequest {
    /// `retransmitEvents(from, to)`: the inclusive seq range.
    pub fn range(conversation: impl Into<String>, from: u64, to: u64) -> Self {
        RetransmitRequest {
            conversation: conversation.into(),
            events_from: Some(from),
            events_to: Some(to),
            count: None,
        }
    }

    /// `retransmitEventsFrom(from, count)`.
    pub fn from_seq(conversation: impl Into<String>, from: u64, count: u64) -> Self {
        RetransmitRequest {
            conversation: conversation.into(),
            events_from: Some(from),
            events_to: None,
            count: Some(count),
        }
    }

    /// `retransmitEventsTo(to, count)`.
    pub fn to_seq(conversation: impl Into<String>, to: u64, count: u64) -> Self {
        RetransmitRequest {
            conversation: conversation.into(),
            events_from: None,
            events_to: Some(to),
            count: Some(count),
        }
    }

    /// How many of the three selectors are present.
    pub fn selector_count(&self) -> usize {
        [self.events_from, self.events_to, self.count]
            .iter()
            .filter(|s| s.is_some())
            .count()
    }
}

macro_rules! requests {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty), )*) => {
        /// Every request, typed. The variant determines the action (`event`) and the `@type`.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Request {
            $( $(#[$doc])* $variant($ty), )*
        }

        impl Request {
            pub fn action(&self) -> Action {
                match self { $(Request::$variant(_) => Action::$variant,)* }
            }

            /// Read the payload of `action` from its JSON text (`@type` and unknown keys are
            /// ignored).
            pub fn from_payload_json(action: Action, json: &str) -> Result<Request, serde_json::Error> {
                Ok(match action { $(Action::$variant => Request::$variant(serde_json::from_str(json)?),)* })
            }

            /// [`from_payload_json`](Self::from_payload_json) from a parsed value.
            pub fn from_payload_value(action: Action, value: serde_json::Value) -> Result<Request, serde_json::Error> {
                Ok(match action { $(Action::$variant => Request::$variant(serde_json::from_value(value)?),)* })
            }

            /// Serialise the whole client envelope with this request as its payload.
            pub(crate) fn serialize_envelope<S: serde::Serializer>(
                &self,
                request_uuid: &str,
                s: S,
            ) -> Result<S::Ok, S::Error> {
                match self {
                    $(Request::$variant(b) => OutEnvelope::new(Action::$variant, b, request_uuid).serialize(s),)*
                }
            }
        }
    };
}

requests! {
    CreateConversation(CreateConversation),
    EditConversation(EditConversation),
    RemoveConversation(ConversationRef),
    JoinConversation(ConversationRef),
    LeaveConversation(ConversationRef),
    GetConversation(ConversationRef),
    GetConversations(GetConversations),
    GetPublicConversations(Empty),
    SearchConversations(SearchConversations),
    RemoveEmptyConversation(ConversationRef),
    AddParticipants(ManageParticipants),
    EditParticipants(ManageParticipants),
    RemoveParticipants(RemoveParticipants),
    GetUser(GetUser),
    GetUsers(GetUsers),
    EditUser(EditUser),
    SetStatus(PresenceMessage),
    SendMessage(SendMessage),
    EditMessage(EditMessage),
    RemoveMessage(RemoveMessage),
    TypingMessage(TypingMessage),
    IsRead(StatusMessage),
    Subscribe(ManageSubscribes),
    Unsubscribe(ManageSubscribes),
    ManageNotification(ManageNotifications),
    GetSubscriptionList(Empty),
    CreateBot(CreateBot),
    RemoveBot(RemoveBot),
    RetransmitEvents(RetransmitRequest),
}
