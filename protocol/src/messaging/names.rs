//! Action names (client → server `event`), event names (server → client `event`) and the
//! `@type` of each request payload.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The namespace part of a request's `@type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// `subscribe`, `unsubscribe`, `typingMessage`, `isRead`, `setStatus`: types shared by
    /// requests and events.
    Common,
    /// Every other action.
    Incoming,
}

impl Namespace {
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Common => "CommonNamespace",
            Namespace::Incoming => "IncomingNamespace",
        }
    }
}

macro_rules! actions {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, $ns:ident, $ty:literal, $reply:ident, $sent:literal; )*) => {
        /// A messaging action: the `event` of a client → server frame.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $( $(#[$doc])* $variant, )*
        }

        impl Action {
            /// Every action, in the order of the SDK's `MsgAction` enum.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The wire name (`event` of the request, `on_incoming_event` of the answer).
            pub fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $wire,)* }
            }

            /// The action with this wire name (exact match).
            pub fn from_name(name: &str) -> Option<Action> {
                match name { $($wire => Some(Action::$variant),)* _ => None }
            }

            /// Namespace of the request's `@type`.
            pub fn namespace(self) -> Namespace {
                match self { $(Action::$variant => Namespace::$ns,)* }
            }

            /// Type name of the request's `@type` (e.g. `ManageParticipants`).
            pub fn type_name(self) -> &'static str {
                match self { $(Action::$variant => $ty,)* }
            }

            /// The full `@type` the SDK puts into the request payload,
            /// `type/vox.store.<Namespace>.<Type>`.
            pub fn at_type(self) -> &'static str {
                match self {
                    $(Action::$variant => concat!("type/vox.store.", stringify!($ns), "Namespace.", $ty),)*
                }
            }

            /// The event that answers this action (`onError` aside).
            pub fn reply_event(self) -> EventName {
                match self { $(Action::$variant => EventName::$reply,)* }
            }

            /// Whether the Web SDK 4.13 can send this action at all (five are declared but
            /// unreachable from its public API).
            pub fn sent_by_web_sdk(self) -> bool {
                match self { $(Action::$variant => $sent,)* }
            }
        }
    };
}

actions! {
    CreateConversation = "createConversation", Incoming, "CreateConversation", CreateConversation, true;
    EditConversation = "editConversation", Incoming, "EditConversation", EditConversation, true;
    /// Declared only; removal goes through the server-side API.
    RemoveConversation = "removeConversation", Incoming, "RemoveConversation", RemoveConversation, false;
    JoinConversation = "joinConversation", Incoming, "JoinConversation", EditConversation, true;
    LeaveConversation = "leaveConversation", Incoming, "LeaveConversation", EditConversation, true;
    GetConversation = "getConversation", Incoming, "GetConversation", GetConversation, true;
    GetConversations = "getConversations", Incoming, "GetConversations", GetConversation, true;
    GetPublicConversations = "getPublicConversations", Incoming, "GetConversations", GetPublicConversations, true;
    /// Declared only.
    SearchConversations = "searchConversations", Incoming, "SearchConversations", GetConversation, false;
    /// Declared only.
    RemoveEmptyConversation = "removeEmptyConversation", Incoming, "RemoveEmptyConversation", RemoveConversation, false;
    AddParticipants = "addParticipants", Incoming, "ManageParticipants", EditConversation, true;
    EditParticipants = "editParticipants", Incoming, "ManageParticipants", EditConversation, true;
    RemoveParticipants = "removeParticipants", Incoming, "RemoveParticipants", EditConversation, true;
    GetUser = "getUser", Incoming, "GetUser", GetUser, true;
    GetUsers = "getUsers", Incoming, "GetUsers", GetUser, true;
    EditUser = "editUser", Incoming, "EditUser", EditUser, true;
    SetStatus = "setStatus", Common, "PresenceMessage", SetStatus, true;
    SendMessage = "sendMessage", Incoming, "SendMessage", SendMessage, true;
    EditMessage = "editMessage", Incoming, "EditMessage", EditMessage, true;
    RemoveMessage = "removeMessage", Incoming, "RemoveMessage", RemoveMessage, true;
    TypingMessage = "typingMessage", Common, "TypingMessage", Typing, true;
    IsRead = "isRead", Common, "StatusMessage", IsRead, true;
    Subscribe = "subscribe", Common, "ManageSubscribes", Subscribe, true;
    Unsubscribe = "unsubscribe", Common, "ManageSubscribes", Unsubscribe, true;
    /// Answered with `onEditUser` (the user with its new `notification_events`).
    ManageNotification = "manageNotification", Incoming, "ManageNotifications", EditUser, true;
    GetSubscriptionList = "getSubscriptionList", Incoming, "GetSubscriptionList", GetSubscriptionList, true;
    /// Declared only.
    CreateBot = "createBot", Incoming, "CreateBot", CreateBot, false;
    /// Declared only.
    RemoveBot = "removeBot", Incoming, "RemoveBot", RemoveBot, false;
    RetransmitEvents = "retransmitEvents", Incoming, "RetransmitRequest", RetransmitEvents, true;
}

macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal; )*) => {
        /// A messaging event: the `event` of a server → client frame. The Web SDK drops a frame
        /// whose event is not one of these.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventName {
            $( $(#[$doc])* $variant, )*
        }

        impl EventName {
            /// Every event, in the order of the SDK's `MsgEvent` enum.
            pub const ALL: &'static [EventName] = &[$(EventName::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(EventName::$variant => $wire,)* }
            }

            pub fn from_name(name: &str) -> Option<EventName> {
                match name { $($wire => Some(EventName::$variant),)* _ => None }
            }
        }
    };
}

