//! Messenger events as the application sees them, and their construction from server frames.
//!
//! Field names follow the seed API (React Native Messenger): `initiator` (the IM user id whose
//! action caused the event), `sequence`, `timestamp` (UNIX seconds, as on the wire), `action`
//! (the wire action that caused the event, e.g. `sendMessage`), `event_type`.

use super::{
    Conversation, ConversationData, ConversationParticipant, Message, MessageData, Messenger,
};
use vox_protocol::messaging::{
    Action, EventName, EventObject, EventPayload, JsonObject, ServerMessage, UserId,
};

/// The event types a listener can be registered for (`MessengerEventTypes` of the seed API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum MessengerEventType {
    CreateConversation = 0,
    EditConversation = 1,
    EditMessage = 2,
    EditUser = 3,
    Error = 4,
    GetConversation = 5,
    GetPublicConversations = 6,
    GetSubscriptions = 7,
    GetUser = 8,
    Read = 9,
    RemoveConversation = 10,
    RemoveMessage = 11,
    RetransmitEvents = 12,
    SendMessage = 13,
    SetStatus = 14,
    Subscribe = 15,
    Typing = 16,
    Unsubscribe = 17,
}

impl MessengerEventType {
    pub const ALL: [MessengerEventType; 18] = [
        Self::CreateConversation,
        Self::EditConversation,
        Self::EditMessage,
        Self::EditUser,
        Self::Error,
        Self::GetConversation,
        Self::GetPublicConversations,
        Self::GetSubscriptions,
        Self::GetUser,
        Self::Read,
        Self::RemoveConversation,
        Self::RemoveMessage,
        Self::RetransmitEvents,
        Self::SendMessage,
        Self::SetStatus,
        Self::Subscribe,
        Self::Typing,
        Self::Unsubscribe,
    ];

    /// The type of events carried by a server event name (`None` for the bot events, which
    /// the SDKs ignore).
    pub fn from_event_name(name: EventName) -> Option<Self> {
        use EventName as E;
        Some(match name {
            E::Error => Self::Error,
            E::CreateConversation => Self::CreateConversation,
            E::EditConversation => Self::EditConversation,
            E::RemoveConversation => Self::RemoveConversation,
            E::GetConversation => Self::GetConversation,
            E::GetPublicConversations => Self::GetPublicConversations,
            E::GetUser => Self::GetUser,
            E::EditUser => Self::EditUser,
            E::SetStatus => Self::SetStatus,
            E::SendMessage => Self::SendMessage,
            E::EditMessage => Self::EditMessage,
            E::RemoveMessage => Self::RemoveMessage,
            E::IsRead => Self::Read,
            E::Typing => Self::Typing,
            E::Subscribe => Self::Subscribe,
            E::Unsubscribe => Self::Unsubscribe,
            E::GetSubscriptionList => Self::GetSubscriptions,
            E::RetransmitEvents => Self::RetransmitEvents,
            E::CreateBot | E::RemoveBot => return None,
        })
    }
}

/// Push notification kinds for [`Messenger::manage_push_notifications`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessengerNotification {
    SendMessage,
    EditMessage,
    /// Accepted by the Web SDK (not by the seed API).
    CreateConversation,
}

impl MessengerNotification {
    /// The wire name (`onSendMessage`, …).
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::SendMessage => "onSendMessage",
            Self::EditMessage => "onEditMessage",
            Self::CreateConversation => "onCreateConversation",
        }
    }
}

/// A messenger user.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    /// `username@appname.accname`.
    pub name: String,
    pub im_id: UserId,
    pub display_name: String,
    pub custom_data: JsonObject,
    /// Only for the current user.
    pub private_custom_data: Option<JsonObject>,
    pub conversation_list: Vec<String>,
    pub leave_conversation_list: Vec<String>,
    /// Wire names of the push notifications the user is subscribed to (`onSendMessage`, …).
    pub notifications: Vec<String>,
    pub is_deleted: bool,
}

impl From<vox_protocol::messaging::User> for User {
    fn from(u: vox_protocol::messaging::User) -> Self {
        User {
            name: u.user_name,
            im_id: u.user_id,
            display_name: u.display_name,
            custom_data: u.custom_data,
            private_custom_data: u.private_custom_data,
            conversation_list: u.conversations_list.unwrap_or_default(),
            leave_conversation_list: u.leave_conversations.unwrap_or_default(),
            notifications: u.notification_events.unwrap_or_default(),
            is_deleted: u.deleted,
        }
    }
}

/// `GetUser`, `EditUser`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEvent {
    pub event_type: MessengerEventType,
    pub action: Option<Action>,
    pub initiator: UserId,
    pub timestamp: Option<i64>,
    pub user: User,
}

