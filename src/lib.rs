//! # vox-messenger
//!
//! A native SDK for the Voximplant Messenger: it speaks the wire protocol of the official Web SDK
//! 4.13 (`version=5` session layer, login RPCs, IM gen 2 messaging) to Voximplant's cloud or to
//! `vox-messenger-server`.
//!
//! ```no_run
//! # async fn demo() -> vox_messenger::Result<()> {
//! use vox_messenger::{Client, ClientConfig, MessengerEventType};
//! let client = Client::new(ClientConfig::new("ws://127.0.0.1:8080"))?;
//! client.connect().await?;
//! client.login("user1@app.acc.voximplant.com", "secret").await?;
//! let messenger = client.messenger();
//! messenger.on(MessengerEventType::SendMessage, |ev| println!("{ev:?}"));
//! let me = messenger.get_user_by_name(&messenger.get_me().unwrap()).await?;
//! println!("I am {}", me.user.display_name);
//! # Ok(()) }
//! ```
//!
//! ## Layers
//!
//! * [`transport`] — WebSocket (`ws://`, `wss://` with rustls: the operating system's trust store
//!   by default, or the bundled Mozilla roots, a custom CA, or a pinned certificate), one task
//!   per socket.
//! * `client` — [`Client`]: one *connection actor* per client (a tokio task) drives the sans-I/O
//!   session machine of `vox_protocol::session` (seq, ACKs, pings every 2 s, un-ACKed buffer),
//!   reconnects and resumes with the Web SDK's schedule plus jitter, logs in, and correlates
//!   requests with their replies.
//! * `messenger` — [`Messenger`], [`Conversation`], [`Message`] and the events.
//! * [`runtime`] — the library's tokio runtime and its ONE callback thread.
//!
//! ## Threading and callbacks (the contract the C ABI relies on)
//!
//! * Handles ([`Client`], [`Messenger`], [`Conversation`], [`Message`]) are `Send + Sync` and cheap
//!   to clone; any method may be called from any thread, including from inside a callback.
//! * Every network call comes in two forms with the same semantics:
//!   `xxx_cb(args, callback) -> OperationId` and `async fn xxx(args)`. The async form is a thin
//!   wrapper over the callback form.
//! * Every callback — completions and listeners alike — runs on the SDK's single callback thread
//!   ([`runtime::is_callback_thread`]), exactly once for completions, never inside the call
//!   that started it (a locally rejected call completes on that thread too), never while the
//!   SDK holds a lock.
//! * Order: the connection actor queues events and completions in the order the server produced
//!   them; listeners of an event run before the completion the same frame settles. An awaited
//!   future resolves after its completion has passed through the callback thread, so everything
//!   delivered before it has already been seen by the listeners.
//! * A callback must not block waiting for another SDK completion (that completion needs the
//!   callback thread): from a callback, use the `_cb` forms or hand the future to an executor.
//! * [`Client::cancel`] completes a pending call with [`Error::Cancelled`].
//!
//! ## Reconnect, resume and restore
//!
//! * A lost socket: state `Reconnecting`, then the session is **resumed** on a new socket by its
//!   connection id (the server keeps it 60 s) and every un-ACKed frame is retransmitted by both
//!   sides: nothing is lost, `ClientEvent::Reconnected`.
//! * The server cannot resume it (it restarted, or the resume window expired) or ends it with
//!   `close` (shutdown): the SDK **restores** the session. It opens a new one and logs in with
//!   the access token of the last login (after a 701, once more with a refreshed token; the
//!   password is never kept), then resends every request that has not completed with its
//!   original `request_uuid` (the server executes each write once), fetches with
//!   `retransmitEvents` the events it missed in every conversation it has delivered a seq of,
//!   and repeats the last `setStatus(true)`. `ClientEvent::SessionRestored`, state `LoggedIn`.
//! * Every event that takes a conversation seq is delivered **once, in seq order** per
//!   conversation: one at or below the highest seq already delivered is not delivered again
//!   (the completion of the request it answers still runs), and a conversation's live events
//!   wait while its gap is being filled. Events without a seq (typing, read marks, presence)
//!   sent while the client was away are lost across a restore.
//! * The tokens are refused (e.g. the password changed, which revokes them): state `Closed`,
//!   `ClientEvent::ConnectionClosed`, and every pending call fails with
//!   [`Error::LoginFailed`]. No token (never logged in by password, one-time key or token), or
//!   the reconnect schedule exhausted: `Closed`, pending calls fail with
//!   [`Error::ConnectionClosed`]. Request timeouts (20 s) run throughout.
//!
//! ## Errors
//!
//! One [`Error`] type with a stable numeric [`Error::code`]: messenger codes keep the protocol's
//! numbers, login failures the `loginFailed` code, local rejections 10001 (or 28), timeouts 10002.
//!
//! ## Logging
//!
//! `tracing` events throughout (targets `vox_messenger::…`); passwords, digests, hashes and
//! tokens are never logged, and the `Debug` forms of tokens and login options mask them. Note:
//! the WebSocket dependency (`tungstenite`) logs whole frames at TRACE level through the `log`
//! crate; do not enable TRACE for the `tungstenite` targets in production.

mod client;
mod error;
pub mod ffi;
mod messenger;
pub mod runtime;
pub mod transport;

pub use client::{
    AuthResult, Callback, Client, ClientConfig, ClientEvent, ClientState, CredentialType,
    ListenerId, LoginFailureCode, LoginOptions, LoginTokens, OperationId,
};
pub use error::{Error, Result};
pub use messenger::{
    Conversation, ConversationConfig, ConversationData, ConversationEvent, ConversationListEvent,
    ConversationParticipant, ConversationServiceEvent, ErrorEvent, JsonObject, Message,
    MessageData, MessageEvent, Messenger, MessengerEvent, MessengerEventType,
    MessengerNotification, RetransmitEvent, RetransmittedEvent, StatusEvent, SubscriptionEvent,
    TYPING_INTERVAL, User, UserEvent, UserId,
};
pub use transport::{ReconnectPolicy, TlsTrust};
pub use vox_protocol::messaging::{Action, ErrorCode};

pub use messenger::limits;

#[cfg(test)]
mod contract {
    //! Compile-time checks of the contract the C ABI relies on.
    use super::*;

    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    fn send<F: Send>(_: F) {}

    #[test]
    fn handles_and_values_are_send_sync_and_clone() {
        send_sync::<Client>();
        send_sync::<Messenger>();
        send_sync::<Conversation>();
        send_sync::<Message>();
        send_sync::<MessengerEvent>();
        send_sync::<ClientEvent>();
        send_sync::<Error>();
    }

    #[test]
    fn futures_are_send() {
        let c = Client::new(ClientConfig::new("ws://127.0.0.1:9")).unwrap();
        let m = c.messenger();
        send(c.connect());
        send(c.login("u", "p"));
        send(m.get_user_by_im_id(1));
        send(m.get_conversations(&["x"]));
    }
}
