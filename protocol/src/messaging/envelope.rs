//! The two messaging envelopes: [`ClientRequest`] (client → server) and [`ServerMessage`]
//! (server → client), with the event payload ([`EventPayload`]) and its object ([`EventObject`]).

use super::de;
use super::errors::ErrorCode;
use super::names::{Action, EventName};
use super::objects::{
    Conversation, ManageSubscribes, Message, PresenceMessage, PublicConversations, StatusMessage,
    TypingMessage, User, UserId, UserSubscriptions,
};
use super::requests::Request;
use super::{MessagingError, SERVICE_CHAT};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

fn is_object_text(json: &str) -> bool {
    json.trim_start().starts_with('{')
}

// ---------------------------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------------------------

/// A client request: `{"service":"chat","event":<action>,"payload":{...,"@type"},"request_uuid"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRequest {
    /// Echoed by the server on the event that answers the request. The SDK makes a lowercase
    /// UUID v4 per request.
    pub request_uuid: String,
    pub request: Request,
}

impl ClientRequest {
    /// A request with a fresh UUID v4.
    pub fn new(request: Request) -> Self {
        ClientRequest {
            request_uuid: uuid::Uuid::new_v4().to_string(),
            request,
        }
    }

    pub fn with_uuid(request: Request, request_uuid: impl Into<String>) -> Self {
        ClientRequest {
            request_uuid: request_uuid.into(),
            request,
        }
    }

    pub fn action(&self) -> Action {
        self.request.action()
    }

    /// Decode a payload's JSON text. The payload object is parsed once, straight into its typed
    /// struct.
    pub fn from_json(text: &str) -> Result<ClientRequest, MessagingError> {
        #[derive(Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            service: Cow<'a, str>,
            #[serde(borrow)]
            event: Cow<'a, str>,
            #[serde(borrow)]
            payload: &'a RawValue,
            #[serde(default)]
            request_uuid: String,
        }
        if !is_object_text(text) {
            return Err(MessagingError::Envelope("not a JSON object".into()));
        }
        let raw: Raw<'_> =
            serde_json::from_str(text).map_err(|e| MessagingError::Envelope(e.to_string()))?;
        let action = check_request_head(&raw.service, &raw.event)?;
        let payload = raw.payload.get();
        if !is_object_text(payload) {
            return Err(payload_error(
                action.as_str(),
                "the payload is not an object",
            ));
        }
        let request = Request::from_payload_json(action, payload)
            .map_err(|e| payload_error(action.as_str(), e.to_string()))?;
        Ok(ClientRequest {
            request_uuid: raw.request_uuid,
            request,
        })
    }

    /// The JSON text of the request, as the Web SDK writes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a request always serialises")
    }
}

fn check_request_head(service: &str, event: &str) -> Result<Action, MessagingError> {
    if service != SERVICE_CHAT {
        return Err(MessagingError::Service(service.to_owned()));
    }
    Action::from_name(event).ok_or_else(|| MessagingError::UnknownAction(event.to_owned()))
}

fn payload_error(name: &'static str, reason: impl Into<String>) -> MessagingError {
    MessagingError::Payload {
        name,
        reason: reason.into(),
    }
}

impl Serialize for ClientRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.request.serialize_envelope(&self.request_uuid, s)
    }
}