events! {
    /// A request failed; carries `code` and `description` instead of `object`.
    Error = "onError";
    CreateConversation = "onCreateConversation";
    EditConversation = "onEditConversation";
    RemoveConversation = "onRemoveConversation";
    GetConversation = "onGetConversation";
    GetPublicConversations = "onGetPublicConversations";
    GetUser = "onGetUser";
    EditUser = "onEditUser";
    SetStatus = "onSetStatus";
    SendMessage = "onSendMessage";
    EditMessage = "onEditMessage";
    RemoveMessage = "onRemoveMessage";
    /// Note: no `on` prefix.
    IsRead = "isRead";
    Typing = "onTyping";
    Subscribe = "onSubscribe";
    Unsubscribe = "onUnsubscribe";
    GetSubscriptionList = "onGetSubscriptionList";
    /// Accepted and ignored by the Web SDK.
    CreateBot = "onCreateBot";
    /// Accepted and ignored by the Web SDK.
    RemoveBot = "onRemoveBot";
    RetransmitEvents = "onRetransmitEvents";
}

impl EventName {
    /// The SDK's test for a retransmitted event: a name containing `Message` is a message event,
    /// anything else a conversation event.
    pub fn is_message_event(self) -> bool {
        self.as_str().contains("Message")
    }
}

macro_rules! string_serde {
    ($ty:ident, $what:literal) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
                $ty::from_name(&name).ok_or_else(|| {
                    serde::de::Error::custom(format_args!(
                        concat!("unknown ", $what, " {:?}"),
                        name
                    ))
                })
            }
        }
    };
}

string_serde!(Action, "messaging action");
string_serde!(EventName, "messaging event");

#[cfg(test)]
mod tests {
    use super::*;

    /// The `@type` rule as `messaging.md` §1.2 states it, computed independently of the table.
    fn at_type_by_rule(action: &str) -> String {
        let ns = if [
            "subscribe",
            "unsubscribe",
            "typingMessage",
            "isRead",
            "setStatus",
        ]
        .contains(&action)
        {
            "CommonNamespace"
        } else {
            "IncomingNamespace"
        };
        let overrides = [
            ("setStatus", "PresenceMessage"),
            ("isRead", "StatusMessage"),
            ("typingMessage", "TypingMessage"),
            ("subscribe", "ManageSubscribes"),
            ("unsubscribe", "ManageSubscribes"),
            ("addParticipants", "ManageParticipants"),
            ("editParticipants", "ManageParticipants"),
            ("manageNotification", "ManageNotifications"),
            ("getPublicConversations", "GetConversations"),
            ("retransmitEvents", "RetransmitRequest"),
        ];
        let ty = match overrides.iter().find(|(a, _)| *a == action) {
            Some((_, t)) => t.to_string(),
            None => {
                let mut c = action.chars();
                let first = c.next().unwrap().to_ascii_uppercase();
                format!("{first}{}", c.as_str())
            }
        };
        format!("type/vox.store.{ns}.{ty}")
    }

    #[test]
    fn actions_follow_the_at_type_rule() {
        assert_eq!(Action::ALL.len(), 29);
        assert_eq!(
            Action::ALL.iter().filter(|a| a.sent_by_web_sdk()).count(),
            24
        );
        for &a in Action::ALL {
            assert_eq!(a.at_type(), at_type_by_rule(a.as_str()), "{a}");
            assert_eq!(
                a.at_type(),
                format!(
                    "type/vox.store.{}.{}",
                    a.namespace().as_str(),
                    a.type_name()
                )
            );
            assert_eq!(Action::from_name(a.as_str()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), a);
        }
        assert_eq!(Action::from_name("UNKNOWN"), None);
        assert_eq!(Action::from_name("GetUser"), None);
        assert!(serde_json::from_str::<Action>(r#""nope""#).is_err());
    }

    #[test]
    fn events_round_trip() {
        assert_eq!(EventName::ALL.len(), 20);
        for &e in EventName::ALL {
            assert_eq!(EventName::from_name(e.as_str()), Some(e));
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(serde_json::from_str::<EventName>(&json).unwrap(), e);
        }
        assert_eq!(EventName::IsRead.as_str(), "isRead");
        assert_eq!(EventName::from_name("onIsRead"), None);
        let message_events: Vec<_> = EventName::ALL
            .iter()
            .filter(|e| e.is_message_event())
            .collect();
        assert_eq!(
            message_events,
            [
                &EventName::SendMessage,
                &EventName::EditMessage,
                &EventName::RemoveMessage
            ]
        );
    }

    #[test]
    fn reply_events() {
        assert_eq!(
            Action::JoinConversation.reply_event(),
            EventName::EditConversation
        );
        assert_eq!(
            Action::ManageNotification.reply_event(),
            EventName::EditUser
        );
        assert_eq!(Action::TypingMessage.reply_event(), EventName::Typing);
        assert_eq!(Action::IsRead.reply_event(), EventName::IsRead);
        assert_eq!(Action::GetUsers.reply_event(), EventName::GetUser);
        assert_eq!(
            Action::RemoveEmptyConversation.reply_event(),
            EventName::RemoveConversation
        );
        // Every event except onError answers some action.
        for &e in EventName::ALL {
            let answers = Action::ALL.iter().any(|a| a.reply_event() == e);
            assert_eq!(answers, e != EventName::Error, "{e}");
        }
    }
}
