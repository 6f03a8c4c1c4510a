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

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::Notify;
use vox_protocol::messaging::{EnvelopeFields, EventName, UserId, encode_event};

use serde_json::value::RawValue;

/// One logged-in session's outgoing queue of encoded messaging payloads.
///
/// Events pushed to the session (fan-out) are bounded by `capacity`: a session with that many
/// undelivered events is kicked. The session's own **replies** do not count against the bound
/// (they are bounded by its own requests in flight), so a client that pipelines requests is
/// never closed for its own answers. Replies and events share one FIFO, so the session sees
/// everything in the order it was published.
pub struct SessionTx {
    pub user_id: UserId,
    queue: Mutex<SessionQueue>,
    ready: Notify,
    capacity: usize,
    kicked: AtomicBool,
    kick: Notify,
    /// This session's own presence (`setStatus`).
    online: AtomicBool,
    /// Events dropped because the queue was full (then the session is kicked).
    pub dropped: AtomicU64,
}

#[derive(Default)]
struct SessionQueue {
    items: VecDeque<Queued>,
    /// Queued items that are events (not replies).
    events: usize,
    closed: bool,
}

impl SessionTx {
    pub fn new(user_id: UserId, capacity: usize) -> Arc<SessionTx> {
        Arc::new(SessionTx {
            user_id,
            queue: Mutex::new(SessionQueue::default()),
            ready: Notify::new(),
            capacity: capacity.max(1),
            kicked: AtomicBool::new(false),
            kick: Notify::new(),
            online: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        })
    }

    /// Queue a pushed event without waiting. False when it was not queued (closed, or full:
    /// then the session is kicked).
    pub fn push(&self, frame: Arc<str>) -> bool {
        self.enqueue(frame, false)
    }

    /// Queue this session's own reply (not bounded, see the type's documentation).
    pub fn push_reply(&self, frame: Arc<str>) -> bool {
        self.enqueue(frame, true)
    }

    fn enqueue(&self, frame: Arc<str>, reply: bool) -> bool {
        {
            let mut q = self.queue.lock().unwrap();
            if q.closed {
                return false;
            }
            if !reply && q.events >= self.capacity {
                drop(q);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                if !self.kicked.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        user = self.user_id,
                        "session queue full: closing slow session"
                    );
                    self.kick.notify_one();
                }
                return false;
            }
            if !reply {
                q.events += 1;
            }
            q.items.push_back((frame, reply));
        }
        self.ready.notify_one();
        true
    }

    /// Queue (and take) all of `frames`.
    fn enqueue_many(&self, frames: &mut Vec<Queued>) {
        let mut overflow = 0u64;
        {
            let mut q = self.queue.lock().unwrap();
            if q.closed {
                frames.clear();
                return;
            }
            for (frame, reply) in frames.drain(..) {
                if !reply {
                    if q.events >= self.capacity {
                        overflow += 1;
                        continue;
                    }
                    q.events += 1;
                }
                q.items.push_back((frame, reply));
            }
        }
        if overflow > 0 {
            self.dropped.fetch_add(overflow, Ordering::Relaxed);
            if !self.kicked.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    user = self.user_id,
                    "session queue full: closing slow session"
                );
                self.kick.notify_one();
            }
        }
        self.ready.notify_one();
    }

    /// Move up to `max` queued payloads to `out` (one lock for all of them).
    pub fn pop_into(&self, out: &mut VecDeque<Arc<str>>, max: usize) {
        let mut q = self.queue.lock().unwrap();
        let n = q.items.len().min(max);
        out.reserve(n); // one allocation, not one per doubling
        let mut events = 0;
        for (frame, reply) in q.items.drain(..n) {
            events += usize::from(!reply);
            out.push_back(frame);
        }
        q.events -= events;
    }

    /// Take the next queued payload, if any.
    pub fn try_pop(&self) -> Option<Arc<str>> {
        let mut q = self.queue.lock().unwrap();
        let (frame, reply) = q.items.pop_front()?;
        if !reply {
            q.events -= 1;
        }
        Some(frame)
    }

    /// Wait for the next queued payload.
    pub async fn pop(&self) -> Arc<str> {
        loop {
            if let Some(f) = self.try_pop() {
                return f;
            }
            self.ready.notified().await;
        }
    }

    /// Nothing more is queued (the session ended).
    pub fn close(&self) {
        let mut q = self.queue.lock().unwrap();
        q.closed = true;
        q.items.clear();
        q.events = 0;
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
        let mut batch = Batch::with_hint(1);
        self.collect(&mut batch, items, initiator);
        batch.flush();
    }

    /// Add `items` to `batch` (see [`publish`](Self::publish)).
    pub fn collect(&self, batch: &mut Batch, items: &[Publish], initiator: Option<&Initiator>) {
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
                batch.add(
                    &i.session,
                    encode_event(p.event, &p.payload, &fields).into(),
                    true,
                );
            }
            // Consecutive events of one conversation go to the same users: their sessions are
            // looked up once per batch, not once per event.
            if batch.last_users != p.users {
                batch.last_users.clear();
                batch.last_users.extend_from_slice(&p.users);
                batch.last_slots.clear();
                for &u in &p.users {
                    let shard = self.shard(u).read().unwrap();
                    let Some(sessions) = shard.get(&u) else {
                        continue;
                    };
                    for s in sessions {
                        let slot = batch.slot(s);
                        batch.last_slots.push(slot);
                    }
                }
            }
            let skip = me.map(|i| batch.slot(&i.session));
            for k in 0..batch.last_slots.len() {
                let slot = batch.last_slots[k];
                if Some(slot) == skip {
                    continue;
                }
                let frame = encode_plain();
                batch.slots[slot].1.push((frame, false));
            }
        }
    }
}

