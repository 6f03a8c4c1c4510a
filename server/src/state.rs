//! State shared by every connection of one server process.

use crate::auth::AuthService;
use crate::config::Config;
use crate::connection::Registry;
use crate::messaging::Messenger;
use crate::store::Store;
use std::sync::Arc;
use tokio::sync::watch;

pub struct Shared {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub auth: AuthService,
    pub connections: Registry,
    pub messenger: Arc<Messenger>,
    /// Flips to true when the server shuts down: connections then close gracefully.
    pub shutdown: watch::Receiver<bool>,
}
