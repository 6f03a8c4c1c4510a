//! # vox-messenger-server
//!
//! A self-hostable Messenger server that speaks the wire protocol of Voximplant's cloud
//! (`version=5` session layer, `{name, params}` RPCs, the `chat` messaging service), so that both
//! the official Voximplant Web SDK and the native vox-messenger SDK can log in and chat through it.
//!
//! Map: [`config`] (flags/env/TOML) → [`server`] (start/stop) → [`gateway`] (listeners, TLS,
//! `/platform`, static files) → [`connection`] (one task per logical connection driving
//! `vox_protocol::session`) → [`auth`] (login variants, tokens, rate limits) → [`store`]
//! (SQLite behind the [`store::Store`] interface). [`admin`] and [`cli`] provision accounts,
//! applications and users.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod connection;
pub mod gateway;
pub mod messaging;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
