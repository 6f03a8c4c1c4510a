//! Fan-out: which sessions are online for which user, and handing encoded events to them.
//!
//! * Every logged-in session has a [`SessionTx`]: a **bounded** queue of encoded messaging
//!   payloads (`Arc<str>`) that its connection task drains into the session layer. A push never
//!   blocks; a session whose queue is full has fallen too far behind and is **kicked** (its
//!   connection closes it; the client reconnects and fills the gap with `retransmitEvents`), so a
//!   slow client never slows anyone else.
//! * [`Hub`] maps user ids to their sessions. It is sharded: registering, unregistering and
//!   looking up take one shard's lock briefly, never a lock over everything.
//! * An event is encoded **once** per distinct envelope: once with the initiator's
//!   `request_uuid` (its reply) and once without (everyone else); recipients share the same
//!   `Arc<str>`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{Notify, mpsc};
use vox_protocol::messaging::{EnvelopeFields, EventName, UserId, encode_event};

use serde_json::value::RawValue;

/// The sending half of one logged-in session's event queue.
pub struct SessionTx {
    pub user_id: UserId,
    tx: mpsc::Sender<Arc<str>>,
    kicked: AtomicBool,
    kick: Notify,
    /// This session's own presence (`setStatus`).
    online: AtomicBool,
    /// Events dropped because the queue was full (then the session is kicked).
    pub dropped: AtomicU64,
}

impl SessionTx {
    pub fn new(user_id: UserId, capacity: usize) -> (Arc<SessionTx>, mpsc::Receiver<Arc<str>>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Arc::new(SessionTx {
                user_id,
                tx,
                kicked: AtomicBool::new(false),
                kick: Notify::new(),
                online: AtomicBool::new(false),
                dropped: AtomicU64::new(0),
            }),
            rx,
        )
    }

    /// Queue one encoded payload without waiting. False when it was not queued (closed, or full:
    /// then the session is kicked).
    pub fn push(&self, frame: Arc<str>) -> bool {
        match self.tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if !self.kicked.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        user = self.user_id,
                        "session queue full: closing slow session"
                    );
                    self.kick.notify_one();
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub fn is_kicked(&self) -> bool {
        self.kicked.load(Ordering::Acquire)
    }

    /// Resolves once the session has been kicked for falling behind.
    pub async fn wait_kicked(&self) {
        if self.is_kicked() {
            return;
        }
        self.kick.notified().await
    }

    pub fn online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release)
    }
}

/// One event to deliver: its name, its payload (encoded once), the users whose sessions get it,
/// and whether it is the initiator's reply (then the initiating session gets it with its
/// `request_uuid`, whether or not its user is in `users`).
pub struct Publish {
    pub event: EventName,
    pub payload: Box<RawValue>,
    pub users: Vec<UserId>,
    pub reply: bool,
}

impl Publish {
    pub fn new(
        event: EventName,
        payload: Box<RawValue>,
        mut users: Vec<UserId>,
        reply: bool,
    ) -> Self {
        users.sort_unstable();
        users.dedup();
        Publish {
            event,
            payload,
            users,
            reply,
        }
    }

    /// A reply to the initiating session only.
    pub fn reply_only(event: EventName, payload: Box<RawValue>) -> Self {
        Publish::new(event, payload, Vec::new(), true)
    }
}

/// Who asked: the session to answer and the request's uuid.
#[derive(Clone)]
pub struct Initiator {
    pub session: Arc<SessionTx>,
    pub request_uuid: String,
}

const SHARDS: usize = 32;

type Shard = RwLock<HashMap<UserId, Vec<Arc<SessionTx>>>>;

/// Online sessions by user.
pub struct Hub {
    shards: Box<[Shard]>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }
}

impl Hub {
    fn shard(&self, user: UserId) -> &Shard {
        &self.shards[(user as usize) % SHARDS]
    }

    pub fn register(&self, s: Arc<SessionTx>) {
        self.shard(s.user_id)
            .write()
            .unwrap()
            .entry(s.user_id)
            .or_default()
            .push(s);
    }

    pub fn unregister(&self, s: &Arc<SessionTx>) {
        let mut map = self.shard(s.user_id).write().unwrap();
        if let Some(v) = map.get_mut(&s.user_id) {
            v.retain(|x| !Arc::ptr_eq(x, s));
            if v.is_empty() {
                map.remove(&s.user_id);
            }
        }
    }

    /// True while any session of `user` has status online.
    pub fn is_online(&self, user: UserId) -> bool {
        self.shard(user)
            .read()
            .unwrap()
            .get(&user)
            .is_some_and(|v| v.iter().any(|s| s.online()))
    }

    /// Number of logged-in sessions of `user`.
    pub fn session_count(&self, user: UserId) -> usize {
        self.shard(user)
            .read()
            .unwrap()
            .get(&user)
            .map_or(0, Vec::len)
    }

    /// Deliver `items` in order. The initiator (if any) gets replies with its `request_uuid`.
    pub fn publish(&self, items: &[Publish], initiator: Option<&Initiator>) {
        for p in items {
            let mut plain: Option<Arc<str>> = None;
            let mut encode_plain = || -> Arc<str> {
                plain
                    .get_or_insert_with(|| {
                        encode_event(p.event, &p.payload, &EnvelopeFields::default()).into()
                    })
                    .clone()
            };
            let me = if p.reply { initiator } else { None };
            if let Some(i) = me {
                let fields = EnvelopeFields {
                    request_uuid: &i.request_uuid,
                    ..EnvelopeFields::default()
                };
                i.session
                    .push(encode_event(p.event, &p.payload, &fields).into());
            }
            for &u in &p.users {
                let shard = self.shard(u).read().unwrap();
                let Some(sessions) = shard.get(&u) else {
                    continue;
                };
                for s in sessions {
                    if me.is_some_and(|i| Arc::ptr_eq(&i.session, s)) {
                        continue;
                    }
                    s.push(encode_plain());
                }
            }
        }
    }
}