/// `CreateConversation`, `EditConversation`, `GetConversation`, `RemoveConversation`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationEvent {
    pub event_type: MessengerEventType,
    pub action: Option<Action>,
    pub initiator: UserId,
    pub sequence: u64,
    pub timestamp: Option<i64>,
    pub conversation: Conversation,
}

/// `SendMessage`, `EditMessage`, `RemoveMessage`.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageEvent {
    pub event_type: MessengerEventType,
    pub action: Option<Action>,
    /// The sender.
    pub initiator: UserId,
    pub sequence: u64,
    pub timestamp: Option<i64>,
    pub message: Message,
}

/// `GetPublicConversations`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationListEvent {
    pub event_type: MessengerEventType,
    pub action: Option<Action>,
    pub initiator: UserId,
    pub conversation_list: Vec<String>,
}

/// `Subscribe`, `Unsubscribe`, `GetSubscriptions`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionEvent {
    pub event_type: MessengerEventType,
    pub action: Option<Action>,
    pub initiator: UserId,
    pub users: Vec<UserId>,
}

/// `SetStatus`: `initiator` is the user whose status changed.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    pub event_type: MessengerEventType,
    pub action: Option<Action>,
    pub initiator: UserId,
    pub timestamp: Option<i64>,
    pub is_online: bool,
}

/// `Typing`, `Read`. `sequence` is the read mark for `Read` and 0 for `Typing`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationServiceEvent {
    pub event_type: MessengerEventType,
    pub action: Option<Action>,
    pub initiator: UserId,
    pub conversation_uuid: String,
    pub sequence: u64,
}

/// One event of a retransmission.
#[derive(Debug, Clone, PartialEq)]
pub enum RetransmittedEvent {
    Conversation(ConversationEvent),
    Message(MessageEvent),
}

impl RetransmittedEvent {
    pub fn sequence(&self) -> u64 {
        match self {
            RetransmittedEvent::Conversation(e) => e.sequence,
            RetransmittedEvent::Message(e) => e.sequence,
        }
    }
}

/// `RetransmitEvents`: a listener gets one per frame (one event each); the completion of a
/// retransmit call gets them all, in server order.
#[derive(Debug, Clone, PartialEq)]
pub struct RetransmitEvent {
    pub event_type: MessengerEventType,
    pub action: Option<Action>,
    pub initiator: UserId,
    /// The range the server reports (`from_seq`/`to_seq`), else the lowest/highest seq received.
    pub from: u64,
    pub to: u64,
    pub events: Vec<RetransmittedEvent>,
}

/// `Error`: the server rejected a request (or the event carries a client-side error code).
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorEvent {
    pub action: Option<Action>,
    pub code: u32,
    pub description: String,
    pub timestamp: Option<i64>,
}

/// Any messenger event.
#[derive(Debug, Clone, PartialEq)]
pub enum MessengerEvent {
    User(UserEvent),
    Conversation(ConversationEvent),
    Message(MessageEvent),
    ConversationList(ConversationListEvent),
    Subscription(SubscriptionEvent),
    Status(StatusEvent),
    ConversationService(ConversationServiceEvent),
    Retransmit(RetransmitEvent),
    Error(ErrorEvent),
}

impl MessengerEvent {
    pub fn event_type(&self) -> MessengerEventType {
        match self {
            MessengerEvent::User(e) => e.event_type,
            MessengerEvent::Conversation(e) => e.event_type,
            MessengerEvent::Message(e) => e.event_type,
            MessengerEvent::ConversationList(e) => e.event_type,
            MessengerEvent::Subscription(e) => e.event_type,
            MessengerEvent::Status(e) => e.event_type,
            MessengerEvent::ConversationService(e) => e.event_type,
            MessengerEvent::Retransmit(e) => e.event_type,
            MessengerEvent::Error(_) => MessengerEventType::Error,
        }
    }
}

fn conversation_from(
    messenger: &Messenger,
    c: vox_protocol::messaging::Conversation,
    seq: Option<u64>,
) -> Conversation {
    let data = ConversationData {
        uuid: c.uuid,
        title: c.title,
        direct: c.direct,
        public_join: c.enable_public_join,
        uber: c.uber_conversation,
        custom_data: c.custom_data,
        participants: c
            .participants
            .into_iter()
            .map(ConversationParticipant::from_wire)
            .collect(),
        created_time: c.created_at.unwrap_or(0),
        last_update_time: c.last_update.unwrap_or(0),
        last_sequence: seq.or(c.last_seq).unwrap_or(0),
    };
    Conversation::from_data(messenger.clone(), data)
}

