//! The Messenger API: [`Messenger`] (the seed API's 20 methods), [`Conversation`], [`Message`],
//! and the events.
//!
//! Every network call exists in two forms: `name_cb(args, callback) -> OperationId`, whose
//! callback runs exactly once on the SDK's callback thread, and `async fn name(args)`, which
//! awaits the same completion. Arguments are validated before anything is sent; a rejected call
//! completes with [`Error::InvalidArgument`] (never a panic, never a frame on the wire).

pub(crate) mod events;
mod validate;

/// The local limits.
pub mod limits {
    pub use super::validate::{
        MAX_CONVERSATIONS, MAX_CUSTOM_DATA_BYTES, MAX_PARTICIPANTS, MAX_RETRANSMIT, MAX_TEXT_CHARS,
        MAX_USER_DATA_BYTES, MAX_USERS,
    };
}

pub use events::{
    ConversationEvent, ConversationListEvent, ConversationServiceEvent, ErrorEvent, MessageEvent,
    MessengerEvent, MessengerEventType, MessengerNotification, RetransmitEvent, RetransmittedEvent,
    StatusEvent, SubscriptionEvent, User, UserEvent,
};
pub use vox_protocol::messaging::{JsonObject, UserId};

use crate::client::{Callback, Client, Expect, ListenerId, OperationId, Reply, wait};
use crate::error::{Error, Result};
use std::time::{Duration, Instant};
use vox_protocol::messaging::{
    ClientRequest, ConversationRef, CreateConversation, EditConversation, EditMessage, EditUser,
    Empty, GetConversations, GetUsers, ManageNotifications, ManageParticipants, ManageSubscribes,
    Participant, Permissions, PresenceMessage, RemoveMessage, RemoveParticipants, Request,
    RetransmitRequest, SendMessage, StatusMessage, TypingMessage, UserRef,
};

/// How long `typing()` stays quiet after a call (the Web SDK's debounce).
pub const TYPING_INTERVAL: Duration = Duration::from_secs(10);

/// Conversions from a raw reply to what a call returns.
pub(crate) trait FromReply: Sized + Send + 'static {
    fn from_reply(r: Reply) -> Result<Self>;
}

fn unexpected(r: &Reply) -> Error {
    Error::Protocol(format!("unexpected reply: {r:?}"))
}

macro_rules! from_one {
    ($ty:ty, $variant:ident) => {
        impl FromReply for $ty {
            fn from_reply(r: Reply) -> Result<Self> {
                match r {
                    Reply::One(MessengerEvent::$variant(e)) => Ok(e),
                    other => Err(unexpected(&other)),
                }
            }
        }
    };
}

from_one!(UserEvent, User);
from_one!(ConversationEvent, Conversation);
from_one!(MessageEvent, Message);
from_one!(ConversationListEvent, ConversationList);
from_one!(SubscriptionEvent, Subscription);
from_one!(StatusEvent, Status);
from_one!(ConversationServiceEvent, ConversationService);

impl FromReply for RetransmitEvent {
    fn from_reply(r: Reply) -> Result<Self> {
        match r {
            Reply::Retransmit(e) => Ok(e),
            other => Err(unexpected(&other)),
        }
    }
}

macro_rules! from_many {
    ($ty:ty, $variant:ident) => {
        impl FromReply for Vec<$ty> {
            fn from_reply(r: Reply) -> Result<Self> {
                match r {
                    Reply::Many(v) => v
                        .into_iter()
                        .map(|e| match e {
                            MessengerEvent::$variant(e) => Ok(e),
                            other => Err(Error::Protocol(format!("unexpected event: {other:?}"))),
                        })
                        .collect(),
                    other => Err(unexpected(&other)),
                }
            }
        }
    };
}

from_many!(UserEvent, User);
from_many!(ConversationEvent, Conversation);

