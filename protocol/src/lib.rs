//! # vox-protocol
//!
//! The wire protocol of the Voximplant Messenger, as the official Web SDK 4.13 speaks it, written once
//! and used by both the server (`vox-messenger-server`) and the native SDK (`vox-messenger`).
//!
//! Nothing in this crate performs I/O. It is organised in layers:
//!
//! * [`frames`] — the session-layer frames of `version=5` (`id`, `lastrx`, `msg`, `ack`, `close`,
//!   `error`) and their exact JSON encoding.
//! * [`session`] — the sans-I/O session state machine (sequence numbers, cumulative ACKs, the
//!   un-ACKed buffer, resume, pings, timeouts). Frames and timer ticks go in; frames to send and
//!   events come out. The server and the SDK both drive it.
//! * [`rpc`] — the `{name, params}` payloads (login variants, `loginSuccessful`, `__ping`, …).
//! * [`auth`] — password digests (MD5 / SHA-256) and the one-time-key hash.
//! * [`messaging`] — the messaging envelope (`service`, `event`, `payload`, `request_uuid`,
//!   `@type`), actions, events, objects, error codes and permission flags.

pub mod auth;
pub mod frames;
pub mod messaging;
pub mod rpc;
pub mod session;

pub use frames::{CloseCode, Frame, FrameError};