/// Frames collected for many sessions (e.g. one commit's worth of events), handed over with one
/// lock and one wake-up per session instead of one per frame. Each session's frames keep the
/// order they were added in.
#[derive(Default)]
pub struct Batch {
    /// Each session's frames, in the order the sessions first appeared.
    slots: Vec<(Arc<SessionTx>, Vec<Queued>)>,
    /// Slot of each session, by address.
    index: HashMap<usize, usize, BuildHasherDefault<PtrHasher>>,
    /// The user list last resolved by [`Hub::collect`] and the slots of its sessions.
    last_users: Vec<UserId>,
    last_slots: Vec<usize>,
    /// Initial capacity of a slot's frame list.
    hint: usize,
    /// Emptied frame lists, for the next slots.
    spare: Vec<Vec<Queued>>,
}

thread_local! {
    /// The last flushed batch of this thread, kept for its allocations: a batch is built and
    /// flushed for every commit, and allocating its lists afresh each time made the publisher
    /// fault in (and zero) new pages all the time.
    static BATCH_POOL: std::cell::RefCell<Option<Batch>> = const { std::cell::RefCell::new(None) };
}

/// Hashes the address of a [`SessionTx`] (the key of [`Batch`]): one multiplication instead
/// of SipHash for every delivery.
#[derive(Default)]
pub struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, v: usize) {
        self.0 = ((v as u64) >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A queued frame and whether it is the session's own reply.
type Queued = (Arc<str>, bool);

impl Batch {
    /// A batch for about `events` events per session.
    pub fn with_hint(events: usize) -> Self {
        let mut b = BATCH_POOL
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default();
        b.hint = events.min(64);
        b
    }

    fn slot(&mut self, s: &Arc<SessionTx>) -> usize {
        let next = self.slots.len();
        let slot = *self.index.entry(Arc::as_ptr(s) as usize).or_insert(next);
        if slot == next {
            let frames = self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(self.hint));
            self.slots.push((s.clone(), frames));
        }
        slot
    }

    /// Queue `frame` for `s`; `reply` frames do not count against the session's bound.
    pub fn add(&mut self, s: &Arc<SessionTx>, frame: Arc<str>, reply: bool) {
        let slot = self.slot(s);
        self.slots[slot].1.push((frame, reply));
    }

    pub fn flush(mut self) {
        for (s, mut frames) in self.slots.drain(..) {
            s.enqueue_many(&mut frames);
            if frames.capacity() <= 1024 && self.spare.len() < 1024 {
                self.spare.push(frames);
            }
        }
        if self.index.capacity() > 4096 {
            self.index = HashMap::default();
        }
        self.index.clear();
        self.last_users.clear();
        self.last_slots.clear();
        BATCH_POOL.with(|p| *p.borrow_mut() = Some(self));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vox_protocol::messaging::{Action, EventPayload, TypingMessage};

    fn typing(user: UserId) -> Box<RawValue> {
        EventPayload::new(
            user,
            Action::TypingMessage,
            TypingMessage {
                conversation: "c".into(),
            },
        )
        .to_raw()
    }

    #[test]
    fn full_queue_kicks_only_that_session() {
        let hub = Hub::default();
        let slow = SessionTx::new(1, 2);
        let fast = SessionTx::new(2, 100);
        hub.register(slow.clone());
        hub.register(fast.clone());
        for _ in 0..5 {
            hub.publish(
                &[Publish::new(
                    EventName::Typing,
                    typing(3),
                    vec![1, 2],
                    false,
                )],
                None,
            );
        }
        assert!(slow.is_kicked());
        assert_eq!(slow.dropped.load(Ordering::Relaxed), 3);
        assert!(!fast.is_kicked());
        let mut n = 0;
        while fast.try_pop().is_some() {
            n += 1;
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn reply_goes_to_initiator_with_uuid_and_others_without() {
        let hub = Hub::default();
        let me = SessionTx::new(1, 1);
        let me2 = SessionTx::new(1, 10);
        let other = SessionTx::new(2, 10);
        // Replies do not count against the bound.
        for _ in 0..3 {
            assert!(me.push_reply("r".into()));
        }
        for _ in 0..3 {
            me.try_pop().unwrap();
        }
        for s in [&me, &me2, &other] {
            hub.register(s.clone());
        }
        let init = Initiator {
            session: me.clone(),
            request_uuid: "req-1".into(),
        };
        hub.publish(
            &[Publish::new(
                EventName::Typing,
                typing(1),
                vec![1, 2, 2],
                true,
            )],
            Some(&init),
        );
        let mine = me.try_pop().unwrap();
        assert!(mine.contains(r#""request_uuid":"req-1""#));
        assert!(
            me.try_pop().is_none(),
            "the initiator gets exactly one copy"
        );
        let a = me2.try_pop().unwrap();
        let b = other.try_pop().unwrap();
        assert!(a.contains(r#""request_uuid":"""#));
        assert!(
            Arc::ptr_eq(&a, &b),
            "encoded once, shared by every recipient"
        );
        assert!(other.try_pop().is_none(), "duplicate user ids deliver once");
        hub.unregister(&me2);
        assert_eq!(hub.session_count(1), 1);
        assert!(!hub.is_online(1));
        me.set_online(true);
        assert!(hub.is_online(1));
    }
}
