//! The messaging layer ("IM gen 2"): envelopes, actions, events, objects, permission flags and
//! error codes.
//!
//! A messaging frame is the `payload` of a session `msg` frame, in both directions:
//!
//! * client → server, [`ClientRequest`]:
//!   `{"service":"chat","event":<action>,"payload":{<fields>,"@type":<type>},"request_uuid":<uuid>}`.
//!   The action decides the payload type ([`Request`]) and the `@type`
//!   ([`Action::at_type`]: `type/vox.store.<CommonNamespace|IncomingNamespace>.<Type>`).
//! * server → client, [`ServerMessage`]:
//!   `{"service":"chat","event":<event>,"payload":{"@type"?,"initiator","on_incoming_event","object"?,"seq"?,"timestamp"?,"code"?,"description"?,"count"?,…},"to"?,"toId"?,"connid"?,"request_uuid","version"?}`.
//!   A request is answered by an event carrying its `request_uuid`, or by `onError`.
//!
//! Encoding reproduces the Web SDK's requests key for key and in order (the workspace enables
//! `serde_json/preserve_order`, so JSON objects inside `custom_data` and message payloads keep
//! their order too). Decoding ignores `@type` and keys it does not know.

mod de;
mod envelope;
mod errors;
mod names;
mod objects;
mod permissions;
mod requests;

pub use envelope::{
    ClientRequest, EnvelopeFields, EventObject, EventPayload, RetransmittedEvent, ServerMessage,
    encode_event,
};
pub use errors::ErrorCode;
pub use names::{Action, EventName, Namespace};
pub use objects::{
    Conversation, JsonObject, ManageSubscribes, Message, Participant, PresenceMessage,
    PublicConversations, StatusMessage, TypingMessage, User, UserId, UserSubscriptions,
};
pub use permissions::{ParticipantPermissions, Permissions};
pub use requests::{
    ConversationRef, CreateBot, CreateConversation, EditConversation, EditMessage, EditUser, Empty,
    GetConversations, GetUser, GetUsers, ManageNotifications, ManageParticipants, RemoveBot,
    RemoveMessage, RemoveParticipants, Request, RetransmitRequest, SearchConversations,
    SendMessage, UserRef,
};

/// The only `service` value: `"chat"`.
pub const SERVICE_CHAT: &str = "chat";

/// Why a messaging frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessagingError {
    /// Not a JSON object, or the envelope's own fields are missing or mistyped.
    #[error("malformed messaging envelope: {0}")]
    Envelope(String),
    #[error("messaging service {0:?} is not \"chat\"")]
    Service(String),
    #[error("unknown messaging action {0:?}")]
    UnknownAction(String),
    #[error("unknown messaging event {0:?}")]
    UnknownEvent(String),
    /// The envelope is fine but the payload does not fit the action or event.
    #[error("{name}: bad payload: {reason}")]
    Payload { name: &'static str, reason: String },
}

impl MessagingError {
    /// The code a server answers a bad request with, in `onError`: 1 for a broken envelope,
    /// 2 for an unknown action, 0 for a payload that does not fit its action.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            MessagingError::Envelope(_) | MessagingError::Service(_) => {
                ErrorCode::TransportMessageStructure
            }
            MessagingError::UnknownAction(_) | MessagingError::UnknownEvent(_) => {
                ErrorCode::UnknownEvent
            }
            MessagingError::Payload { .. } => ErrorCode::General,
        }
    }
}
