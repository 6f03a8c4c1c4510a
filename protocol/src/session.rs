//! The `version=5` session layer as a sans-I/O state machine.
//!
//! Both ends drive the same machine: the server with [`Role::Server`], the SDK with [`Role::Client`].
//! The driver owns the socket and the clock: it feeds decoded text frames with
//! [`Session::handle_text`], timer expiries with [`Session::handle_timeout`], transport changes with
//! [`Session::transport_up`] / [`Session::transport_down`], and application payloads with
//! [`Session::send`]. It then drains [`Session::poll_transmit`] (text frames to write, in order),
//! [`Session::poll_event`] (what happened) and asks [`Session::poll_timeout`] when to wake up next.
//! The driver should drain `poll_transmit` after every call that feeds the machine: an
//! immediate ACK is produced there and has no deadline of its own.
//!
//! # Model
//!
//! A *logical connection* outlives its sockets (*transports*). Each direction numbers its `msg`
//! and `close` frames 1, 2, 3, … for the whole logical connection. Every numbered frame we send
//! stays in the *un-ACKed buffer* until the peer acknowledges it, either with a cumulative `ack`
//! or, after a transport change, with its `lastrx` (the last seq it received). On every new
//! transport the two ends swap `lastrx` values and each resends, in order, whatever the other has
//! not seen; numbered frames queued while no transport was established go out at that moment.
//!
//! Handshake on each transport:
//!
//! ```text
//! server                               client
//!   transport_up: → {"type":"id"}        transport_up: wait for id
//!                                        id → ConnectionId; → {"type":"lastrx","seq":rx}
//!   lastrx → drop ≤ n; → lastrx;         lastrx → drop ≤ m; resend > m;
//!            resend > n; Established              Established
//! ```
//!
//! # Strictness
//!
//! Every violation ends the current transport with [`SessionEvent::Failed`]; the machine then
//! ignores input and produces no frames until [`Session::transport_down`]. Nothing in the
//! un-ACKed buffer is lost, so a resume on a new transport carries on where the peer stopped.
//!
//! * A `msg`/`close` whose seq is not exactly last+1 (gaps and duplicates alike): 4001
//!   [`CloseCode::WrongSeq`], as the Web SDK does.
//! * Anything else is reported as 4002 [`CloseCode::ServerError`]: text that does not decode
//!   ([`Frame::decode`]), a frame type the peer may not send (`id`/`error` to a server), a frame out
//!   of place (a second `id`/`lastrx` on one transport; a server receiving `msg`/`close` before the
//!   client's `lastrx`; a client receiving anything but `id`/`error` before `id`; a `msg`/`close`
//!   after the peer's `close`), an `ack` above the highest seq we ever transmitted, and a `lastrx`
//!   that we cannot honour (above what we transmitted, or below what the peer already ACKed — the
//!   frames it asks for are gone).
//! * The client accepts `ack`, `msg` and `close` between its `lastrx` and the server's `lastrx`
//!   (the Web SDK does too); the server accepts an `ack` before the client's `lastrx` (a throttled
//!   client ACK may go out on a new socket before the handshake ends).

use serde_json::value::RawValue;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::frames::{self, CloseCode, Frame};

/// The payload of the keep-alive `msg` (the Web SDK's exact text).
const PING_PAYLOAD: &str = r#"{"name":"__ping"}"#;

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
    /// The window opens at the first un-ACKed receipt; the ACK covers everything received by the
    /// time it is written.
    pub ack_delay: Duration,
    /// ACK at once when this many received frames are un-ACKed. Web SDK client: 50. `0` acts as 1.
    pub ack_every: u64,
    /// While an ACK is held back by `ack_delay`, let it ride along with any other frame we
    /// transmit (it goes out in the same write as a reply, at no extra syscall). Web SDK
    /// client: no (it only ACKs on its 5 s timer or every 50 frames).
    pub ack_with_traffic: bool,
    /// ACK watchdog. The clock starts when a numbered frame is transmitted while none is running,
    /// and every incoming `ack` restarts it (or stops it, once nothing transmitted is
    /// outstanding). If it runs out, emit [`SessionEvent::Failed`] with [`CloseCode::Timeout`].
    /// Web SDK client: 6 s. `None`: never.
    pub ack_timeout: Option<Duration>,
    /// Send `{"name":"__ping"}` this often while established. Web SDK client: 2 s. `None` (or
    /// zero): never. A ping is an ordinary `msg`: it takes a seq and must be ACKed.
    pub ping_interval: Option<Duration>,
    /// Bound on the un-ACKed outgoing buffer (frames). [`Session::send`] fails beyond it.
    pub max_unacked_frames: usize,
    /// Bound on the un-ACKed outgoing buffer (payload bytes). [`Session::send`] fails beyond it.
    pub max_unacked_bytes: usize,
}

impl SessionConfig {
    /// The Web SDK's behaviour: ACKs throttled to one per 5 s (or every 50 frames), a 6 s ACK
    /// watchdog, a ping every 2 s. The buffer bounds (10 000 frames / 64 MiB) only stop a runaway
    /// application from queueing without limit while the connection is down.
    pub fn client() -> Self {
        SessionConfig {
            role: Role::Client,
            ack_delay: Duration::from_secs(5),
            ack_every: 50,
            ack_with_traffic: false,
            ack_timeout: Some(Duration::from_secs(6)),
            ping_interval: Some(Duration::from_secs(2)),
            max_unacked_frames: 10_000,
            max_unacked_bytes: 64 * 1024 * 1024,
        }
    }

    /// What a server needs to serve the Web SDK: every received frame is ACKed within 20 ms —
    /// with the next frame we send (typically the reply, in the same write) or on its own when
    /// the 20 ms run out or 32 frames are waiting (the SDK fails the socket 6 s after an
    /// un-ACKed send) — no ACK watchdog of its own (the SDK ACKs only every 5 s, and the
    /// client's pings keep the socket alive), no pings.
    ///
    /// Holding the ACK back for the reply saves one write per request: at 10 000 requests/s
    /// that was ~6 % of the server's core in `vox-bench`.
    ///
    /// The bounds — 4096 frames / 8 MiB of payload not yet ACKed — cap the memory one logical
    /// connection can hold on the server, including while it waits for a resume; a client that
    /// stops ACKing makes [`Session::send`] fail instead of growing the buffer.
    pub fn server() -> Self {
        SessionConfig {
            role: Role::Server,
            ack_delay: Duration::from_millis(20),
            ack_every: 32,
            ack_with_traffic: true,
            ack_timeout: None,
            ping_interval: None,
            max_unacked_frames: 4096,
            max_unacked_bytes: 8 * 1024 * 1024,
        }
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

/// Where the current transport stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No socket.
    Down,
    /// Client: socket open, waiting for the server's `id`.
    AwaitingId,
    /// Server: `id` queued, waiting for the client's `lastrx`. Client: our `lastrx` queued,
    /// waiting for the server's.
    AwaitingLastRx,
    Established,
    /// A violation or refusal was reported; waiting for the driver's `transport_down`.
    Broken,
}

/// One numbered frame we sent (or will send) and the peer has not acknowledged.
struct Pending {
    seq: u64,
    /// `None` is our `close`.
    payload: Option<Arc<str>>,
}

impl Pending {
    fn bytes(&self) -> usize {
        self.payload.as_ref().map_or(0, |p| p.len())
    }
    fn out(&self) -> OutFrame {
        match &self.payload {
            Some(p) => OutFrame::Msg {
                seq: self.seq,
                payload: p.clone(),
            },
            None => OutFrame::Text(Frame::Close { seq: self.seq }.encode()),
        }
    }
}

/// One text frame to write, as [`Session::poll_transmit_frame`] hands it out: a `msg` is kept
/// as its seq and the shared payload, so that a driver can frame it straight into its write
/// buffer ([`OutFrame::write_to`]) without an intermediate `String` per frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFrame {
    /// An already encoded frame (`id`, `lastrx`, `ack`, `close`).
    Text(String),
    /// `{"type":"msg","seq":<seq>,"payload":<payload>}`.
    Msg { seq: u64, payload: Arc<str> },
}

