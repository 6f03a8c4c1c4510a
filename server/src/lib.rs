//! # vox-messenger-server
//!
//! A self-hostable Messenger server that speaks the wire protocol of Voximplant's cloud
//! (`version=5` session layer, `{name, params}` RPCs, the `chat` messaging service), so that both
//! the official Voximplant Web SDK and the native vox-messenger SDK can log in and chat through it.

pub mod admin;
pub mod cli;
pub mod store;