impl<'de> Deserialize<'de> for ClientRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Owned {
            service: String,
            event: String,
            payload: Value,
            #[serde(default)]
            request_uuid: String,
        }
        let o = Owned::deserialize(d)?;
        let action = check_request_head(&o.service, &o.event).map_err(serde::de::Error::custom)?;
        if !o.payload.is_object() {
            return Err(serde::de::Error::custom(payload_error(
                action.as_str(),
                "the payload is not an object",
            )));
        }
        let request = Request::from_payload_value(action, o.payload)
            .map_err(|e| serde::de::Error::custom(payload_error(action.as_str(), e.to_string())))?;
        Ok(ClientRequest {
            request_uuid: o.request_uuid,
            request,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------------------------

/// The `object` of a server event, typed by the event name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventObject {
    /// `onCreateConversation`, `onEditConversation`, `onGetConversation`, `onRemoveConversation`.
    Conversation(Conversation),
    /// `onGetUser`, `onEditUser`, `onCreateBot`.
    User(User),
    /// `onSendMessage`, `onEditMessage`, `onRemoveMessage` (the last with `uuid` and
    /// `conversation` only).
    Message(Message),
    /// `onSetStatus`.
    Presence(PresenceMessage),
    /// `onTyping`.
    Typing(TypingMessage),
    /// `isRead`.
    Read(StatusMessage),
    /// `onSubscribe`, `onUnsubscribe`.
    Subscriptions(ManageSubscribes),
    /// `onGetSubscriptionList`.
    SubscriptionList(UserSubscriptions),
    /// `onGetPublicConversations`.
    PublicConversations(PublicConversations),
    /// `onRetransmitEvents`: one historical event.
    Retransmitted(Box<RetransmittedEvent>),
    /// Anything else (`onRemoveBot`'s `{}`, an object on `onError`).
    Other(Value),
}

macro_rules! object_from {
    ($($variant:ident($ty:ty)),*) => {
        $(impl From<$ty> for EventObject {
            fn from(v: $ty) -> EventObject {
                EventObject::$variant(v)
            }
        })*
    };
}

object_from!(
    Conversation(Conversation),
    User(User),
    Message(Message),
    Presence(PresenceMessage),
    Typing(TypingMessage),
    Read(StatusMessage),
    Subscriptions(ManageSubscribes),
    SubscriptionList(UserSubscriptions),
    PublicConversations(PublicConversations)
);

impl From<RetransmittedEvent> for EventObject {
    fn from(v: RetransmittedEvent) -> EventObject {
        EventObject::Retransmitted(Box::new(v))
    }
}

impl EventObject {
    /// Read the `object` of an `event` frame.
    pub fn from_value(event: EventName, v: Value) -> Result<EventObject, serde_json::Error> {
        use EventName as E;
        Ok(match event {
            E::CreateConversation
            | E::EditConversation
            | E::GetConversation
            | E::RemoveConversation => EventObject::Conversation(serde_json::from_value(v)?),
            E::GetUser | E::EditUser | E::CreateBot => {
                EventObject::User(serde_json::from_value(v)?)
            }
            E::SendMessage | E::EditMessage | E::RemoveMessage => {
                EventObject::Message(serde_json::from_value(v)?)
            }
            E::SetStatus => EventObject::Presence(serde_json::from_value(v)?),
            E::Typing => EventObject::Typing(serde_json::from_value(v)?),
            E::IsRead => EventObject::Read(serde_json::from_value(v)?),
            E::Subscribe | E::Unsubscribe => EventObject::Subscriptions(serde_json::from_value(v)?),
            E::GetSubscriptionList => EventObject::SubscriptionList(serde_json::from_value(v)?),
            E::GetPublicConversations => {
                EventObject::PublicConversations(serde_json::from_value(v)?)
            }
            E::RetransmitEvents => {
                let raw: RawRetransmitted = serde_json::from_value(v)?;
                EventObject::Retransmitted(Box::new(
                    raw.into_typed().map_err(serde::de::Error::custom)?,
                ))
            }
            E::Error | E::RemoveBot => EventObject::Other(v),
        })
    }

    pub fn as_conversation(&self) -> Option<&Conversation> {
        match self {
            EventObject::Conversation(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_user(&self) -> Option<&User> {
        match self {
            EventObject::User(u) => Some(u),
            _ => None,
        }
    }

    pub fn as_message(&self) -> Option<&Message> {
        match self {
            EventObject::Message(m) => Some(m),
            _ => None,
        }
    }
}

/// The payload of a server event.
///
/// Which fields are set depends on the event: `object` on everything but `onError` (and an
/// empty retransmission); `seq` on conversation and message events (the conversation's event
/// sequence); `code` and `description` on `onError`; `count` (and `from_seq`/`to_seq`) on
/// `onRetransmitEvents`. `timestamp` is UNIX seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPayload {
    /// Declared by the SDK's types, never read by it; value unknown. Omitted when `None`.
    #[serde(rename = "@type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// The user whose action caused the event (for messages: the sender). Always written;
    /// reads as 0 when absent (the SDK ignores it on `onError`).
    pub initiator: UserId,
    /// The action that caused the event; the SDK exposes it as `messengerAction`. Reading maps
    /// an unknown name to `None`, as the SDK maps it to `undefined`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_incoming_event: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<EventObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Retransmission: the total number of events in it (the SDK resolves once it has that
    /// many; 0 resolves at once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_seq: Option<u64>,
}

impl EventPayload {
    /// An event caused by `initiator` doing `action`, carrying `object`.
    pub fn new(initiator: UserId, action: Action, object: impl Into<EventObject>) -> Self {
        EventPayload {
            on_incoming_event: Some(action),
            object: Some(object.into()),
            ..EventPayload::bare(initiator)
        }
    }

    /// Only `initiator` set.
    fn bare(initiator: UserId) -> Self {
        EventPayload {
            type_name: None,
            initiator,
            on_incoming_event: None,
            object: None,
            seq: None,
            timestamp: None,
            code: None,
            description: None,
            count: None,
            from_seq: None,
            to_seq: None,
        }
    }

    /// An `onError` payload with the code's default description.
    pub fn error(initiator: UserId, action: Option<Action>, code: ErrorCode) -> Self {
        EventPayload {
            on_incoming_event: action,
            code: Some(code.code()),
            description: Some(code.description().to_owned()),
            ..EventPayload::bare(initiator)
        }
    }

    /// One `onRetransmitEvents` frame: `event` is one of the `count` events of the
    /// retransmission.
    pub fn retransmit(initiator: UserId, count: u64, event: RetransmittedEvent) -> Self {
        EventPayload {
            count: Some(count),
            ..EventPayload::new(initiator, Action::RetransmitEvents, event)
        }
    }

    /// The single `onRetransmitEvents` frame of an empty retransmission: `count: 0`, no object.
    pub fn retransmit_empty(initiator: UserId) -> Self {
        EventPayload {
            on_incoming_event: Some(Action::RetransmitEvents),
            count: Some(0),
            ..EventPayload::bare(initiator)
        }
    }

    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }

    pub fn with_timestamp(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    pub fn with_type_name(mut self, type_name: impl Into<String>) -> Self {
        self.type_name = Some(type_name.into());
        self
    }

    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The known error code of an `onError` payload.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code.and_then(ErrorCode::from_code)
    }

    /// Read an `event`'s payload from a parsed value.
    pub fn from_value(event: EventName, v: Value) -> Result<EventPayload, MessagingError> {
        let raw: RawEventPayload =
            serde_json::from_value(v).map_err(|e| payload_error(event.as_str(), e.to_string()))?;
        raw.into_typed(event)
    }

    /// The JSON text of the payload alone, ready for [`encode_event`].
    pub fn to_raw(&self) -> Box<RawValue> {
        serde_json::value::to_raw_value(self).expect("an event payload always serialises")
    }
}

/// The `object` of an `onRetransmitEvents` frame: one historical event, as it was (or would
/// have been) sent live. The Web SDK reads `event` and `payload`; `service` is optional.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetransmittedEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub event: EventName,
    pub payload: EventPayload,
}

impl RetransmittedEvent {
    pub fn new(event: EventName, payload: EventPayload) -> Self {
        RetransmittedEvent {
            service: None,
            event,
            payload,
        }
    }
}

#[derive(Deserialize)]
struct RawEventPayload {
    #[serde(
        rename = "@type",
        default,
        deserialize_with = "de::opt_string_tolerant"
    )]
    type_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    initiator: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_string_tolerant")]
    on_incoming_event: Option<String>,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    seq: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_seconds")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    code: Option<u64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    count: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    from_seq: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64_lenient")]
    to_seq: Option<u64>,
}

