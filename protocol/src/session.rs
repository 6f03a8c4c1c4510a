//! The `version=5` session layer as a sans-I/O state machine (API skeleton — see the helper spec).
//!
//! Both ends drive the same machine: the server with [`Role::Server`], the SDK with [`Role::Client`].
//! The driver owns the socket and the clock: it feeds decoded text frames with
//! [`Session::handle_text`], timer expiries with [`Session::handle_timeout`], transport changes with
//! [`Session::transport_up`] / [`Session::transport_down`], and application payloads with
//! [`Session::send`]. It then drains [`Session::poll_transmit`] (text frames to write, in order),
//! [`Session::poll_event`] (what happened) and asks [`Session::poll_timeout`] when to wake up next.

use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::frames::CloseCode;

/// Which end of the connection this machine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
}

/// Tunables. Use [`SessionConfig::client`] / [`SessionConfig::server`] for the Web SDK's values.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub role: Role,
    /// How long a received `msg` may wait for our cumulative `ack`. Zero = ACK in the next
    /// [`Session::poll_transmit`] (coalescing everything handled before it). Web SDK client: 5 s.
    pub ack_delay: Duration,
    /// ACK at once when this many received frames are un-ACKed. Web SDK client: 50.
    pub ack_every: u64,
    /// If the oldest `msg` we transmitted stays un-ACKed this long, emit
    /// [`SessionEvent::Failed`] with [`CloseCode::Timeout`]. Web SDK client: 6 s. `None`: never.
    pub ack_timeout: Option<Duration>,
    /// Send `{"name":"__ping"}` this often while established. Web SDK client: 2 s. `None`: never.
    pub ping_interval: Option<Duration>,
    /// Bound on the un-ACKed outgoing buffer (frames). [`Session::send`] fails beyond it.
    pub max_unacked_frames: usize,
    /// Bound on the un-ACKed outgoing buffer (payload bytes). [`Session::send`] fails beyond it.
    pub max_unacked_bytes: usize,
}

impl SessionConfig {
    pub fn client() -> Self {
        todo!()
    }
    pub fn server() -> Self {
        todo!()
    }
}

/// What the driver learns from the machine.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// Client only: the server's `id` frame (first one, or on a resume).
    ConnectionId(String),
    /// The `lastrx` exchange completed on the current transport; `resumed` is false on the first
    /// transport of the logical connection.
    Established { resumed: bool },
    /// A `msg` payload from the peer, in order, exactly once.
    Message { seq: u64, payload: Box<RawValue> },
    /// The peer sent `close`; we have queued its ACK. The driver should close the socket
    /// (client: with 4003) once it has flushed `poll_transmit`.
    PeerClosed,
    /// Our `close` was ACKed by the peer: the logical connection is over.
    Closed,
    /// `{"type":"error"}` received (client): this server refuses the connection/resume.
    Refused,
    /// The session broke: the driver must close the socket with `code` (4001 wrong seq, 4004 ACK
    /// timeout, 4002 for a protocol violation). A client then resumes; the server keeps the
    /// session for resume.
    Failed { code: CloseCode, reason: String },
}

/// Errors returned synchronously to the driver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("un-ACKed buffer full ({frames} frames, {bytes} bytes)")]
    BufferFull { frames: usize, bytes: usize },
    #[error("session is closed")]
    Closed,
}

/// The state machine. See the module docs.
pub struct Session {
    _private: (),
}

impl Session {
    /// A new logical connection. A server session knows its `connection_id` up front.
    pub fn new(config: SessionConfig, connection_id: Option<String>, now: Instant) -> Self {
        let _ = (config, connection_id, now);
        todo!()
    }
    /// A socket is open (new or resumed). Server: queues `{"type":"id"}` and waits for `lastrx`.
    /// Client: waits for `id`, then sends `lastrx`.
    pub fn transport_up(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }
    /// The socket is gone. Outgoing payloads keep accumulating (bounded) until the next transport.
    pub fn transport_down(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }
    /// One text frame from the socket.
    pub fn handle_text(&mut self, text: &str, now: Instant) {
        let _ = (text, now);
        todo!()
    }
    /// Queue an application payload (raw JSON). Returns its seq.
    pub fn send(&mut self, payload: Arc<str>, now: Instant) -> Result<u64, SessionError> {
        let _ = (payload, now);
        todo!()
    }
    /// Start the graceful close (`{"type":"close","seq":N}`).
    pub fn close(&mut self, now: Instant) -> Result<u64, SessionError> {
        let _ = now;
        todo!()
    }
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
    pub fn poll_transmit(&mut self) -> Option<String> {
        todo!()
    }
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        todo!()
    }
    pub fn is_established(&self) -> bool {
        todo!()
    }
    pub fn connection_id(&self) -> Option<&str> {
        todo!()
    }
    /// Seq of the last `msg`/`close` received from the peer.
    pub fn last_received(&self) -> u64 {
        todo!()
    }
    /// (frames, bytes) currently un-ACKed by the peer.
    pub fn unacked(&self) -> (usize, usize) {
        todo!()
    }
}