const MSG_HEAD: &str = r#"{"type":"msg","seq":"#;
const MSG_MID: &str = r#","payload":"#;

impl OutFrame {
    /// Length in bytes of the encoded frame.
    pub fn len(&self) -> usize {
        match self {
            OutFrame::Text(t) => t.len(),
            OutFrame::Msg { seq, payload } => {
                MSG_HEAD.len() + decimal_len(*seq) + MSG_MID.len() + payload.len() + 1
            }
        }
    }

    /// Never true (a frame is at least `{}`); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append the encoded frame (exactly [`OutFrame::len`] bytes) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(payload) = self.write_head_to(out) {
            out.extend_from_slice(payload.as_bytes());
            out.push(b'}');
        }
    }

    /// Append the frame up to its payload to `out`. For a `msg` the payload is returned: the
    /// frame goes on with the payload's bytes and then one `}` (for writing the shared payload
    /// from where it is, e.g. with `writev`). Other frames are appended whole.
    pub fn write_head_to(&self, out: &mut Vec<u8>) -> Option<&Arc<str>> {
        match self {
            OutFrame::Text(t) => {
                out.extend_from_slice(t.as_bytes());
                None
            }
            OutFrame::Msg { seq, payload } => {
                out.extend_from_slice(MSG_HEAD.as_bytes());
                let mut digits = [0u8; 20];
                let mut i = digits.len();
                let mut v = *seq;
                loop {
                    i -= 1;
                    digits[i] = b'0' + (v % 10) as u8;
                    v /= 10;
                    if v == 0 {
                        break;
                    }
                }
                out.extend_from_slice(&digits[i..]);
                out.extend_from_slice(MSG_MID.as_bytes());
                Some(payload)
            }
        }
    }

    /// The encoded frame as a `String`.
    pub fn into_string(self) -> String {
        match self {
            OutFrame::Text(t) => t,
            OutFrame::Msg { seq, payload } => frames::encode_msg(seq, &payload),
        }
    }
}

fn decimal_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// The state machine. See the module docs.
pub struct Session {
    config: SessionConfig,
    connection_id: Option<String>,
    link: Link,
    /// Frames to write on the current transport, in order. Emptied when the transport goes.
    tx: VecDeque<OutFrame>,
    events: VecDeque<SessionEvent>,

    /// Seq the next `msg`/`close` will take.
    next_seq: u64,
    /// Un-ACKed numbered frames: exactly the seqs `acked_upto + 1 .. next_seq`, in order.
    unacked: VecDeque<Pending>,
    unacked_bytes: usize,
    /// Everything up to here is acknowledged (by `ack` or `lastrx`).
    acked_upto: u64,
    /// Highest seq ever handed to any transport; the peer cannot acknowledge beyond it.
    highest_transmitted: u64,
    /// Highest seq handed to the current transport (0 when none).
    link_sent_upto: u64,

    /// Seq of the last `msg`/`close` received from the peer.
    last_received: u64,
    /// Received frames our `ack` does not cover yet (reset when the transport goes: the next
    /// `lastrx` covers them).
    rx_unacked: u64,
    /// An `ack` goes out in the next `poll_transmit`.
    ack_due: bool,
    /// When the throttled `ack` falls due.
    ack_at: Option<Instant>,
    /// When the ACK watchdog fires.
    ack_timeout_at: Option<Instant>,
    /// When the next ping goes out.
    ping_at: Option<Instant>,
    ping_payload: Arc<str>,

    established_once: bool,
    /// Seq of our `close`, once [`Session::close`] was called.
    close_seq: Option<u64>,
    /// Our `close` was acknowledged.
    closed: bool,
    /// The peer's `close` was received.
    peer_closed: bool,
}

impl fmt::Debug for Session {
    // Counters only: payloads may carry credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.config.role)
            .field("connection_id", &self.connection_id)
            .field("link", &self.link)
            .field("last_sent", &self.last_sent())
            .field("acked_upto", &self.acked_upto)
            .field("last_received", &self.last_received)
            .field("unacked", &self.unacked())
            .field("close_seq", &self.close_seq)
            .field("closed", &self.closed)
            .field("peer_closed", &self.peer_closed)
            .finish()
    }
}

impl Session {
    /// A new logical connection. A server session knows its `connection_id` up front.
    ///
    /// A client may pass the id of a logical connection it resumes; it is replaced by whatever
    /// the server's `id` frame says.
    ///
    /// # Panics
    /// If `config.role` is [`Role::Server`] and `connection_id` is `None`.
    pub fn new(config: SessionConfig, connection_id: Option<String>, now: Instant) -> Self {
        let _ = now;
        assert!(
            config.role == Role::Client || connection_id.is_some(),
            "a server session needs its connection id"
        );
        Session {
            config,
            connection_id,
            link: Link::Down,
            tx: VecDeque::new(),
            events: VecDeque::new(),
            next_seq: 1,
            unacked: VecDeque::new(),
            unacked_bytes: 0,
            acked_upto: 0,
            highest_transmitted: 0,
            link_sent_upto: 0,
            last_received: 0,
            rx_unacked: 0,
            ack_due: false,
            ack_at: None,
            ack_timeout_at: None,
            ping_at: None,
            ping_payload: Arc::from(PING_PAYLOAD),
            established_once: false,
            close_seq: None,
            closed: false,
            peer_closed: false,
        }
    }

    /// A socket is open (new or resumed). Server: queues `{"type":"id"}` and waits for `lastrx`.
    /// Client: waits for `id`, then sends `lastrx`.
    ///
    /// Calling it while a transport is up first drops that transport ([`Session::transport_down`]).
    pub fn transport_up(&mut self, now: Instant) {
        if self.link != Link::Down {
            self.transport_down(now);
        }
        match self.config.role {
            Role::Server => {
                let id = self.connection_id.clone().unwrap_or_default();
                self.tx.push_back(OutFrame::Text(Frame::Id { id }.encode()));
                self.link = Link::AwaitingLastRx;
            }
            Role::Client => self.link = Link::AwaitingId,
        }
    }

    /// The socket is gone. Outgoing payloads keep accumulating (bounded) until the next transport.
    ///
    /// Frames not yet taken from [`Session::poll_transmit`] are discarded (numbered ones stay in
    /// the un-ACKed buffer and are resent after the next `lastrx`), a pending ACK is dropped (our
    /// next `lastrx` covers it), and the ACK-delay, ACK-watchdog and ping timers stop.
    pub fn transport_down(&mut self, now: Instant) {
        let _ = now;
        self.link = Link::Down;
        self.stop_transport();
    }

    /// One text frame from the socket. Ignored while no transport is up, after a failure on the
    /// current transport, and once our `close` has been ACKed.
    pub fn handle_text(&mut self, text: &str, now: Instant) {
        if self.closed || matches!(self.link, Link::Down | Link::Broken) {
            return;
        }
        let frame = match Frame::decode(text) {
            Ok(frame) => frame,
            Err(e) => return self.fail(CloseCode::ServerError, format!("malformed frame: {e}")),
        };
        match frame {
            Frame::Id { id } => self.on_id(id),
            Frame::LastRx { seq } => self.on_lastrx(seq, now),
            Frame::Msg { seq, payload } => self.on_numbered(seq, Some(payload), now),
            Frame::Close { seq } => self.on_numbered(seq, None, now),
            Frame::Ack { seq } => self.on_ack(seq, now),
            Frame::Error => self.on_error(),
        }
    }

    /// Queue an application payload (raw JSON). Returns its seq.
    ///
    /// `payload` must be one JSON value; it is framed as is, without being checked. It goes out
    /// at once if the transport is established, otherwise after the next `lastrx` exchange.
    /// Fails with [`SessionError::Closed`] once either side has started the close handshake,
    /// and with [`SessionError::BufferFull`] if it would take the un-ACKed buffer beyond
    /// [`SessionConfig::max_unacked_frames`] or [`SessionConfig::max_unacked_bytes`].
    pub fn send(&mut self, payload: Arc<str>, now: Instant) -> Result<u64, SessionError> {
        if self.close_seq.is_some() || self.peer_closed {
            return Err(SessionError::Closed);
        }
        let (frames, bytes) = self.unacked();
        if frames >= self.config.max_unacked_frames
            || bytes.saturating_add(payload.len()) > self.config.max_unacked_bytes
        {
            return Err(SessionError::BufferFull { frames, bytes });
        }
        Ok(self.push_numbered(Some(payload), now))
    }