impl RawEventPayload {
    fn into_typed(self, event: EventName) -> Result<EventPayload, MessagingError> {
        let err = |reason: String| payload_error(event.as_str(), reason);
        let object = match self.object {
            None => None,
            Some(v) => {
                Some(EventObject::from_value(event, v).map_err(|e| err(format!("object: {e}")))?)
            }
        };
        let code = match self.code {
            None => None,
            Some(c) => Some(u32::try_from(c).map_err(|_| err(format!("code {c} out of range")))?),
        };
        Ok(EventPayload {
            type_name: self.type_name,
            initiator: self.initiator.unwrap_or(0),
            on_incoming_event: self
                .on_incoming_event
                .as_deref()
                .and_then(Action::from_name),
            object,
            seq: self.seq,
            timestamp: self.timestamp,
            code,
            description: self.description,
            count: self.count,
            from_seq: self.from_seq,
            to_seq: self.to_seq,
        })
    }
}

#[derive(Deserialize)]
struct RawRetransmitted {
    #[serde(default, deserialize_with = "de::opt_string_tolerant")]
    service: Option<String>,
    event: String,
    payload: RawEventPayload,
}

impl RawRetransmitted {
    fn into_typed(self) -> Result<RetransmittedEvent, MessagingError> {
        let event =
            EventName::from_name(&self.event).ok_or(MessagingError::UnknownEvent(self.event))?;
        Ok(RetransmittedEvent {
            service: self.service,
            event,
            payload: self.payload.into_typed(event)?,
        })
    }
}

/// A server event: `{"service":"chat","event","payload","to"?,"toId"?,"connid"?,"request_uuid","version"?}`.
///
/// `to`, `toId`, `connid` and `version` are declared by the SDK's types and never read by it;
/// they are written only when set. `request_uuid` is always written: the request's uuid on its
/// answer, `""` on a push that answers nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerMessage {
    pub event: EventName,
    pub payload: EventPayload,
    pub to: Option<String>,
    pub to_id: Option<Vec<String>>,
    pub connid: Option<String>,
    pub request_uuid: String,
    pub version: Option<String>,
}