fn message_from(
    messenger: &Messenger,
    m: vox_protocol::messaging::Message,
    sender: UserId,
    seq: Option<u64>,
) -> Message {
    let data = MessageData {
        uuid: m.uuid,
        conversation: m.conversation,
        text: m.text.unwrap_or_default(),
        payload: m.payload.unwrap_or_default(),
        sender,
        sequence: seq.unwrap_or(0),
    };
    Message::from_data(messenger.clone(), data)
}

/// Build the public event of a payload. `None` when the payload does not carry what its event
/// needs (logged by the caller) or the event is one the SDKs ignore.
pub(crate) fn convert(
    messenger: &Messenger,
    event: EventName,
    p: EventPayload,
) -> Option<MessengerEvent> {
    let event_type = MessengerEventType::from_event_name(event)?;
    let action = p.on_incoming_event;
    let initiator = p.initiator;
    if event == EventName::Error {
        return Some(MessengerEvent::Error(ErrorEvent {
            action,
            code: p.code.unwrap_or(0),
            description: p.description.unwrap_or_default(),
            timestamp: p.timestamp,
        }));
    }
    if event == EventName::RetransmitEvents {
        let events = match p.object {
            Some(EventObject::Retransmitted(r)) => {
                convert_retransmitted(messenger, *r).into_iter().collect()
            }
            _ => Vec::new(),
        };
        let (from, to) = range_of(&events, p.from_seq, p.to_seq);
        return Some(MessengerEvent::Retransmit(RetransmitEvent {
            event_type,
            action,
            initiator,
            from,
            to,
            events,
        }));
    }
    let object = p.object?;
    Some(match object {
        EventObject::Conversation(c) => MessengerEvent::Conversation(ConversationEvent {
            event_type,
            action,
            initiator,
            sequence: p.seq.unwrap_or(0),
            timestamp: p.timestamp,
            conversation: conversation_from(messenger, c, p.seq),
        }),
        EventObject::User(u) => MessengerEvent::User(UserEvent {
            event_type,
            action,
            initiator,
            timestamp: p.timestamp,
            user: u.into(),
        }),
        EventObject::Message(m) => MessengerEvent::Message(MessageEvent {
            event_type,
            action,
            initiator,
            sequence: p.seq.unwrap_or(0),
            timestamp: p.timestamp,
            message: message_from(messenger, m, initiator, p.seq),
        }),
        EventObject::Presence(s) => MessengerEvent::Status(StatusEvent {
            event_type,
            action,
            initiator,
            timestamp: p.timestamp,
            is_online: s.online,
        }),
        EventObject::Typing(t) => MessengerEvent::ConversationService(ConversationServiceEvent {
            event_type,
            action,
            initiator,
            conversation_uuid: t.conversation,
            sequence: 0,
        }),
        EventObject::Read(r) => MessengerEvent::ConversationService(ConversationServiceEvent {
            event_type,
            action,
            initiator,
            conversation_uuid: r.conversation,
            sequence: r.seq,
        }),
        EventObject::Subscriptions(s) => MessengerEvent::Subscription(SubscriptionEvent {
            event_type,
            action,
            initiator,
            users: s.user_id.unwrap_or_default(),
        }),
        EventObject::SubscriptionList(s) => MessengerEvent::Subscription(SubscriptionEvent {
            event_type,
            action,
            initiator,
            users: s.subscriptions,
        }),
        EventObject::PublicConversations(l) => {
            MessengerEvent::ConversationList(ConversationListEvent {
                event_type,
                action,
                initiator,
                conversation_list: l.uuid,
            })
        }
        EventObject::Retransmitted(_) | EventObject::Other(_) => return None,
    })
}

fn convert_retransmitted(
    messenger: &Messenger,
    r: vox_protocol::messaging::RetransmittedEvent,
) -> Option<RetransmittedEvent> {
    let is_message = r.event.is_message_event();
    match convert(messenger, r.event, r.payload)? {
        MessengerEvent::Message(m) if is_message => Some(RetransmittedEvent::Message(m)),
        MessengerEvent::Conversation(c) if !is_message => Some(RetransmittedEvent::Conversation(c)),
        _ => None,
    }
}

pub(crate) fn range_of(
    events: &[RetransmittedEvent],
    from: Option<u64>,
    to: Option<u64>,
) -> (u64, u64) {
    let lo = events.iter().map(|e| e.sequence()).min().unwrap_or(0);
    let hi = events.iter().map(|e| e.sequence()).max().unwrap_or(0);
    (from.unwrap_or(lo), to.unwrap_or(hi))
}

/// Parse a messaging payload into its server message.
pub(crate) fn parse(text: &str) -> Result<ServerMessage, vox_protocol::messaging::MessagingError> {
    ServerMessage::from_json(text)
}