    /// Start the graceful close (`{"type":"close","seq":N}`).
    ///
    /// The `close` takes the next seq and stays in the un-ACKed buffer (it is not subject to the
    /// buffer bounds) until the peer ACKs it, which yields [`SessionEvent::Closed`]. Pings stop.
    /// Calling it again before that returns the same seq. Fails with [`SessionError::Closed`]
    /// after [`SessionEvent::Closed`] or [`SessionEvent::PeerClosed`].
    ///
    /// The ACK watchdog covers the `close` too: a client driver may take
    /// `Failed { code: Timeout, .. }` after `close` as the end (the Web SDK waits 6 s for the ACK,
    /// then closes the socket with 4003).
    pub fn close(&mut self, now: Instant) -> Result<u64, SessionError> {
        if self.closed || self.peer_closed {
            return Err(SessionError::Closed);
        }
        if let Some(seq) = self.close_seq {
            return Ok(seq);
        }
        let seq = self.push_numbered(None, now);
        self.close_seq = Some(seq);
        self.ping_at = None;
        Ok(seq)
    }

    /// Act on every timer due at `now`: the ACK watchdog (→ [`SessionEvent::Failed`] with
    /// [`CloseCode::Timeout`]), the throttled ACK (produced by the next `poll_transmit`) and
    /// the ping.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ack_timeout_at.is_some_and(|t| t <= now) {
            let timeout = self.config.ack_timeout.unwrap_or_default();
            return self.fail(
                CloseCode::Timeout,
                format!(
                    "no ack within {timeout:?} (un-ACKed seq {}..={})",
                    self.acked_upto + 1,
                    self.link_sent_upto
                ),
            );
        }
        if self.ack_at.is_some_and(|t| t <= now) {
            self.ack_at = None;
            self.ack_due = true;
        }
        if let Some(at) = self.ping_at.filter(|&t| t <= now) {
            let interval = self.config.ping_interval.unwrap_or_default();
            // Keep the cadence; after a long stall, restart it from now.
            let mut next = at + interval;
            if next <= now {
                next = now + interval;
            }
            self.ping_at = Some(next);
            // A full buffer skips this ping; the watchdog deals with a peer that does not ACK.
            let _ = self.send(self.ping_payload.clone(), now);
        }
    }

    /// The earliest pending deadline (throttled ACK, ACK watchdog, ping), if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.ack_at, self.ack_timeout_at, self.ping_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next text frame to write on the current transport.
    ///
    /// A due `ack` comes first (once the client's `lastrx` is out) and always carries the latest
    /// received seq, so every receipt handled before this call is covered by one frame.
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.poll_transmit_frame().map(OutFrame::into_string)
    }

    /// [`Session::poll_transmit`] without encoding a `msg` into a `String` of its own.
    pub fn poll_transmit_frame(&mut self) -> Option<OutFrame> {
        let piggyback = self.config.ack_with_traffic
            && self.ack_at.is_some()
            && self.link == Link::Established
            && !self.tx.is_empty();
        if (self.ack_due || piggyback) && (self.link == Link::Established || self.tx.is_empty()) {
            self.ack_due = false;
            self.ack_at = None;
            self.rx_unacked = 0;
            return Some(OutFrame::Text(
                Frame::Ack {
                    seq: self.last_received,
                }
                .encode(),
            ));
        }
        self.tx.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// The `lastrx` exchange has completed on the current transport.
    pub fn is_established(&self) -> bool {
        self.link == Link::Established
    }

    pub fn connection_id(&self) -> Option<&str> {
        self.connection_id.as_deref()
    }

    /// Seq of the last `msg`/`close` received from the peer.
    pub fn last_received(&self) -> u64 {
        self.last_received
    }

    /// (frames, bytes) currently un-ACKed by the peer.
    pub fn unacked(&self) -> (usize, usize) {
        (self.unacked.len(), self.unacked_bytes)
    }

    /// Which end this machine runs.
    pub fn role(&self) -> Role {
        self.config.role
    }

    /// Seq of the last `msg`/`close` we queued (0 before the first).
    pub fn last_sent(&self) -> u64 {
        self.next_seq - 1
    }

    /// Everything we sent up to this seq has been acknowledged by the peer.
    pub fn last_acked(&self) -> u64 {
        self.acked_upto
    }

    /// [`Session::close`] was called and its `close` is not ACKed yet.
    pub fn is_closing(&self) -> bool {
        self.close_seq.is_some() && !self.closed
    }

    /// Our `close` was ACKed ([`SessionEvent::Closed`]): the logical connection is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The peer's `close` was received ([`SessionEvent::PeerClosed`]).
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    // ---- internals ----

    /// Assign the next seq, buffer the frame and transmit it if established.
    fn push_numbered(&mut self, payload: Option<Arc<str>>, now: Instant) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let pending = Pending { seq, payload };
        self.unacked_bytes += pending.bytes();
        if self.link == Link::Established {
            self.tx.push_back(pending.out());
            self.mark_transmitted(seq, now);
        }
        self.unacked.push_back(pending);
        seq
    }

    /// Frames up to `seq` were handed to the current transport.
    fn mark_transmitted(&mut self, seq: u64, now: Instant) {
        self.link_sent_upto = seq;
        self.highest_transmitted = self.highest_transmitted.max(seq);
        if self.ack_timeout_at.is_none() {
            self.ack_timeout_at = self.config.ack_timeout.map(|t| now + t);
        }
    }

    /// Drop everything up to `upto` from the un-ACKed buffer. Returns whether our `close` was
    /// among them. The caller has checked `upto <= highest_transmitted`.
    fn release(&mut self, upto: u64) -> bool {
        let mut close_acked = false;
        while self.unacked.front().is_some_and(|p| p.seq <= upto) {
            if let Some(p) = self.unacked.pop_front() {
                self.unacked_bytes -= p.bytes();
                close_acked |= p.payload.is_none();
            }
        }
        self.acked_upto = self.acked_upto.max(upto);
        close_acked
    }

    /// The logical connection is over: no timer has anything left to do.
    fn on_close_acked(&mut self) {
        self.closed = true;
        self.ping_at = None;
        self.ack_timeout_at = None;
        self.ack_at = None;
        self.events.push_back(SessionEvent::Closed);
    }

    /// Forget everything tied to the current transport.
    fn stop_transport(&mut self) {
        self.tx.clear();
        self.link_sent_upto = 0;
        self.rx_unacked = 0;
        self.ack_due = false;
        self.ack_at = None;
        self.ack_timeout_at = None;
        self.ping_at = None;
    }

    fn fail(&mut self, code: CloseCode, reason: String) {
        self.link = Link::Broken;
        self.stop_transport();
        self.events.push_back(SessionEvent::Failed { code, reason });
    }

    fn violation(&mut self, what: &str) {
        let reason = format!(
            "protocol violation: {what} ({:?}, {:?})",
            self.config.role, self.link
        );
        self.fail(CloseCode::ServerError, reason);
    }

    fn on_id(&mut self, id: String) {
        if self.config.role != Role::Client || self.link != Link::AwaitingId {
            return self.violation("unexpected id frame");
        }
        self.connection_id = Some(id.clone());
        self.events.push_back(SessionEvent::ConnectionId(id));
        self.tx.push_back(OutFrame::Text(
            Frame::LastRx {
                seq: self.last_received,
            }
            .encode(),
        ));
        self.link = Link::AwaitingLastRx;
    }

    fn on_error(&mut self) {
        if self.config.role != Role::Client {
            return self.violation("error frame from a client");
        }
        self.link = Link::Broken;
        self.stop_transport();
        self.events.push_back(SessionEvent::Refused);
    }

    fn on_lastrx(&mut self, peer_rx: u64, now: Instant) {
        if self.link != Link::AwaitingLastRx {
            return self.violation("unexpected lastrx frame");
        }
        if peer_rx > self.highest_transmitted || peer_rx < self.acked_upto {
            let reason = format!(
                "cannot resume: peer's lastrx {peer_rx}, ours acknowledged up to {} and sent up to {}",
                self.acked_upto, self.highest_transmitted
            );
            return self.fail(CloseCode::ServerError, reason);
        }
        if self.config.role == Role::Server {
            self.tx.push_back(OutFrame::Text(
                Frame::LastRx {
                    seq: self.last_received,
                }
                .encode(),
            ));
        }
        let close_acked = self.release(peer_rx);
        // Resend (or send for the first time) everything the peer has not seen, in order.
        self.tx.extend(self.unacked.iter().map(Pending::out));
        if let Some(last) = self.unacked.back().map(|p| p.seq) {
            self.mark_transmitted(last, now);
        }
        self.link = Link::Established;
        if !(self.closed || close_acked || self.close_seq.is_some() || self.peer_closed) {
            self.ping_at = self
                .config
                .ping_interval
                .filter(|i| !i.is_zero())
                .map(|i| now + i);
        }
        self.events.push_back(SessionEvent::Established {
            resumed: self.established_once,
        });
        self.established_once = true;
        if close_acked {
            self.on_close_acked();
        }
    }

    /// An incoming `msg` (`payload` is `Some`) or `close`.
    fn on_numbered(&mut self, seq: u64, payload: Option<Box<RawValue>>, now: Instant) {
        match (self.config.role, self.link) {
            (Role::Client, Link::AwaitingId) => return self.violation("msg/close before id"),
            (Role::Server, Link::AwaitingLastRx) => {
                return self.violation("msg/close before lastrx");
            }
            _ => {}
        }
        if self.peer_closed {
            return self.violation("msg/close after the peer's close");
        }
        if seq != self.last_received + 1 {
            let reason = format!("wrong seq: expected {}, got {seq}", self.last_received + 1);
            return self.fail(CloseCode::WrongSeq, reason);
        }
        self.last_received = seq;
        self.rx_unacked += 1;
        match payload {
            Some(payload) => {
                if self.config.ack_delay.is_zero()
                    || self.rx_unacked >= self.config.ack_every.max(1)
                {
                    self.ack_due = true;
                } else if self.ack_at.is_none() {
                    self.ack_at = Some(now + self.config.ack_delay);
                }
                self.events
                    .push_back(SessionEvent::Message { seq, payload });
            }
            None => {
                self.peer_closed = true;
                self.ack_due = true;
                self.ping_at = None;
                self.events.push_back(SessionEvent::PeerClosed);
            }
        }
    }

    fn on_ack(&mut self, seq: u64, now: Instant) {
        if self.link == Link::AwaitingId {
            return self.violation("ack before id");
        }
        if seq > self.highest_transmitted {
            let reason = format!(
                "protocol violation: ack of seq {seq}, but only up to {} was sent",
                self.highest_transmitted
            );
            return self.fail(CloseCode::ServerError, reason);
        }
        let close_acked = self.release(seq);
        // Like the Web SDK, any ack resets the watchdog; it keeps running only while frames
        // handed to this transport are still outstanding.
        self.ack_timeout_at = match self.config.ack_timeout {
            Some(t) if self.link_sent_upto > self.acked_upto => Some(now + t),
            _ => None,
        };
        if close_acked {
            self.on_close_acked();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "1e3619f6-aa1e-4d43-ae67-1b1b00c27574";
    const CREATE: &str = r#"{"name":"__createConnection","params":[]}"#;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn p(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    fn msg(seq: u64, payload: &str) -> String {
        format!(r#"{{"type":"msg","seq":{seq},"payload":{payload}}}"#)
    }

    fn ack(seq: u64) -> String {
        format!(r#"{{"type":"ack","seq":{seq}}}"#)
    }

    fn lastrx(seq: u64) -> String {
        format!(r#"{{"type":"lastrx","seq":{seq}}}"#)
    }

    fn close_frame(seq: u64) -> String {
        format!(r#"{{"type":"close","seq":{seq}}}"#)
    }

    fn id_frame() -> String {
        format!(r#"{{"type":"id","id":"{SID}"}}"#)
    }

    /// A server that ACKs every frame in its next `poll_transmit`, for tests about other things.
    fn eager_server() -> SessionConfig {
        SessionConfig {
            ack_delay: Duration::ZERO,
            ack_every: 1,
            ack_with_traffic: false,
            ..SessionConfig::server()
        }
    }

    /// The Web SDK's client values without pings, for tests that count frames.
    fn quiet_client() -> SessionConfig {
        SessionConfig {
            ping_interval: None,
            ..SessionConfig::client()
        }
    }

    fn drain_tx(s: &mut Session) -> Vec<String> {
        std::iter::from_fn(|| s.poll_transmit()).collect()
    }

    fn drain_events(s: &mut Session) -> Vec<SessionEvent> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    /// (seq, payload text) of the `Message` events.
    fn messages(events: &[SessionEvent]) -> Vec<(u64, String)> {
        events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Message { seq, payload } => Some((*seq, payload.get().to_owned())),
                _ => None,
            })
            .collect()
    }

    fn failures(events: &[SessionEvent]) -> Vec<(CloseCode, String)> {
        events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Failed { code, reason } => Some((*code, reason.clone())),
                _ => None,
            })
            .collect()
    }

    fn assert_failed(events: &[SessionEvent], code: CloseCode) {
        let f = failures(events);
        assert_eq!(f.len(), 1, "expected one failure, got {events:?}");
        assert_eq!(f[0].0, code, "{f:?}");
    }

    fn has(events: &[SessionEvent], want: fn(&SessionEvent) -> bool) -> bool {
        events.iter().any(want)
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Side {
        C,
        S,
    }

    /// A client and a server wired back to back, with a fake clock.
    struct Net {
        start: Instant,
        now: Instant,
        c: Session,
        s: Session,
        /// Every frame written, with its writer and time since `start`.
        wire: Vec<(Duration, Side, String)>,
        cev: Vec<SessionEvent>,
        sev: Vec<SessionEvent>,
    }

    impl Net {
        fn new(client: SessionConfig) -> Self {
            Self::with(client, eager_server())
        }

        fn with(client: SessionConfig, server: SessionConfig) -> Self {
            let start = Instant::now();
            Net {
                start,
                now: start,
                c: Session::new(client, None, start),
                s: Session::new(server, Some(SID.to_owned()), start),
                wire: Vec::new(),
                cev: Vec::new(),
                sev: Vec::new(),
            }
        }

        fn at(&self) -> Duration {
            self.now - self.start
        }

        /// Open a socket on both ends and run the handshake.
        fn connect(&mut self) {
            self.s.transport_up(self.now);
            self.c.transport_up(self.now);
            self.pump();
        }

        /// Both ends notice the socket is gone. Frames not yet written are lost with it.
        fn disconnect(&mut self) {
            self.c.transport_down(self.now);
            self.s.transport_down(self.now);
        }

        /// Move frames until both ends are quiet.
        fn pump(&mut self) {
            loop {
                let mut moved = false;
                while let Some(f) = self.c.poll_transmit() {
                    moved = true;
                    self.s.handle_text(&f, self.now);
                    self.wire.push((self.at(), Side::C, f));
                }
                while let Some(f) = self.s.poll_transmit() {
                    moved = true;
                    self.c.handle_text(&f, self.now);
                    self.wire.push((self.at(), Side::S, f));
                }
                if !moved {
                    break;
                }
            }
            self.cev.extend(drain_events(&mut self.c));
            self.sev.extend(drain_events(&mut self.s));
        }

        /// Frames `side` wrote that never arrive (the socket is dying).
        fn lose(&mut self, side: Side) -> Vec<String> {
            match side {
                Side::C => drain_tx(&mut self.c),
                Side::S => drain_tx(&mut self.s),
            }
        }

        /// Let time pass, firing every timer on the way at its exact instant.
        fn advance(&mut self, d: Duration) {
            let target = self.now + d;
            loop {
                let next = [self.c.poll_timeout(), self.s.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                match next {
                    Some(t) if t <= target => {
                        self.now = self.now.max(t);
                        self.c.handle_timeout(self.now);
                        self.s.handle_timeout(self.now);
                        self.pump();
                    }
                    _ => break,
                }
            }
            self.now = target;
        }

        fn c_send(&mut self, payload: &str) -> u64 {
            let seq = self.c.send(p(payload), self.now).unwrap();
            self.pump();
            seq
        }

        fn s_send(&mut self, payload: &str) -> u64 {
            let seq = self.s.send(p(payload), self.now).unwrap();
            self.pump();
            seq
        }

        fn frames(&self, side: Side) -> Vec<String> {
            self.wire
                .iter()
                .filter(|w| w.1 == side)
                .map(|w| w.2.clone())
                .collect()
        }

        fn timed(&self, side: Side) -> Vec<(Duration, String)> {
            self.wire
                .iter()
                .filter(|w| w.1 == side)
                .map(|w| (w.0, w.2.clone()))
                .collect()
        }

        fn clear(&mut self) {
            self.wire.clear();
            self.cev.clear();
            self.sev.clear();
        }
    }

    /// A server session that has completed a fresh handshake; the handshake frames are drained.
    fn established_server(config: SessionConfig, now: Instant) -> Session {
        let mut s = Session::new(config, Some(SID.to_owned()), now);
        s.transport_up(now);
        assert_eq!(drain_tx(&mut s), [id_frame()]);
        s.handle_text(&lastrx(0), now);
        assert_eq!(drain_tx(&mut s), [lastrx(0)]);
        assert!(matches!(
            drain_events(&mut s)[..],
            [SessionEvent::Established { resumed: false }]
        ));
        s
    }

    /// A client session that has completed a fresh handshake; the handshake frames are drained.
    fn established_client(config: SessionConfig, now: Instant) -> Session {
        let mut c = Session::new(config, None, now);
        c.transport_up(now);
        assert_eq!(drain_tx(&mut c), Vec::<String>::new());
        c.handle_text(&id_frame(), now);
        assert_eq!(drain_tx(&mut c), [lastrx(0)]);
        c.handle_text(&lastrx(0), now);
        assert!(drain_tx(&mut c).is_empty());
        let ev = drain_events(&mut c);
        assert!(
            matches!(&ev[..], [SessionEvent::ConnectionId(id), SessionEvent::Established { resumed: false }] if id == SID)
        );
        c
    }

    #[test]
    fn out_frame_writes_exactly_what_poll_transmit_encodes() {
        for (seq, payload) in [
            (0u64, "{}"),
            (1, CREATE),
            (9, "[1]"),
            (10, "{}"),
            (u64::MAX, "{}"),
        ] {
            let f = OutFrame::Msg {
                seq,
                payload: p(payload),
            };
            let mut out = b"x".to_vec();
            f.write_to(&mut out);
            assert_eq!(&out[1..], msg(seq, payload).as_bytes());
            assert_eq!(f.len(), out.len() - 1);
            assert_eq!(f.into_string(), msg(seq, payload));
        }
    }

    #[test]
    fn session_config_presets() {
        let c = SessionConfig::client();
        assert_eq!(c.role, Role::Client);
        assert_eq!(c.ack_delay, ms(5000));
        assert_eq!(c.ack_every, 50);
        assert_eq!(c.ack_timeout, Some(ms(6000)));
        assert_eq!(c.ping_interval, Some(ms(2000)));
        assert_eq!(
            (c.max_unacked_frames, c.max_unacked_bytes),
            (10_000, 64 << 20)
        );
        assert!(!c.ack_with_traffic);
        let s = SessionConfig::server();
        assert_eq!(s.role, Role::Server);
        assert_eq!(s.ack_delay, ms(20));
        assert_eq!(s.ack_every, 32);
        assert!(s.ack_with_traffic);
        assert_eq!(s.ack_timeout, None);
        assert_eq!(s.ping_interval, None);
        assert_eq!((s.max_unacked_frames, s.max_unacked_bytes), (4096, 8 << 20));
    }

    #[test]
    fn session_fresh_handshake_matches_observed_transcript() {
        let mut net = Net::new(SessionConfig::client());
        net.connect();
        let wire: Vec<(Side, String)> = net.wire.iter().map(|w| (w.1, w.2.clone())).collect();
        assert_eq!(
            wire,
            [
                (Side::S, id_frame()),
                (Side::C, lastrx(0)),
                (Side::S, lastrx(0))
            ]
        );
        assert!(
            matches!(&net.cev[..], [SessionEvent::ConnectionId(id), SessionEvent::Established { resumed: false }] if id == SID)
        );
        assert!(matches!(
            net.sev[..],
            [SessionEvent::Established { resumed: false }]
        ));
        assert!(net.c.is_established() && net.s.is_established());
        assert_eq!(net.c.connection_id(), Some(SID));
        assert_eq!(net.s.connection_id(), Some(SID));

        // The server's first msg takes seq 1.
        net.clear();
        assert_eq!(net.s_send(CREATE), 1);
        assert_eq!(net.frames(Side::S), [msg(1, CREATE)]);
        assert_eq!(messages(&net.cev), [(1, CREATE.to_owned())]);
        // The client's ACK is throttled: nothing yet.
        assert!(net.frames(Side::C).is_empty());
        assert_eq!(net.c.last_received(), 1);
    }

    #[test]
    fn session_messages_both_ways_with_cumulative_acks() {
        let mut net = Net::new(quiet_client());
        net.connect();
        net.clear();
        let login = r#"{"name":"login","params":["u","x"]}"#;
        let ok = r#"{"name":"loginSuccessful","params":["User One",{}]}"#;
        assert_eq!(net.s_send(CREATE), 1);
        assert_eq!(net.c_send(login), 1);
        assert_eq!(net.s_send(ok), 2);
        assert_eq!(net.c_send(r#"{"n":2}"#), 2);
        assert_eq!(net.c_send(r#"{"n":3}"#), 3);

        // The server ACKs each client msg at once; the client has released everything.
        assert_eq!(
            net.frames(Side::C),
            [msg(1, login), msg(2, r#"{"n":2}"#), msg(3, r#"{"n":3}"#)]
        );
        assert_eq!(
            net.frames(Side::S),
            [msg(1, CREATE), ack(1), msg(2, ok), ack(2), ack(3)]
        );
        assert_eq!(net.c.unacked(), (0, 0));
        assert_eq!(net.c.last_acked(), 3);
        assert_eq!(
            messages(&net.sev),
            [
                (1, login.into()),
                (2, r#"{"n":2}"#.into()),
                (3, r#"{"n":3}"#.into())
            ]
        );
        assert_eq!(messages(&net.cev), [(1, CREATE.into()), (2, ok.into())]);

        // The server still holds both msgs until the client's single cumulative ACK.
        assert_eq!(net.s.unacked(), (2, CREATE.len() + ok.len()));
        net.advance(ms(5000));
        assert_eq!(net.frames(Side::C).last(), Some(&ack(2)));
        assert_eq!(
            net.frames(Side::C)
                .iter()
                .filter(|f| f.contains("ack"))
                .count(),
            1
        );
        assert_eq!(net.s.unacked(), (0, 0));
        assert!(failures(&net.cev).is_empty() && failures(&net.sev).is_empty());
    }

    #[test]
    fn session_server_ack_rides_with_the_reply_or_goes_alone_after_20ms() {
        let t0 = Instant::now();
        let mut s = established_server(SessionConfig::server(), t0);
        for seq in 1..=3 {
            s.handle_text(&msg(seq, r#"{"x":1}"#), t0);
        }
        assert_eq!(messages(&drain_events(&mut s)).len(), 3);
        // Held back: nothing to write yet, a timer 20 ms out.
        assert_eq!(s.poll_transmit(), None);
        assert_eq!(s.poll_timeout(), Some(t0 + ms(20)));
        // A reply goes out: the ACK (covering all three) goes in front of it, in the same write.
        s.send(p(CREATE), t0 + ms(2)).unwrap();
        assert_eq!(drain_tx(&mut s), [ack(3), msg(1, CREATE)]);
        assert_eq!(s.poll_timeout(), None, "nothing left to ACK, no watchdog");

        // No reply within 20 ms: the ACK goes alone when the timer fires, not before.
        let t1 = t0 + ms(100);
        s.handle_text(&msg(4, "{}"), t1);
        s.handle_timeout(t1 + ms(19));
        assert_eq!(s.poll_transmit(), None);
        s.handle_timeout(t1 + ms(20));
        assert_eq!(drain_tx(&mut s), [ack(4)]);

        // 32 waiting frames are ACKed at once.
        let t2 = t1 + ms(100);
        for seq in 5..=36 {
            s.handle_text(&msg(seq, "{}"), t2);
        }
        assert_eq!(drain_tx(&mut s), [ack(36)]);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn session_server_acks_coalesced_in_next_poll() {
        let now = Instant::now();
        let mut s = established_server(eager_server(), now);
        for seq in 1..=3 {
            s.handle_text(&msg(seq, r#"{"x":1}"#), now);
        }
        assert_eq!(drain_tx(&mut s), [ack(3)]);
        assert_eq!(messages(&drain_events(&mut s)).len(), 3);
        // The ACK goes ahead of frames queued in the meantime.
        s.handle_text(&msg(4, "{}"), now);
        s.send(p(CREATE), now).unwrap();
        assert_eq!(drain_tx(&mut s), [ack(4), msg(1, CREATE)]);
        assert_eq!(s.poll_timeout(), None, "the server has no ACK watchdog");
        assert_eq!(s.poll_transmit(), None);
    }

    #[test]
    fn session_client_ack_throttled_to_5s() {
        let mut net = Net::new(quiet_client());
        net.connect();
        net.clear();
        net.s_send(CREATE); // t = 0
        net.advance(ms(1000));
        net.s_send("{}"); // t = 1 s
        net.advance(ms(3999));
        assert!(net.frames(Side::C).is_empty(), "no ACK before 5 s");
        net.advance(ms(1));
        assert_eq!(net.timed(Side::C), [(ms(5000), ack(2))]);
        // A new window opens with the next receipt.
        net.advance(ms(1000));
        net.s_send("{}"); // t = 6 s
        net.advance(ms(10_000));
        assert_eq!(
            net.timed(Side::C),
            [(ms(5000), ack(2)), (ms(11_000), ack(3))]
        );
        assert_eq!(net.s.unacked(), (0, 0));
    }

    #[test]
    fn session_client_acks_at_once_after_50_frames() {
        let mut net = Net::new(quiet_client());
        net.connect();
        net.clear();
        for _ in 0..49 {
            net.s_send("{}");
        }
        assert!(net.frames(Side::C).is_empty());
        net.s_send("{}");
        assert_eq!(net.timed(Side::C), [(Duration::ZERO, ack(50))]);
        assert_eq!(net.s.unacked(), (0, 0));
        // The counter and the window restart.
        net.s_send("{}");
        net.advance(ms(4999));
        assert_eq!(net.frames(Side::C).len(), 1);
        net.advance(ms(1));
        assert_eq!(net.timed(Side::C)[1], (ms(5000), ack(51)));
    }

    #[test]
    fn session_ack_timeout_fails_after_6s() {
        let t0 = Instant::now();
        let mut c = established_client(quiet_client(), t0);
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.send(p("{}"), t0).unwrap(), 1);
        assert_eq!(drain_tx(&mut c), [msg(1, "{}")]);
        assert_eq!(c.poll_timeout(), Some(t0 + ms(6000)));
        c.handle_timeout(t0 + ms(5999));
        assert!(drain_events(&mut c).is_empty());
        c.handle_timeout(t0 + ms(6000));
        let ev = drain_events(&mut c);
        assert_failed(&ev, CloseCode::Timeout);
        assert!(!c.is_established());
        assert_eq!(c.poll_timeout(), None);
        // The broken transport is silent until the driver replaces it; nothing is lost.
        c.handle_text(&ack(1), t0 + ms(6001));
        assert_eq!(c.poll_transmit(), None);
        assert!(drain_events(&mut c).is_empty());
        assert_eq!(c.unacked(), (1, 2));
    }

    #[test]
    fn session_ack_timeout_in_a_pair_when_server_withholds_acks() {
        // A server that never ACKs (ack_delay far beyond the client's watchdog).
        let server = SessionConfig {
            ack_delay: ms(60_000),
            ack_every: 1000,
            ..eager_server()
        };
        let mut net = Net::with(quiet_client(), server);
        net.connect();
        net.c_send("{}");
        net.advance(ms(5999));
        assert!(failures(&net.cev).is_empty());
        net.advance(ms(1));
        assert_failed(&net.cev, CloseCode::Timeout);
    }

    #[test]
    fn session_any_ack_restarts_the_ack_timeout() {
        let t0 = Instant::now();
        let mut c = established_client(quiet_client(), t0);
        c.send(p("{}"), t0).unwrap();
        c.send(p("{}"), t0 + ms(3000)).unwrap();
        assert_eq!(
            c.poll_timeout(),
            Some(t0 + ms(6000)),
            "a running clock is not restarted by a send"
        );
        c.handle_text(&ack(1), t0 + ms(4000));
        assert_eq!(c.poll_timeout(), Some(t0 + ms(10_000)));
        // A stale ACK restarts it too, as in the Web SDK.
        c.handle_text(&ack(1), t0 + ms(5000));
        assert_eq!(c.poll_timeout(), Some(t0 + ms(11_000)));
        c.handle_timeout(t0 + ms(10_999));
        assert!(drain_events(&mut c).is_empty());
        c.handle_text(&ack(2), t0 + ms(10_999));
        assert_eq!(
            c.poll_timeout(),
            None,
            "nothing outstanding: the clock stops"
        );
        assert_eq!(c.unacked(), (0, 0));
        c.handle_timeout(t0 + ms(20_000));
        assert!(drain_events(&mut c).is_empty());
    }

    #[test]
    fn session_pings_every_2s() {
        let mut net = Net::new(SessionConfig::client());
        net.c.transport_up(net.now);
        assert_eq!(net.c.poll_timeout(), None, "no pings before the handshake");
        net.c.transport_down(net.now);
        net.connect();
        net.clear();
        net.advance(ms(1999));
        assert!(net.frames(Side::C).is_empty());
        net.advance(ms(1));
        let ping = r#"{"name":"__ping"}"#;
        assert_eq!(net.timed(Side::C), [(ms(2000), msg(1, ping))]);
        net.advance(ms(4000));
        assert_eq!(
            net.timed(Side::C),
            [
                (ms(2000), msg(1, ping)),
                (ms(4000), msg(2, ping)),
                (ms(6000), msg(3, ping))
            ]
        );
        // Pings are ordinary msgs: the server sees and ACKs them, so the watchdog never fires.
        assert_eq!(
            messages(&net.sev),
            [(1, ping.into()), (2, ping.into()), (3, ping.into())]
        );
        assert_eq!(net.frames(Side::S), [ack(1), ack(2), ack(3)]);
        assert!(failures(&net.cev).is_empty());
        assert_eq!(net.c.unacked(), (0, 0));
        // An application msg shares the counter.
        assert_eq!(net.c_send("{}"), 4);
        // No pings while disconnected.
        net.disconnect();
        assert_eq!(net.c.poll_timeout(), None);
    }

    #[test]
    fn session_wrong_seq_gap_fails() {
        let now = Instant::now();
        let mut c = established_client(quiet_client(), now);
        c.handle_text(&msg(1, "{}"), now);
        c.handle_text(&msg(3, "{}"), now);
        let ev = drain_events(&mut c);
        assert_eq!(messages(&ev), [(1, "{}".into())]);
        assert_failed(&ev, CloseCode::WrongSeq);
        assert_eq!(c.last_received(), 1);
        assert_eq!(c.poll_transmit(), None);

        let mut s = established_server(eager_server(), now);
        s.handle_text(&msg(2, "{}"), now);
        let ev = drain_events(&mut s);
        assert!(messages(&ev).is_empty());
        assert_failed(&ev, CloseCode::WrongSeq);
        assert_eq!(s.poll_transmit(), None, "no ACK for a rejected frame");
    }

    #[test]
    fn session_wrong_seq_duplicate_fails() {
        let now = Instant::now();
        let mut c = established_client(quiet_client(), now);
        c.handle_text(&msg(1, "{}"), now);
        c.handle_text(&msg(1, "{}"), now);
        let ev = drain_events(&mut c);
        assert_eq!(messages(&ev).len(), 1, "a duplicate is not delivered");
        assert_failed(&ev, CloseCode::WrongSeq);

        // A `close` is checked the same way.
        let mut s = established_server(eager_server(), now);
        s.handle_text(&msg(1, "{}"), now);
        s.handle_text(&close_frame(1), now);
        let ev = drain_events(&mut s);
        assert_failed(&ev, CloseCode::WrongSeq);
        assert!(!has(&ev, |e| matches!(e, SessionEvent::PeerClosed)));
    }

    #[test]
    fn session_resume_retransmits_exactly_once_both_ways() {
        let mut net = Net::new(quiet_client());
        net.connect();
        net.s_send(CREATE); // S1 delivered
        net.c_send(r#"{"c":1}"#); // C1 delivered, ACKed by the server
        net.s_send(r#"{"s":2}"#); // S2, S3 delivered, not ACKed (client ACKs are throttled)
        net.s_send(r#"{"s":3}"#);
        net.c_send(r#"{"c":2}"#); // C2 delivered and ACKed
        net.c.send(p(r#"{"c":3}"#), net.now).unwrap(); // C3 and S4 are written into a dying socket
        net.s.send(p(r#"{"s":4}"#), net.now).unwrap();
        assert_eq!(net.lose(Side::C), [msg(3, r#"{"c":3}"#)]);
        assert_eq!(net.lose(Side::S), [msg(4, r#"{"s":4}"#)]);
        net.disconnect();
        assert!(!net.c.is_established() && !net.s.is_established());

        // Both sides keep sending while down: held, not lost.
        net.advance(ms(300));
        assert_eq!(net.c.send(p(r#"{"c":4}"#), net.now), Ok(4));
        assert_eq!(net.s.send(p(r#"{"s":5}"#), net.now), Ok(5));
        assert_eq!(net.c.poll_transmit(), None);
        assert_eq!(net.s.poll_transmit(), None);
        assert_eq!(net.c.unacked().0, 2);
        assert_eq!(net.s.unacked().0, 5);
        net.clear();

        net.connect();
        // The handshake of §3.5, then each side resends only what the other has not seen.
        let wire: Vec<(Side, String)> = net.wire.iter().map(|w| (w.1, w.2.clone())).collect();
        assert_eq!(
            wire,
            [
                (Side::S, id_frame()),
                (Side::C, lastrx(3)),
                (Side::S, lastrx(2)),
                (Side::S, msg(4, r#"{"s":4}"#)),
                (Side::S, msg(5, r#"{"s":5}"#)),
                (Side::C, msg(3, r#"{"c":3}"#)),
                (Side::C, msg(4, r#"{"c":4}"#)),
                (Side::S, ack(4)),
            ]
        );
        assert!(
            matches!(&net.cev[..3], [SessionEvent::ConnectionId(id), SessionEvent::Established { resumed: true }, SessionEvent::Message { seq: 4, .. }] if id == SID)
        );
        assert!(matches!(
            net.sev[0],
            SessionEvent::Established { resumed: true }
        ));
        assert_eq!(
            messages(&net.cev),
            [(4, r#"{"s":4}"#.into()), (5, r#"{"s":5}"#.into())]
        );
        assert_eq!(
            messages(&net.sev),
            [(3, r#"{"c":3}"#.into()), (4, r#"{"c":4}"#.into())]
        );
        assert!(failures(&net.cev).is_empty() && failures(&net.sev).is_empty());
        assert_eq!(net.c.unacked(), (0, 0));
        // S1..S3 were covered by the client's lastrx; S4, S5 by its next throttled ACK.
        assert_eq!(net.s.unacked().0, 2);
        net.advance(ms(5000));
        assert_eq!(net.frames(Side::C).last(), Some(&ack(5)));
        assert_eq!(net.s.unacked(), (0, 0));
        assert_eq!((net.c.last_received(), net.s.last_received()), (5, 4));
        // Both counters carry on.
        assert_eq!(net.c_send("{}"), 5);
        assert_eq!(net.s_send("{}"), 6);
    }

    #[test]
    fn session_send_before_first_establish_is_held() {
        let mut net = Net::new(quiet_client());
        // Queued before any socket, and while the handshake is under way.
        assert_eq!(net.s.send(p(CREATE), net.now), Ok(1));
        net.c.transport_up(net.now);
        assert_eq!(net.c.send(p("{}"), net.now), Ok(1));
        assert_eq!(net.c.poll_transmit(), None);
        net.s.transport_up(net.now);
        net.pump();
        assert_eq!(
            net.frames(Side::S),
            [id_frame(), lastrx(0), msg(1, CREATE), ack(1)]
        );
        assert_eq!(net.frames(Side::C), [lastrx(0), msg(1, "{}")]);
        assert!(matches!(
            net.cev[1],
            SessionEvent::Established { resumed: false }
        ));
        assert_eq!(messages(&net.cev).len(), 1);
        assert_eq!(messages(&net.sev).len(), 1);
    }

    #[test]
    fn session_close_from_client() {
        let mut net = Net::new(SessionConfig::client());
        net.connect();
        net.s_send(CREATE);
        net.c_send("{}");
        net.clear();
        assert_eq!(net.c.close(net.now), Ok(2));
        net.pump();
        assert_eq!(net.frames(Side::C), [close_frame(2)]);
        assert_eq!(net.frames(Side::S), [ack(2)]);
        assert!(matches!(net.sev[..], [SessionEvent::PeerClosed]));
        assert!(matches!(net.cev[..], [SessionEvent::Closed]));
        assert!(net.c.is_closed() && net.s.peer_closed());
        assert_eq!(net.c.send(p("{}"), net.now), Err(SessionError::Closed));
        assert_eq!(net.c.close(net.now), Err(SessionError::Closed));
        assert_eq!(net.s.send(p("{}"), net.now), Err(SessionError::Closed));
        assert_eq!(net.c.poll_timeout(), None, "no more pings or watchdog");
    }

    #[test]
    fn session_close_from_server_is_acked_at_once() {
        let mut net = Net::new(SessionConfig::client());
        net.connect();
        net.s_send(CREATE);
        net.clear();
        // The client's ACK of seq 1 is still throttled; the close forces it out, covering both.
        assert_eq!(net.s.close(net.now), Ok(2));
        assert_eq!(
            net.s.close(net.now),
            Ok(2),
            "close is idempotent until ACKed"
        );
        assert_eq!(
            net.s.send(p("{}"), net.now),
            Err(SessionError::Closed),
            "nothing after close"
        );
        net.pump();
        assert_eq!(net.frames(Side::S), [close_frame(2)]);
        assert_eq!(net.frames(Side::C), [ack(2)]);
        assert!(matches!(net.cev[..], [SessionEvent::PeerClosed]));
        assert!(matches!(net.sev[..], [SessionEvent::Closed]));
        assert_eq!(net.s.unacked(), (0, 0));
        assert_eq!(net.c.send(p("{}"), net.now), Err(SessionError::Closed));
    }

    #[test]
    fn session_close_while_down_goes_out_after_resume() {
        let mut net = Net::new(quiet_client());
        net.connect();
        net.disconnect();
        assert_eq!(net.c.close(net.now), Ok(1));
        assert!(net.c.is_closing());
        assert_eq!(net.c.poll_transmit(), None);
        net.clear();
        net.connect();
        assert_eq!(net.frames(Side::C), [lastrx(0), close_frame(1)]);
        assert_eq!(net.frames(Side::S), [id_frame(), lastrx(0), ack(1)]);
        assert!(has(&net.cev, |e| matches!(e, SessionEvent::Closed)));
        assert!(has(&net.sev, |e| matches!(e, SessionEvent::PeerClosed)));
    }

    #[test]
    fn session_refused_on_error_frame() {
        let now = Instant::now();
        let mut c = Session::new(SessionConfig::client(), Some(SID.to_owned()), now);
        c.transport_up(now);
        c.handle_text(r#"{"type":"error"}"#, now);
        assert!(matches!(drain_events(&mut c)[..], [SessionEvent::Refused]));
        assert_eq!(c.poll_transmit(), None);
        assert!(!c.is_established());
        // The driver tries another socket; the session is still usable.
        c.transport_down(now);
        c.transport_up(now);
        c.handle_text(&id_frame(), now);
        assert_eq!(drain_tx(&mut c), [lastrx(0)]);

        // A server never accepts `error` from a client.
        let mut s = established_server(eager_server(), now);
        s.handle_text(r#"{"type":"error"}"#, now);
        assert_failed(&drain_events(&mut s), CloseCode::ServerError);
    }

    #[test]
    fn session_buffer_full_bounds() {
        let now = Instant::now();
        let frames = SessionConfig {
            max_unacked_frames: 2,
            ..quiet_client()
        };
        let mut c = established_client(frames, now);
        assert_eq!(c.send(p("1234"), now), Ok(1));
        assert_eq!(c.send(p("5678"), now), Ok(2));
        assert_eq!(
            c.send(p("9"), now),
            Err(SessionError::BufferFull {
                frames: 2,
                bytes: 8
            })
        );
        assert_eq!(
            drain_tx(&mut c).len(),
            2,
            "a refused send takes no seq and writes nothing"
        );
        c.handle_text(&ack(1), now);
        assert_eq!(c.unacked(), (1, 4));
        assert_eq!(c.send(p("9"), now), Ok(3));
        // The close is never refused for lack of room.
        assert_eq!(c.close(now), Ok(4));
        assert_eq!(c.unacked(), (3, 5));

        let bytes = SessionConfig {
            max_unacked_bytes: 10,
            ..eager_server()
        };
        let mut s = established_server(bytes, now);
        assert_eq!(s.send(p("123456"), now), Ok(1));
        assert_eq!(
            s.send(p("12345"), now),
            Err(SessionError::BufferFull {
                frames: 1,
                bytes: 6
            })
        );
        assert_eq!(
            s.send(p("1234"), now),
            Ok(2),
            "exactly at the bound is allowed"
        );
        // Held frames count too: the bound holds while the client is away.
        s.transport_down(now);
        assert_eq!(
            s.send(p("1"), now),
            Err(SessionError::BufferFull {
                frames: 2,
                bytes: 10
            })
        );
    }

    #[test]
    fn session_malformed_frames_fail_with_server_error() {
        let now = Instant::now();
        let bad = [
            "not json",
            r#"{"type":"bogus","seq":1}"#,
            r#"{"type":"msg","seq":1}"#,
            r#"{"type":"ack"}"#,
            r#"{"seq":1}"#,
        ];
        for text in bad {
            let mut s = established_server(eager_server(), now);
            s.handle_text(text, now);
            let ev = drain_events(&mut s);
            assert_failed(&ev, CloseCode::ServerError);
            assert_eq!(s.poll_transmit(), None);
            // Later input on the broken transport is ignored.
            s.handle_text(&msg(1, "{}"), now);
            assert!(drain_events(&mut s).is_empty());

            let mut c = established_client(SessionConfig::client(), now);
            c.handle_text(text, now);
            assert_failed(&drain_events(&mut c), CloseCode::ServerError);
        }
    }

    #[test]
    fn session_protocol_violations_fail_with_server_error() {
        let now = Instant::now();
        // Server: msg before the client's lastrx.
        let mut s = Session::new(eager_server(), Some(SID.to_owned()), now);
        s.transport_up(now);
        s.handle_text(&msg(1, "{}"), now);
        let ev = drain_events(&mut s);
        assert_failed(&ev, CloseCode::ServerError);
        assert!(messages(&ev).is_empty());
        assert_eq!(
            s.poll_transmit(),
            None,
            "the queued id is dropped with the transport"
        );
        // ...but an ACK before lastrx is fine.
        let mut s = Session::new(eager_server(), Some(SID.to_owned()), now);
        s.transport_up(now);
        s.handle_text(&ack(0), now);
        assert!(drain_events(&mut s).is_empty());

        let cases: [(&str, Vec<&str>); 4] = [
            (
                "ack for a seq never sent",
                vec![r#"{"type":"ack","seq":1}"#],
            ),
            ("second lastrx", vec![r#"{"type":"lastrx","seq":0}"#]),
            ("id to a server", vec![r#"{"type":"id","id":"x"}"#]),
            (
                "msg after close",
                vec![
                    r#"{"type":"close","seq":1}"#,
                    r#"{"type":"msg","seq":2,"payload":{}}"#,
                ],
            ),
        ];
        for (what, texts) in cases {
            let mut s = established_server(eager_server(), now);
            for t in texts {
                s.handle_text(t, now);
            }
            let ev = drain_events(&mut s);
            assert_eq!(failures(&ev).len(), 1, "{what}: {ev:?}");
            assert_eq!(failures(&ev)[0].0, CloseCode::ServerError, "{what}");
        }

        // Client: anything but id/error before id; a second id; a lastrx we cannot honour.
        let mut c = Session::new(SessionConfig::client(), None, now);
        c.transport_up(now);
        c.handle_text(&msg(1, "{}"), now);
        assert_failed(&drain_events(&mut c), CloseCode::ServerError);
        let mut c = established_client(SessionConfig::client(), now);
        c.handle_text(&id_frame(), now);
        assert_failed(&drain_events(&mut c), CloseCode::ServerError);
        let mut c = Session::new(SessionConfig::client(), None, now);
        c.transport_up(now);
        c.handle_text(&id_frame(), now);
        c.handle_text(&lastrx(3), now);
        let ev = drain_events(&mut c);
        assert_failed(&ev, CloseCode::ServerError);
        assert!(!has(&ev, |e| matches!(e, SessionEvent::Established { .. })));
    }

    #[test]
    fn session_client_accepts_msgs_between_its_lastrx_and_the_servers() {
        let now = Instant::now();
        let mut c = Session::new(
            SessionConfig {
                ack_delay: Duration::ZERO,
                ..quiet_client()
            },
            None,
            now,
        );
        c.transport_up(now);
        c.handle_text(&id_frame(), now);
        c.handle_text(&msg(1, CREATE), now);
        // Our lastrx was queued first and stays first.
        assert_eq!(drain_tx(&mut c), [lastrx(0), ack(1)]);
        c.handle_text(&lastrx(0), now);
        let ev = drain_events(&mut c);
        assert_eq!(messages(&ev), [(1, CREATE.into())]);
        assert!(has(&ev, |e| matches!(
            e,
            SessionEvent::Established { resumed: false }
        )));
    }

    #[test]
    fn session_poll_timeout_is_the_earliest_deadline() {
        let t0 = Instant::now();
        let mut c = established_client(SessionConfig::client(), t0);
        assert_eq!(c.poll_timeout(), Some(t0 + ms(2000)), "ping");
        c.handle_text(&msg(1, "{}"), t0 + ms(500));
        c.send(p("{}"), t0 + ms(1000)).unwrap();
        drain_tx(&mut c);
        assert_eq!(c.poll_timeout(), Some(t0 + ms(2000)));
        c.handle_timeout(t0 + ms(2000));
        assert_eq!(drain_tx(&mut c), [msg(2, r#"{"name":"__ping"}"#)]);
        // Next: ping at 4 s, then ACK at 5.5 s, then the watchdog at 7 s.
        assert_eq!(c.poll_timeout(), Some(t0 + ms(4000)));
        c.handle_text(&ack(2), t0 + ms(3000));
        assert_eq!(c.poll_timeout(), Some(t0 + ms(4000)));
        // One late call handles everything due: ping (re-based on now) and the ACK.
        c.handle_timeout(t0 + ms(5600));
        assert_eq!(drain_tx(&mut c), [ack(1), msg(3, r#"{"name":"__ping"}"#)]);
        assert_eq!(c.poll_timeout(), Some(t0 + ms(6000)));

        let mut idle = established_server(eager_server(), t0);
        assert_eq!(idle.poll_timeout(), None);
        assert_eq!(idle.poll_transmit(), None);
        assert!(idle.poll_event().is_none());
        idle.handle_timeout(t0 + ms(60_000));
        assert_eq!(idle.poll_transmit(), None);
    }
}