/// The envelope fields of a server event other than `event` and `payload`, borrowed; see
/// [`encode_event`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnvelopeFields<'a> {
    pub to: Option<&'a str>,
    pub to_id: Option<&'a [String]>,
    pub connid: Option<&'a str>,
    pub request_uuid: &'a str,
    pub version: Option<&'a str>,
}

#[derive(Serialize)]
struct OutServer<'a, P> {
    service: &'static str,
    event: &'static str,
    payload: P,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(rename = "toId", skip_serializing_if = "Option::is_none")]
    to_id: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connid: Option<&'a str>,
    request_uuid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

impl<'a, P> OutServer<'a, P> {
    fn new(event: EventName, payload: P, f: &EnvelopeFields<'a>) -> Self {
        OutServer {
            service: SERVICE_CHAT,
            event: event.as_str(),
            payload,
            to: f.to,
            to_id: f.to_id,
            connid: f.connid,
            request_uuid: f.request_uuid,
            version: f.version,
        }
    }
}

/// Frame an already-encoded event payload ([`EventPayload::to_raw`]) in a server envelope, so
/// that one payload can go to many recipients (different `to`, `toId`, `connid`,
/// `request_uuid`) without being serialised again. Same output as [`ServerMessage::to_json`].
pub fn encode_event(event: EventName, payload: &RawValue, fields: &EnvelopeFields<'_>) -> String {
    serde_json::to_string(&OutServer::new(event, payload, fields))
        .expect("an event always serialises")
}

impl ServerMessage {
    /// An event with no routing fields (`to`, `toId`, `connid`, `version` unset).
    pub fn new(event: EventName, payload: EventPayload, request_uuid: impl Into<String>) -> Self {
        ServerMessage {
            event,
            payload,
            to: None,
            to_id: None,
            connid: None,
            request_uuid: request_uuid.into(),
            version: None,
        }
    }

    /// `onError` answering the request `request_uuid` (an `action` by `initiator`).
    pub fn error(
        request_uuid: impl Into<String>,
        initiator: UserId,
        action: Option<Action>,
        code: ErrorCode,
    ) -> Self {
        ServerMessage::new(
            EventName::Error,
            EventPayload::error(initiator, action, code),
            request_uuid,
        )
    }

    pub fn fields(&self) -> EnvelopeFields<'_> {
        EnvelopeFields {
            to: self.to.as_deref(),
            to_id: self.to_id.as_deref(),
            connid: self.connid.as_deref(),
            request_uuid: &self.request_uuid,
            version: self.version.as_deref(),
        }
    }

    /// Decode a payload's JSON text.
    pub fn from_json(text: &str) -> Result<ServerMessage, MessagingError> {
        if !is_object_text(text) {
            return Err(MessagingError::Envelope("not a JSON object".into()));
        }
        let raw: RawServer =
            serde_json::from_str(text).map_err(|e| MessagingError::Envelope(e.to_string()))?;
        raw.into_typed()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an event always serialises")
    }
}

impl Serialize for ServerMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        OutServer::new(self.event, &self.payload, &self.fields()).serialize(s)
    }
}

#[derive(Deserialize)]
struct RawServer {
    service: String,
    event: String,
    payload: Value,
    #[serde(default, deserialize_with = "de::opt_string_tolerant")]
    to: Option<String>,
    #[serde(
        rename = "toId",
        default,
        deserialize_with = "de::opt_string_list_tolerant"
    )]
    to_id: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_string_tolerant")]
    connid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_tolerant")]
    request_uuid: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string_tolerant")]
    version: Option<String>,
}

impl RawServer {
    fn into_typed(self) -> Result<ServerMessage, MessagingError> {
        if self.service.is_empty() {
            return Err(MessagingError::Service(self.service));
        }
        let event =
            EventName::from_name(&self.event).ok_or(MessagingError::UnknownEvent(self.event))?;
        if !self.payload.is_object() {
            return Err(payload_error(
                event.as_str(),
                "the payload is not an object",
            ));
        }
        Ok(ServerMessage {
            event,
            payload: EventPayload::from_value(event, self.payload)?,
            to: self.to,
            to_id: self.to_id,
            connid: self.connid,
            request_uuid: self.request_uuid.unwrap_or_default(),
            version: self.version,
        })
    }
}

impl<'de> Deserialize<'de> for ServerMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RawServer::deserialize(d)?
            .into_typed()
            .map_err(serde::de::Error::custom)
    }
}