/// A participant of a conversation, with the seed API's permission names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConversationParticipant {
    pub im_user_id: UserId,
    pub can_write: bool,
    pub can_edit_messages: bool,
    pub can_edit_all_messages: bool,
    pub can_remove_messages: bool,
    pub can_remove_all_messages: bool,
    pub can_manage_participants: bool,
    pub owner: bool,
    /// Read-only: the last sequence the participant marked as read (from the server).
    pub last_read_event_sequence: u64,
}

impl ConversationParticipant {
    /// A participant with no permission set (a conversation's creation turns that into
    /// write + edit + remove, as the SDKs do).
    pub fn new(im_user_id: UserId) -> Self {
        ConversationParticipant {
            im_user_id,
            ..Default::default()
        }
    }

    /// The `flags` bits of this participant.
    pub fn permissions(&self) -> Permissions {
        vox_protocol::messaging::ParticipantPermissions {
            can_write: self.can_write,
            can_edit: self.can_edit_messages,
            can_remove: self.can_remove_messages,
            can_manage_participants: self.can_manage_participants,
            can_edit_all: self.can_edit_all_messages,
            can_remove_all: self.can_remove_all_messages,
            is_owner: self.owner,
        }
        .into()
    }

    pub(crate) fn from_wire(p: Participant) -> Self {
        let f = vox_protocol::messaging::ParticipantPermissions::from(p.flags);
        ConversationParticipant {
            im_user_id: p.user_id,
            can_write: f.can_write,
            can_edit_messages: f.can_edit,
            can_edit_all_messages: f.can_edit_all,
            can_remove_messages: f.can_remove,
            can_remove_all_messages: f.can_remove_all,
            can_manage_participants: f.can_manage_participants,
            owner: f.is_owner,
            last_read_event_sequence: p.last_read.unwrap_or(0),
        }
    }

    fn to_wire(&self) -> Participant {
        Participant::new(self.im_user_id, self.permissions())
    }
}

/// What [`Messenger::create_conversation`] creates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationConfig {
    pub participants: Vec<ConversationParticipant>,
    pub title: String,
    pub direct: bool,
    pub public_join: bool,
    pub uber: bool,
    /// Up to 5 KB of JSON.
    pub custom_data: JsonObject,
}

/// The fields of a conversation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationData {
    pub uuid: String,
    pub title: String,
    pub direct: bool,
    pub public_join: bool,
    pub uber: bool,
    pub custom_data: JsonObject,
    pub participants: Vec<ConversationParticipant>,
    /// UNIX seconds.
    pub created_time: i64,
    /// UNIX seconds of the last event.
    pub last_update_time: i64,
    /// Sequence of the last event.
    pub last_sequence: u64,
}

/// A conversation: its data as last received, plus the calls that act on it. Cheap to clone;
/// the setters change the local copy only, [`Conversation::update`] sends it (seed API).
#[derive(Clone)]
pub struct Conversation {
    messenger: Messenger,
    data: ConversationData,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.data.fmt(f)
    }
}

impl PartialEq for Conversation {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

/// The fields of a message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageData {
    pub uuid: String,
    /// The conversation's uuid.
    pub conversation: String,
    pub text: String,
    pub payload: Vec<JsonObject>,
    /// IM id of the sender.
    pub sender: UserId,
    pub sequence: u64,
}

/// A message and the calls that act on it.
#[derive(Clone)]
pub struct Message {
    messenger: Messenger,
    data: MessageData,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.data.fmt(f)
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

/// The messenger of a client. Cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Messenger {
    client: Client,
}

impl std::fmt::Debug for Messenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messenger").finish_non_exhaustive()
    }
}

impl Messenger {
    pub(crate) fn new(client: Client) -> Messenger {
        Messenger { client }
    }

    /// The client this messenger belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Validate, send, and map the reply. Local errors complete on the callback thread too.
    fn send<T: FromReply>(
        &self,
        request: Result<Request>,
        expect: Expect,
        cb: impl FnOnce(Result<T>) + Send + 'static,
    ) -> OperationId {
        let op = OperationId(self.client.next_id());
        match request {
            Err(e) => Client::fail_later(Box::new(cb), e),
            Ok(r) => {
                let cb: Callback<Reply> = Box::new(move |res| cb(res.and_then(T::from_reply)));
                self.client.request(op, ClientRequest::new(r), expect, cb)
            }
        }
        op
    }

    // ---------------------------------------------------------------------------------------
    // Listeners
    // ---------------------------------------------------------------------------------------

    /// Register a listener for one event type. It runs on the callback thread for every such
    /// event, including the replies to this client's own requests.
    pub fn on(
        &self,
        event_type: MessengerEventType,
        listener: impl Fn(&MessengerEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        self.client.on_messenger(event_type, listener)
    }

    /// Remove a listener; `None` removes every listener of that type.
    pub fn off(&self, event_type: MessengerEventType, listener: Option<ListenerId>) {
        self.client.off_messenger(event_type, listener)
    }

    // ---------------------------------------------------------------------------------------
    // Users
    // ---------------------------------------------------------------------------------------

    /// `username@appname.accname` of the logged-in user (`None` before login and after the
    /// session ended), as the login spelled it (the Web SDK's `getMe()`). For every field of
    /// the user, see [`get_me_user`](Self::get_me_user).
    pub fn get_me(&self) -> Option<String> {
        self.client
            .shared
            .me
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The logged-in user with every field a get_user result has (IM id, display name, custom
    /// data, private custom data, conversation lists, notifications), without a network call
    /// (`None` before login and after the session ended). The SDK fetches the user right after
    /// each successful login, before the login completes (and again after a restored session),
    /// and keeps the copy current from every user event about them it sees: get_user and
    /// edit_user results and events, also from the user's other sessions. Should that fetch
    /// have failed, the user carries only its name (`im_id` 0) until such an event arrives.
    pub fn get_me_user(&self) -> Option<User> {
        let shared = &self.client.shared;
        let name = shared
            .me
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        let cached = shared
            .me_user
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|u| u.name.eq_ignore_ascii_case(&name));
        Some(cached.unwrap_or(User {
            name,
            ..Default::default()
        }))
    }

    pub fn get_user_by_name_cb(
        &self,
        name: &str,
        cb: impl FnOnce(Result<UserEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::user_name(name).map(|_| Request::GetUser(UserRef::by_name(name)));
        self.send(r, Expect::One, cb)
    }

    /// A user by `username@appname.accname`.
    pub async fn get_user_by_name(&self, name: &str) -> Result<UserEvent> {
        wait(|cb| self.get_user_by_name_cb(name, cb)).await
    }

    pub fn get_user_by_im_id_cb(
        &self,
        id: UserId,
        cb: impl FnOnce(Result<UserEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::user_id(id).map(|_| Request::GetUser(UserRef::by_id(id)));
        self.send(r, Expect::One, cb)
    }

    /// A user by IM id.
    pub async fn get_user_by_im_id(&self, id: UserId) -> Result<UserEvent> {
        wait(|cb| self.get_user_by_im_id_cb(id, cb)).await
    }

    pub fn get_users_by_name_cb(
        &self,
        names: &[&str],
        cb: impl FnOnce(Result<Vec<UserEvent>>) + Send + 'static,
    ) -> OperationId {
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let r = validate::user_names(&names).map(|_| {
            Request::GetUsers(GetUsers {
                users: names.iter().map(|n| UserRef::by_name(n.clone())).collect(),
            })
        });
        self.send(r, Expect::UsersByName(names), cb)
    }

    /// Up to 50 users by name, in the order asked.
    pub async fn get_users_by_name(&self, names: &[&str]) -> Result<Vec<UserEvent>> {
        wait(|cb| self.get_users_by_name_cb(names, cb)).await
    }

    pub fn get_users_by_im_id_cb(
        &self,
        ids: &[UserId],
        cb: impl FnOnce(Result<Vec<UserEvent>>) + Send + 'static,
    ) -> OperationId {
        let r = validate::user_ids(ids).map(|_| {
            Request::GetUsers(GetUsers {
                users: ids.iter().map(|&i| UserRef::by_id(i)).collect(),
            })
        });
        self.send(r, Expect::UsersById(ids.to_vec()), cb)
    }

    /// Up to 50 users by IM id, in the order asked.
    pub async fn get_users_by_im_id(&self, ids: &[UserId]) -> Result<Vec<UserEvent>> {
        wait(|cb| self.get_users_by_im_id_cb(ids, cb)).await
    }

    pub fn edit_user_cb(
        &self,
        custom_data: Option<JsonObject>,
        private_custom_data: Option<JsonObject>,
        cb: impl FnOnce(Result<UserEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::user_data(custom_data.as_ref())
            .and_then(|_| validate::user_data(private_custom_data.as_ref()))
            .and_then(|_| {
                if custom_data.is_none() && private_custom_data.is_none() {
                    Err(Error::invalid(
                        "edit_user needs custom data, private custom data, or both",
                    ))
                } else {
                    Ok(())
                }
            })
            .map(|_| {
                Request::EditUser(EditUser {
                    custom_data,
                    private_custom_data,
                })
            });
        self.send(r, Expect::One, cb)
    }

    /// Edit the current user's custom data: `None` leaves a field unchanged, an empty object
    /// clears it.
    pub async fn edit_user(
        &self,
        custom_data: Option<JsonObject>,
        private_custom_data: Option<JsonObject>,
    ) -> Result<UserEvent> {
        wait(|cb| self.edit_user_cb(custom_data, private_custom_data, cb)).await
    }

    pub fn set_status_cb(
        &self,
        online: bool,
        cb: impl FnOnce(Result<StatusEvent>) + Send + 'static,
    ) -> OperationId {
        self.send(
            Ok(Request::SetStatus(PresenceMessage { online })),
            Expect::One,
            cb,
        )
    }

    /// Set the current user's presence; subscribers get a `SetStatus` event.
    pub async fn set_status(&self, online: bool) -> Result<StatusEvent> {
        wait(|cb| self.set_status_cb(online, cb)).await
    }

    pub fn subscribe_cb(
        &self,
        ids: &[UserId],
        cb: impl FnOnce(Result<SubscriptionEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::user_ids(ids)
            .map(|_| Request::Subscribe(ManageSubscribes::users(ids.to_vec())));
        self.send(r, Expect::One, cb)
    }

    /// Subscribe to the status and user edits of these users.
    pub async fn subscribe(&self, ids: &[UserId]) -> Result<SubscriptionEvent> {
        wait(|cb| self.subscribe_cb(ids, cb)).await
    }

    pub fn unsubscribe_cb(
        &self,
        ids: &[UserId],
        cb: impl FnOnce(Result<SubscriptionEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::user_ids(ids)
            .map(|_| Request::Unsubscribe(ManageSubscribes::users(ids.to_vec())));
        self.send(r, Expect::One, cb)
    }

    pub async fn unsubscribe(&self, ids: &[UserId]) -> Result<SubscriptionEvent> {
        wait(|cb| self.unsubscribe_cb(ids, cb)).await
    }

    pub fn unsubscribe_from_all_cb(
        &self,
        cb: impl FnOnce(Result<SubscriptionEvent>) + Send + 'static,
    ) -> OperationId {
        self.send(
            Ok(Request::Unsubscribe(ManageSubscribes::all())),
            Expect::One,
            cb,
        )
    }

    pub async fn unsubscribe_from_all(&self) -> Result<SubscriptionEvent> {
        wait(|cb| self.unsubscribe_from_all_cb(cb)).await
    }

    pub fn get_subscriptions_cb(
        &self,
        cb: impl FnOnce(Result<SubscriptionEvent>) + Send + 'static,
    ) -> OperationId {
        self.send(Ok(Request::GetSubscriptionList(Empty {})), Expect::One, cb)
    }

    /// The users the current user is subscribed to.
    pub async fn get_subscriptions(&self) -> Result<SubscriptionEvent> {
        wait(|cb| self.get_subscriptions_cb(cb)).await
    }

    pub fn manage_push_notifications_cb(
        &self,
        notifications: &[MessengerNotification],
        cb: impl FnOnce(Result<UserEvent>) + Send + 'static,
    ) -> OperationId {
        let r = Ok(Request::ManageNotification(ManageNotifications {
            notifications: notifications
                .iter()
                .map(|n| Some(n.wire_name().to_owned()))
                .collect(),
        }));
        self.send(r, Expect::One, cb)
    }

    /// Choose which events reach this user as push notifications (an empty list: none).
    pub async fn manage_push_notifications(
        &self,
        notifications: &[MessengerNotification],
    ) -> Result<UserEvent> {
        wait(|cb| self.manage_push_notifications_cb(notifications, cb)).await
    }

    // ---------------------------------------------------------------------------------------
    // Conversations
    // ---------------------------------------------------------------------------------------

    pub fn create_conversation_cb(
        &self,
        config: ConversationConfig,
        cb: impl FnOnce(Result<ConversationEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::conversation_config(&config).map(|_| {
            Request::CreateConversation(CreateConversation::new(
                config.participants.iter().map(|p| p.to_wire()).collect(),
                config.title,
                config.direct,
                config.public_join,
                Some(config.uber),
                config.custom_data,
            ))
        });
        self.send(r, Expect::One, cb)
    }

    /// Create a conversation. Participants with no permission get write, edit and remove.
    pub async fn create_conversation(
        &self,
        config: ConversationConfig,
    ) -> Result<ConversationEvent> {
        wait(|cb| self.create_conversation_cb(config, cb)).await
    }

    pub fn get_conversation_cb(
        &self,
        uuid: &str,
        cb: impl FnOnce(Result<ConversationEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::uuid(uuid).map(|_| Request::GetConversation(ConversationRef::new(uuid)));
        self.send(r, Expect::One, cb)
    }

    pub async fn get_conversation(&self, uuid: &str) -> Result<ConversationEvent> {
        wait(|cb| self.get_conversation_cb(uuid, cb)).await
    }

    pub fn get_conversations_cb(
        &self,
        uuids: &[&str],
        cb: impl FnOnce(Result<Vec<ConversationEvent>>) + Send + 'static,
    ) -> OperationId {
        let uuids: Vec<String> = uuids.iter().map(|s| (*s).to_owned()).collect();
        let r = validate::uuids(&uuids).map(|_| {
            Request::GetConversations(GetConversations {
                uuid: uuids.clone(),
            })
        });
        self.send(r, Expect::Conversations(uuids), cb)
    }

    /// Up to 30 conversations, in the order asked.
    pub async fn get_conversations(&self, uuids: &[&str]) -> Result<Vec<ConversationEvent>> {
        wait(|cb| self.get_conversations_cb(uuids, cb)).await
    }

    pub fn get_public_conversations_cb(
        &self,
        cb: impl FnOnce(Result<ConversationListEvent>) + Send + 'static,
    ) -> OperationId {
        self.send(
            Ok(Request::GetPublicConversations(Empty {})),
            Expect::One,
            cb,
        )
    }

    /// The uuids of every public conversation.
    pub async fn get_public_conversations(&self) -> Result<ConversationListEvent> {
        wait(|cb| self.get_public_conversations_cb(cb)).await
    }

    pub fn join_conversation_cb(
        &self,
        uuid: &str,
        cb: impl FnOnce(Result<ConversationEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::uuid(uuid).map(|_| Request::JoinConversation(ConversationRef::new(uuid)));
        self.send(r, Expect::One, cb)
    }

    pub async fn join_conversation(&self, uuid: &str) -> Result<ConversationEvent> {
        wait(|cb| self.join_conversation_cb(uuid, cb)).await
    }

    pub fn leave_conversation_cb(
        &self,
        uuid: &str,
        cb: impl FnOnce(Result<ConversationEvent>) + Send + 'static,
    ) -> OperationId {
        let r =
            validate::uuid(uuid).map(|_| Request::LeaveConversation(ConversationRef::new(uuid)));
        self.send(r, Expect::One, cb)
    }

    pub async fn leave_conversation(&self, uuid: &str) -> Result<ConversationEvent> {
        wait(|cb| self.leave_conversation_cb(uuid, cb)).await
    }

    /// A conversation object from values the application cached earlier (no network).
    pub fn recreate_conversation(
        &self,
        config: ConversationConfig,
        uuid: &str,
        last_sequence: u64,
        last_update_time: i64,
        created_time: i64,
    ) -> Result<Conversation> {
        validate::uuid(uuid)?;
        validate::custom_data(&config.custom_data)?;
        Ok(Conversation::from_data(
            self.clone(),
            ConversationData {
                uuid: uuid.to_owned(),
                title: config.title,
                direct: config.direct,
                public_join: config.public_join,
                uber: config.uber,
                custom_data: config.custom_data,
                participants: config.participants,
                created_time,
                last_update_time,
                last_sequence,
            },
        ))
    }

    /// A message object from values the application cached earlier (no network).
    pub fn recreate_message(
        &self,
        uuid: &str,
        conversation: &str,
        text: &str,
        payload: Vec<JsonObject>,
        sequence: u64,
    ) -> Result<Message> {
        validate::uuid(uuid)?;
        validate::uuid(conversation)?;
        Ok(Message::from_data(
            self.clone(),
            MessageData {
                uuid: uuid.to_owned(),
                conversation: conversation.to_owned(),
                text: text.to_owned(),
                payload,
                sender: 0,
                sequence,
            },
        ))
    }
}

impl Conversation {
    pub(crate) fn from_data(messenger: Messenger, data: ConversationData) -> Self {
        Conversation { messenger, data }
    }

    /// The messenger (and so the client) this conversation belongs to.
    pub fn messenger(&self) -> &Messenger {
        &self.messenger
    }

    pub fn data(&self) -> &ConversationData {
        &self.data
    }

    pub fn uuid(&self) -> &str {
        &self.data.uuid
    }

    /// Set the title locally; [`update`](Self::update) sends it.
    pub fn set_title(&mut self, title: impl Into<String>) {
        self.data.title = title.into();
    }

    /// Set public join locally; [`update`](Self::update) sends it.
    pub fn set_public_join(&mut self, public_join: bool) {
        self.data.public_join = public_join;
    }

    /// Set the custom data locally; [`update`](Self::update) sends it.
    pub fn set_custom_data(&mut self, custom_data: JsonObject) {
        self.data.custom_data = custom_data;
    }

    pub fn update_cb(
        &self,
        cb: impl FnOnce(Result<ConversationEvent>) + Send + 'static,
    ) -> OperationId {
        let d = &self.data;
        let r = validate::uuid(&d.uuid)
            .and_then(|_| validate::custom_data(&d.custom_data))
            .map(|_| {
                Request::EditConversation(EditConversation::new(
                    d.uuid.clone(),
                    d.title.clone(),
                    d.public_join,
                    d.custom_data.clone(),
                ))
            });
        self.messenger.send(r, Expect::One, cb)
    }

    /// Send the title, public join and custom data (all three, as the SDKs do).
    pub async fn update(&self) -> Result<ConversationEvent> {
        wait(|cb| self.update_cb(cb)).await
    }

    fn participants_request(
        &self,
        participants: &[ConversationParticipant],
        add: bool,
    ) -> Result<Request> {
        validate::uuid(&self.data.uuid)?;
        validate::participants(participants)?;
        let m = ManageParticipants {
            uuid: self.data.uuid.clone(),
            participants: participants.iter().map(|p| p.to_wire()).collect(),
        };
        Ok(if add {
            Request::AddParticipants(m)
        } else {
            Request::EditParticipants(m)
        })
    }

    pub fn add_participants_cb(
        &self,
        participants: &[ConversationParticipant],
        cb: impl FnOnce(Result<ConversationEvent>) + Send + 'static,
    ) -> OperationId {
        self.messenger.send(
            self.participants_request(participants, true),
            Expect::One,
            cb,
        )
    }

    pub async fn add_participants(
        &self,
        participants: &[ConversationParticipant],
    ) -> Result<ConversationEvent> {
        wait(|cb| self.add_participants_cb(participants, cb)).await
    }

    pub fn edit_participants_cb(
        &self,
        participants: &[ConversationParticipant],
        cb: impl FnOnce(Result<ConversationEvent>) + Send + 'static,
    ) -> OperationId {
        self.messenger.send(
            self.participants_request(participants, false),
            Expect::One,
            cb,
        )
    }

    pub async fn edit_participants(
        &self,
        participants: &[ConversationParticipant],
    ) -> Result<ConversationEvent> {
        wait(|cb| self.edit_participants_cb(participants, cb)).await
    }

    pub fn remove_participants_cb(
        &self,
        participants: &[ConversationParticipant],
        cb: impl FnOnce(Result<ConversationEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::uuid(&self.data.uuid)
            .and_then(|_| validate::participants(participants))
            .map(|_| {
                Request::RemoveParticipants(RemoveParticipants {
                    uuid: self.data.uuid.clone(),
                    participants: participants.iter().map(|p| p.im_user_id).collect(),
                })
            });
        self.messenger.send(r, Expect::One, cb)
    }

    pub async fn remove_participants(
        &self,
        participants: &[ConversationParticipant],
    ) -> Result<ConversationEvent> {
        wait(|cb| self.remove_participants_cb(participants, cb)).await
    }

    pub fn typing_cb(
        &self,
        cb: impl FnOnce(Result<ConversationServiceEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::uuid(&self.data.uuid).and_then(|_| {
            let shared = &self.messenger.client.shared;
            let mut t = shared.typing.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            match t.get(&self.data.uuid) {
                Some(&last) if now.duration_since(last) < TYPING_INTERVAL => {
                    Err(Error::CallDiscarded)
                }
                _ => {
                    t.insert(self.data.uuid.clone(), now);
                    Ok(Request::TypingMessage(TypingMessage {
                        conversation: self.data.uuid.clone(),
                    }))
                }
            }
        });
        self.messenger.send(r, Expect::One, cb)
    }

    /// Tell the participants that the user is typing. Calls within 10 s of the last one are
    /// discarded with [`Error::CallDiscarded`] and send nothing.
    pub async fn typing(&self) -> Result<ConversationServiceEvent> {
        wait(|cb| self.typing_cb(cb)).await
    }

    pub fn send_message_cb(
        &self,
        text: &str,
        payload: Vec<JsonObject>,
        cb: impl FnOnce(Result<MessageEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::uuid(&self.data.uuid)
            .and_then(|_| validate::message(text, &payload))
            .map(|_| {
                Request::SendMessage(SendMessage::new(
                    self.data.uuid.clone(),
                    Some(text.to_owned()),
                    payload,
                ))
            });
        self.messenger.send(r, Expect::One, cb)
    }

    /// Send a message (text up to 5000 characters and/or a payload of JSON objects).
    pub async fn send_message(&self, text: &str, payload: Vec<JsonObject>) -> Result<MessageEvent> {
        wait(|cb| self.send_message_cb(text, payload, cb)).await
    }

    pub fn mark_as_read_cb(
        &self,
        sequence: u64,
        cb: impl FnOnce(Result<ConversationServiceEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::uuid(&self.data.uuid).map(|_| {
            Request::IsRead(StatusMessage {
                conversation: self.data.uuid.clone(),
                seq: sequence,
                status: None,
            })
        });
        self.messenger.send(r, Expect::One, cb)
    }

    /// Mark events up to `sequence` as read; participants get a `Read` event.
    pub async fn mark_as_read(&self, sequence: u64) -> Result<ConversationServiceEvent> {
        wait(|cb| self.mark_as_read_cb(sequence, cb)).await
    }

    fn retransmit(
        &self,
        r: Result<RetransmitRequest>,
        cb: impl FnOnce(Result<RetransmitEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::uuid(&self.data.uuid)
            .and(r)
            .map(Request::RetransmitEvents);
        self.messenger.send(r, Expect::Retransmit, cb)
    }

    pub fn retransmit_events_cb(
        &self,
        from: u64,
        to: u64,
        cb: impl FnOnce(Result<RetransmitEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::retransmit_range(from, to)
            .map(|_| RetransmitRequest::range(self.data.uuid.clone(), from, to));
        self.retransmit(r, cb)
    }

    /// The events `from..=to` (at most 100).
    pub async fn retransmit_events(&self, from: u64, to: u64) -> Result<RetransmitEvent> {
        wait(|cb| self.retransmit_events_cb(from, to, cb)).await
    }

    pub fn retransmit_events_from_cb(
        &self,
        from: u64,
        count: u64,
        cb: impl FnOnce(Result<RetransmitEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::retransmit_count(from, count)
            .map(|_| RetransmitRequest::from_seq(self.data.uuid.clone(), from, count));
        self.retransmit(r, cb)
    }

    /// Up to `count` (≤ 100) events from `from` on.
    pub async fn retransmit_events_from(&self, from: u64, count: u64) -> Result<RetransmitEvent> {
        wait(|cb| self.retransmit_events_from_cb(from, count, cb)).await
    }

    pub fn retransmit_events_to_cb(
        &self,
        to: u64,
        count: u64,
        cb: impl FnOnce(Result<RetransmitEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::retransmit_count(to, count)
            .map(|_| RetransmitRequest::to_seq(self.data.uuid.clone(), to, count));
        self.retransmit(r, cb)
    }

    /// Up to `count` (≤ 100) events up to `to`.
    pub async fn retransmit_events_to(&self, to: u64, count: u64) -> Result<RetransmitEvent> {
        wait(|cb| self.retransmit_events_to_cb(to, count, cb)).await
    }
}

impl Message {
    pub(crate) fn from_data(messenger: Messenger, data: MessageData) -> Self {
        Message { messenger, data }
    }

    /// The messenger (and so the client) this message belongs to.
    pub fn messenger(&self) -> &Messenger {
        &self.messenger
    }

    pub fn data(&self) -> &MessageData {
        &self.data
    }

    pub fn uuid(&self) -> &str {
        &self.data.uuid
    }

    pub fn text(&self) -> &str {
        &self.data.text
    }

    pub fn update_cb(
        &self,
        text: &str,
        payload: Vec<JsonObject>,
        cb: impl FnOnce(Result<MessageEvent>) + Send + 'static,
    ) -> OperationId {
        let r = validate::uuid(&self.data.uuid)
            .and_then(|_| validate::uuid(&self.data.conversation))
            .and_then(|_| validate::message(text, &payload))
            .map(|_| {
                Request::EditMessage(EditMessage::new(
                    self.data.uuid.clone(),
                    self.data.conversation.clone(),
                    Some(text.to_owned()),
                    payload,
                ))
            });
        self.messenger.send(r, Expect::One, cb)
    }

    /// Replace the text and payload of the message.
    pub async fn update(&self, text: &str, payload: Vec<JsonObject>) -> Result<MessageEvent> {
        wait(|cb| self.update_cb(text, payload, cb)).await
    }

    pub fn remove_cb(&self, cb: impl FnOnce(Result<MessageEvent>) + Send + 'static) -> OperationId {
        let r = validate::uuid(&self.data.uuid)
            .and_then(|_| validate::uuid(&self.data.conversation))
            .map(|_| {
                Request::RemoveMessage(RemoveMessage {
                    uuid: self.data.uuid.clone(),
                    conversation: self.data.conversation.clone(),
                })
            });
        self.messenger.send(r, Expect::One, cb)
    }

    /// Remove the message.
    pub async fn remove(&self) -> Result<MessageEvent> {
        wait(|cb| self.remove_cb(cb)).await
    }
}
