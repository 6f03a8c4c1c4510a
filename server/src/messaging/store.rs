//! Messaging storage on SQLite: one **writer thread** with group commit, plus a small pool of
//! read connections (WAL lets readers run while the writer commits).
//!
//! # Writes
//! Every state-changing request becomes a [`WriteJob`] on a bounded queue. The writer thread takes
//! the first waiting job, then every job already queued (up to [`StoreOptions::max_batch`]), and
//! runs them in **one** transaction, each inside its own savepoint: a job validates, authorises
//! and writes against the transaction's current state; a rejected job rolls its savepoint back,
//! so it leaves no trace and takes no `seq`. `sendMessage`, the hot path, runs without a
//! savepoint: it finishes every check before its first write, so a refused message has nothing
//! to roll back (and one that fails after writing fails the whole batch, below). Then the
//! transaction commits (one fsync for the whole batch with `synchronous=FULL`), and only
//! **after** the commit is the batch handed to the publisher thread, which gives the jobs'
//! events to the sessions in commit order (while the writer already works on the next batch).
//! A conversation's events therefore reach every session in `seq` order, and nothing is
//! announced that a crash could still lose.
//!
//! If a commit fails, or a `sendMessage` fails after its first write (a storage error or a bug;
//! the transaction is rolled back whole), the store is **poisoned**: the batch's requests get
//! error 500, later write requests error 30, and the process should be restarted (it reloads
//! the committed state). Continuing after a failed fsync could announce state that is not on
//! disk.
//!
//! # Reads
//! Reads (`getUser`, `getConversation`, `retransmitEvents`, …) run on [`StoreOptions::readers`]
//! connections on Tokio's blocking pool. A reader sees every committed batch.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use vox_protocol::messaging::{
    Action, Conversation, CreateConversation, EditConversation, EditMessage, EditUser, ErrorCode,
    EventName, EventPayload, JsonObject, ManageParticipants, ManageSubscribes, Message,
    Participant, Permissions, RemoveMessage, RemoveParticipants, Request, SendMessage,
    StatusMessage, User, UserId,
};

use super::fanout::{Batch, Hub, Initiator, Publish};
use super::limits::*;

/// Why a request was refused: the protocol's code and, when the code's own description would be
/// misleading, a more precise one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub code: ErrorCode,
    pub description: Option<String>,
}

impl Reject {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Reject {
            code,
            description: Some(description.into()),
        }
    }

    pub fn description(&self) -> &str {
        self.description
            .as_deref()
            .unwrap_or_else(|| self.code.description())
    }
}

impl From<ErrorCode> for Reject {
    fn from(code: ErrorCode) -> Self {
        Reject {
            code,
            description: None,
        }
    }
}

impl From<rusqlite::Error> for Reject {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "messaging storage error");
        ErrorCode::Internal.into()
    }
}

pub type Res<T> = Result<T, Reject>;

fn fail<T>(code: ErrorCode) -> Res<T> {
    Err(code.into())
}

/// The logged-in user making a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub account_id: i64,
    pub root_account_id: i64,
}

/// A state change to commit.
pub enum WriteOp {
    /// A client request that changes state.
    Request(Request),
    /// Admin API: remove a conversation (by uuid).
    RemoveConversation(String),
}

pub struct WriteJob {
    pub op: WriteOp,
    /// The requesting user; `None` for the admin API (acting as the system).
    pub caller: Option<Caller>,
    /// Where the reply goes; `None` when nobody waits for an event frame.
    pub initiator: Option<Initiator>,
    /// Fired after the job's events (or its error) have been handed to the sessions.
    pub done: Option<oneshot::Sender<Result<(), Reject>>>,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub path: PathBuf,
    /// `synchronous=FULL` (acknowledged = on disk) when true; `OFF` otherwise (benchmarks).
    pub durable: bool,
    pub readers: usize,
    pub max_batch: usize,
    pub queue: usize,
    /// Group commit window: a batch starts at least this long after the previous one started
    /// (zero: at once). See `--commit-window-us`.
    pub commit_window: Duration,
    /// How wide the window may grow while the process is busy (see [`WindowControl`]).
    pub commit_window_max: Duration,
    /// WAL size at which the writer starts the log over (see `checkpointer`).
    pub wal_restart_bytes: u64,
    /// How long a seq-taking write is remembered for resends (seconds; see [`Dedup`]).
    pub request_log_secs: i64,
}

/// The messaging store: a writer thread and a read pool.
pub struct MsgStore {
    jobs: mpsc::Sender<WriteJob>,
    readers: Arc<ReadPool>,
    poisoned: Arc<AtomicBool>,
}

struct ReadPool {
    conns: Vec<Mutex<Connection>>,
    next: AtomicUsize,
}

fn open_conn(path: &PathBuf, durable: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if durable { "FULL" } else { "OFF" })?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Keep the hot pages in memory (64 MiB) and read the file through mmap, so that a write
    // does not re-read pages with read(2).
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints run on their own thread (see `checkpointer`), not inside the writer's commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", 64i64 << 20)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Copy the WAL back into the database file in the background (PASSIVE: never blocks the
/// writer or the readers), so that commits never pay for the bulk of it. Stops when the store
/// is dropped.
///
/// Often and little: every [`CHECKPOINT_EVERY`] while writes come in. A checkpoint writes
/// pages all over the database file and syncs it, and commits meanwhile wait longer for their
/// own sync (and for the CPU, on a small machine). Measured with vox-bench at 20 000 durable
/// msgs/s: every 500 ms a ~15 ms checkpoint of ~17 MB, and the slow acknowledgements came in
/// clusters every ~520 ms (commit p90 3.5 ms during a checkpoint, 0.6 ms otherwise); ack p99
/// 7.7–8.7 ms at 500 ms, 5.8–6.6 ms at 100 ms, 4.5–5.6 ms at 20 ms, 12.6 ms at 2 s. While
/// nothing is written, the pause doubles up to [`CHECKPOINT_IDLE_MAX`].
///
/// A background checkpoint alone never lets the WAL start over under steady writes: SQLite
/// restarts the log only in a write transaction that begins when *every* frame has been copied,
/// and the writer commits again while each checkpoint runs. Measured: 20 000
/// messages/s for 20 s left an 800 MB WAL, every checkpoint complete up to its own start. So
/// after each checkpoint the writer is asked (`catch_up`) to copy the few frames committed
/// meanwhile itself, between two batches; its next transaction then starts the WAL over. That
/// costs the writer a pause, so it is asked only once the WAL holds `restart_bytes`.
///
/// The pause is mostly the sync of the database file, and that grows with the pages written
/// since the last sync, scattered over the file: after one pass of ~15 ms at 20 000 msgs/s the
/// writer had ~100 frames left to copy and paused 5–7 ms, all of it in front of waiting
/// messages. So the checkpointer first runs further passes (at most [`EXTRA_PASSES`]) while a
/// pass still finds more than [`FEW_FRAMES`] new frames; each pass is shorter than the one
/// before, and the writer is left with what one short pass let through.
fn checkpointer(
    path: PathBuf,
    durable: bool,
    alive: std::sync::Weak<AtomicBool>,
    catch_up: Arc<AtomicBool>,
    restart_bytes: u64,
) {
    let conn = match open_conn(&path, durable) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "messaging checkpointer cannot open the database");
            return;
        }
    };
    // WAL frame = page + 24-byte header.
    let frame_bytes = 24
        + conn
            .pragma_query_value(None, "page_size", |r| r.get::<_, i64>(0))
            .unwrap_or(4096);
    let mut pause = CHECKPOINT_EVERY;
    let mut last = (0, 0);
    while alive.upgrade().is_some() {
        // PASSIVE copies what it can without waiting for anyone.
        let started = std::time::Instant::now();
        match passive_checkpoint(&conn) {
            // Off by default, like the writer's batch figures: `VOX_LOG=vox_batch=trace`.
            Ok((wal_frames, copied)) => {
                pause = next_pause(pause, last != (wal_frames, copied));
                last = (wal_frames, copied);
                tracing::trace!(
                    target: "vox_batch",
                    wal_frames,
                    copied,
                    checkpoint_us = started.elapsed().as_micros() as u64,
                    "checkpointed"
                );
                if wants_catch_up(wal_frames, copied, frame_bytes, restart_bytes) {
                    drain_passes(&conn, wal_frames);
                    catch_up.store(true, Ordering::Release);
                }
            }
            Err(e) => tracing::warn!(error = %e, "messaging checkpoint failed"),
        }
        // A periodic background task, not a synchronisation: nothing waits for it.
        std::thread::sleep(pause);
    }
}

/// Whether a pass that found `wal_frames` frames (of `frame_bytes` each) and copied up to
/// `copied` should have the writer copy the rest: only a complete pass over a WAL of at least
/// `restart_bytes`. (A pass that ends before the writer commits again leaves nothing to copy:
/// SQLite starts the WAL over at the next commit by itself, at no cost, whatever its size.)
fn wants_catch_up(wal_frames: i64, copied: i64, frame_bytes: i64, restart_bytes: u64) -> bool {
    wal_frames > 0 && copied >= wal_frames && (wal_frames * frame_bytes) as u64 >= restart_bytes
}

/// The checkpointer's pause while the WAL changes between passes.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);
/// Its longest pause while nothing is written.
const CHECKPOINT_IDLE_MAX: Duration = Duration::from_millis(500);

/// The pause after one of `pause`, depending on whether the WAL changed since the pass before.
fn next_pause(pause: Duration, changed: bool) -> Duration {
    if changed {
        CHECKPOINT_EVERY
    } else {
        (pause * 2).min(CHECKPOINT_IDLE_MAX)
    }
}

/// Most further checkpoint passes before the writer is asked to copy the rest (see
/// [`checkpointer`]).
const EXTRA_PASSES: usize = 4;
/// A pass that found at most this many new frames leaves the rest to the writer: about what a
/// millisecond of writes adds at 20 000 msgs/s, and syncing that few pages takes ~1 ms here.
const FEW_FRAMES: i64 = 32;

/// After a complete checkpoint of `wal_frames` frames: checkpoint again while the previous pass
/// let many new frames in (see [`checkpointer`]).
fn drain_passes(conn: &Connection, mut wal_frames: i64) {
    for _ in 0..EXTRA_PASSES {
        let started = std::time::Instant::now();
        let Ok((now_frames, copied)) = passive_checkpoint(conn) else {
            return;
        };
        tracing::trace!(
            target: "vox_batch",
            wal_frames = now_frames,
            copied,
            checkpoint_us = started.elapsed().as_micros() as u64,
            "checkpointed again"
        );
        if !another_pass(wal_frames, now_frames, copied) {
            return;
        }
        wal_frames = now_frames;
    }
}

/// Whether to run another pass after one that found `now_frames` in the WAL (which held
/// `before` at the previous pass) and copied up to `copied`.
fn another_pass(before: i64, now_frames: i64, copied: i64) -> bool {
    // A WAL that shrank was started over meanwhile (the writer found it fully copied); an
    // incomplete pass was held back by a reader: the next round tries again.
    now_frames >= before && copied >= now_frames && now_frames - before > FEW_FRAMES
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: (frames in the WAL, frames copied into the database).
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })
}

impl MsgStore {
    /// Open the store on an existing, migrated database file (see
    /// [`SqliteStore::open`](crate::store::sqlite::SqliteStore::open)) and start the writer.
    pub fn open(opts: StoreOptions, hub: Arc<Hub>) -> Result<MsgStore, String> {
        let writer = open_conn(&opts.path, opts.durable)
            .map_err(|e| format!("messaging database {}: {e}", opts.path.display()))?;
        // The writer starts the WAL over once it holds `wal_restart_bytes` (plus what half a
        // second of writes adds); keep that much of the file rather than cutting it back at
        // every restart and growing it again.
        writer
            .pragma_update(
                None,
                "journal_size_limit",
                (2 * opts.wal_restart_bytes).max(64 << 20) as i64,
            )
            .map_err(|e| format!("messaging database {}: {e}", opts.path.display()))?;
        let mut conns = Vec::new();
        for _ in 0..opts.readers.max(1) {
            conns.push(Mutex::new(open_conn(&opts.path, opts.durable).map_err(
                |e| format!("messaging database {}: {e}", opts.path.display()),
            )?));
        }
        let (tx, rx) = mpsc::channel(opts.queue.max(16));
        let poisoned = Arc::new(AtomicBool::new(false));
        let (path, durable, alive) = (opts.path.clone(), opts.durable, Arc::downgrade(&poisoned));
        let catch_up = Arc::new(AtomicBool::new(false));
        let restart_bytes = opts.wal_restart_bytes;
        let asked = catch_up.clone();
        std::thread::Builder::new()
            .name("vox-msg-checkpoint".into())
            .spawn(move || checkpointer(path, durable, alive, asked, restart_bytes))
            .map_err(|e| format!("cannot start the messaging checkpointer: {e}"))?;
        let (ptx, prx) = std::sync::mpsc::channel::<Committed>();
        std::thread::Builder::new()
            .name("vox-msg-publish".into())
            .spawn(move || {
                // Commits that are already waiting are published together: one wake-up and
                // one write per session for all of them, still in commit order.
                while let Ok(mut batch) = prx.recv() {
                    while let Ok(more) = prx.try_recv() {
                        batch.extend(more);
                    }
                    publish_committed(&hub, batch);
                }
            })
            .map_err(|e| format!("cannot start the messaging publisher: {e}"))?;
        let retention = opts.request_log_secs.max(1);
        let dedup = Dedup::load(&writer, now(), retention)
            .map_err(|e| format!("cannot read the request log: {e}"))?;
        let w = Writer {
            conn: writer,
            publisher: ptx,
            members: HashMap::new(),
            hot: HotConvs::default(),
            poisoned: poisoned.clone(),
            max_batch: opts.max_batch.max(1),
            window: WindowControl::new(opts.commit_window, opts.commit_window_max),
            catch_up,
            dedup,
        };
        std::thread::Builder::new()
            .name("vox-msg-writer".into())
            .spawn(move || w.run(rx))
            .map_err(|e| format!("cannot start the messaging writer: {e}"))?;
        Ok(MsgStore {
            jobs: tx,
            readers: Arc::new(ReadPool {
                conns,
                next: AtomicUsize::new(0),
            }),
            poisoned,
        })
    }

    /// Queue a write job (waits only while the queue is full).
    pub async fn submit(&self, job: WriteJob) {
        if self.poisoned.load(Ordering::Acquire) {
            finish_job(job, Err(ErrorCode::ServiceUnavailable.into()));
            return;
        }
        if let Err(mpsc::error::SendError(job)) = self.jobs.send(job).await {
            finish_job(job, Err(ErrorCode::ServiceUnavailable.into()));
        }
    }

    /// Run a read on one of the read connections, off the async runtime.
    pub async fn read<R, F>(&self, f: F) -> Res<R>
    where
        F: FnOnce(&Connection) -> Res<R> + Send + 'static,
        R: Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let i = pool.next.fetch_add(1, Ordering::Relaxed) % pool.conns.len();
            let conn = pool.conns[i].lock().unwrap_or_else(PoisonError::into_inner);
            f(&conn)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "messaging read task failed");
            Reject::from(ErrorCode::Internal)
        })?
    }
}

/// Answer a job that will not run (or whose commit failed): `onError` to its initiator.
fn finish_job(job: WriteJob, result: Res<()>) {
    if let (Err(r), Some(i), Some(c)) = (&result, &job.initiator, &job.caller)
        && let Some(action) = job_action(&job.op)
    {
        let frame = error_frame(&i.request_uuid, c.user_id, action, r);
        i.session.push_reply(frame.into());
    }
    if let Some(d) = job.done {
        let _ = d.send(result);
    }
}

fn job_action(op: &WriteOp) -> Option<Action> {
    match op {
        WriteOp::Request(r) => Some(r.action()),
        WriteOp::RemoveConversation(_) => None,
    }
}

/// The encoded `onError` answering `request_uuid`.
pub fn error_frame(request_uuid: &str, initiator: UserId, action: Action, r: &Reject) -> String {
    let payload = EventPayload::error(initiator, Some(action), r.code)
        .with_description(r.description())
        .with_timestamp(now());
    vox_protocol::messaging::encode_event(
        EventName::Error,
        &payload.to_raw(),
        &vox_protocol::messaging::EnvelopeFields {
            request_uuid,
            ..Default::default()
        },
    )
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The writer thread
// ---------------------------------------------------------------------------------------------

/// Active participants of a conversation with their flags (writer-local cache; see `members`).
type Members = Arc<Vec<(UserId, u32)>>;

struct Writer {
    conn: Connection,
    /// Committed batches go to the publisher thread, in commit order, so that publishing one
    /// batch overlaps the next batch's work and fsync.
    publisher: std::sync::mpsc::Sender<Committed>,
    /// Active members by conversation id, for the message hot path. Loaded inside the current
    /// transaction by message jobs only, and dropped by every job that may change membership
    /// (before it changes anything), so it never holds state a rolled-back savepoint wrote.
    members: HashMap<i64, Members>,
    poisoned: Arc<AtomicBool>,
    max_batch: usize,
    window: WindowControl,
    /// Set by the checkpointer after a complete checkpoint: copy what was committed meanwhile
    /// before the next batch, so that its transaction starts the WAL over (see `checkpointer`).
    catch_up: Arc<AtomicBool>,
    /// The request log's index, in memory (see [`Dedup`]).
    dedup: Dedup,
    /// `sendMessage`'s conversation ids and seqs (see [`HotConvs`]).
    hot: HotConvs,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<WriteJob>) {
        let mut batch: Vec<WriteJob> = Vec::with_capacity(self.max_batch);
        let mut last_start = std::time::Instant::now();
        while let Some(first) = rx.blocking_recv() {
            // Copy what the checkpointer left over (see `checkpointer`) now, while this batch
            // gathers: within the window the pause costs the waiting requests nothing.
            if !self.poisoned.load(Ordering::Acquire) && self.catch_up.swap(false, Ordering::AcqRel)
            {
                self.catch_up_wal();
            }
            let window = self.window.window(std::time::Instant::now());
            if !window.is_zero() {
                // Group commit window: under load, let the next batch gather for the rest of
                // the window (a paced start, not a synchronisation: nothing waits on a flag);
                // after a quiet spell the window is long over and the batch starts at once.
                let open_until = last_start + window;
                let now = std::time::Instant::now();
                if open_until > now {
                    std::thread::sleep(open_until - now);
                }
                last_start = std::time::Instant::now();
            }
            batch.push(first);
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            if self.poisoned.load(Ordering::Acquire) {
                for job in batch.drain(..) {
                    finish_job(job, Err(ErrorCode::ServiceUnavailable.into()));
                }
                continue;
            }
            self.run_batch(&mut batch);
        }
        tracing::debug!("messaging writer stopped");
    }

    /// Copy the frames the checkpointer has not, so that the next transaction starts the WAL
    /// over.
    fn catch_up_wal(&mut self) {
        let started = std::time::Instant::now();
        match passive_checkpoint(&self.conn) {
            Ok((wal_frames, copied)) => tracing::trace!(
                target: "vox_batch",
                wal_frames,
                copied,
                catch_up_us = started.elapsed().as_micros() as u64,
                "caught up"
            ),
            // Busy (a reader or the checkpointer): the next round tries again.
            Err(e) => tracing::debug!(error = %e, "writer checkpoint skipped"),
        }
    }

    fn run_batch(&mut self, batch: &mut Vec<WriteJob>) {
        let mut results: Vec<Res<Vec<Publish>>> = Vec::with_capacity(batch.len());
        let ts = now();
        let started = std::time::Instant::now();
        let mut executed = started;
        let outcome = (|| -> rusqlite::Result<()> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Forget expired requests a little in every batch: the index a few shards at a
            // time, the table at most a few rows more than the batch adds. (Once a minute, all
            // at once, would delete a minute of writes in one transaction: 1.2 M rows at
            // 20 000 msgs/s.)
            self.dedup.prune_some(ts, DEDUP_SHARDS_PER_BATCH);
            let n = prune_request_log(&tx, self.dedup.cutoff, 2 * batch.len() + 64)?;
            if n > 0 {
                tracing::trace!(target: "vox_batch", rows = n, "request log pruned");
            }
            for job in batch.iter() {
                let message = matches!(&job.op, WriteOp::Request(Request::SendMessage(_)));
                if !message {
                    self.hot.flush_and_forget(&tx)?;
                }
                self.hot.begin_job();
                // Every job but a message runs in its own savepoint, so a refused job leaves no
                // trace and takes no seq. A message does not: it makes every check before its
                // first write, so a refused message has written nothing to roll back (a
                // savepoint per message made SQLite copy the tail page of every table it
                // touched into the sub-journal: ~15 % of the writer's time). Should one fail
                // after writing (only a storage error or a bug can), the batch's transaction is
                // rolled back whole and the store poisoned, as for a failed commit.
                let savepoint = !message;
                if savepoint {
                    tx.prepare_cached("SAVEPOINT job")?.execute([])?;
                }
                let before = tx.total_changes();
                // A bug in a handler must not take the writer (and every later write) down:
                // a panicking job is refused with 500 and rolled back like any refused job.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    execute(&tx, &mut self.members, &mut self.hot, &mut self.dedup, job)
                }))
                .unwrap_or_else(|_| {
                    tracing::error!("a messaging write panicked; refused with 500");
                    Err(ErrorCode::Internal.into())
                });
                match r {
                    Ok(p) => {
                        if savepoint {
                            tx.prepare_cached("RELEASE job")?.execute([])?;
                        }
                        results.push(Ok(p));
                    }
                    Err(e) => {
                        if savepoint {
                            // Rolls the job back: no trace, no seq.
                            tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
                            tx.prepare_cached("RELEASE job")?.execute([])?;
                        } else if tx.total_changes() != before {
                            return Err(rusqlite::Error::SqliteFailure(
                                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                                Some(format!(
                                    "sendMessage failed after its first write (error {})",
                                    e.code as u32
                                )),
                            ));
                        }
                        self.hot.undo_job();
                        if e.code == ErrorCode::Internal {
                            self.members.clear();
                        }
                        results.push(Err(e));
                    }
                }
            }
            self.hot.flush(&tx)?;
            executed = std::time::Instant::now();
            tx.commit()
        })();
        // Off by default; `VOX_LOG=vox_batch=trace` shows batch sizes and commit (fsync) times.
        tracing::trace!(
            target: "vox_batch",
            jobs = batch.len(),
            exec_us = (executed - started).as_micros() as u64,
            commit_us = executed.elapsed().as_micros() as u64,
            "committed"
        );
        let results = match outcome {
            Ok(()) => results,
            Err(e) => {
                tracing::error!(error = %e, "messaging commit failed; refusing further writes until restart");
                self.poisoned.store(true, Ordering::Release);
                self.members.clear();
                self.hot = HotConvs::default();
                batch
                    .iter()
                    .map(|_| Err(ErrorCode::Internal.into()))
                    .collect()
            }
        };
        let committed: Committed = batch.drain(..).zip(results).collect();
        if let Err(std::sync::mpsc::SendError(lost)) = self.publisher.send(committed) {
            for (job, _) in lost {
                finish_job(job, Err(ErrorCode::Internal.into()));
            }
        }
    }
}

/// The group commit window, widened while the CPU is the bottleneck.
///
/// A wider window makes every batch carry more messages: one commit, one fsync and — what
/// dominates at large fan-out — one socket write per recipient session for all of them, so the
/// CPU per delivery falls; but each message may wait up to the window longer. That trade pays
/// only when the CPU is scarce. So every [`WindowControl::PERIOD`] the writer compares the
/// process's CPU time with what it may use (wall time × the CPUs it may run on): above
/// [`WindowControl::BUSY`] the window grows by [`WindowControl::STEP`] up to `max`, below
/// [`WindowControl::IDLE`] it shrinks back towards `min`; in between it stays.
#[derive(Debug)]
struct WindowControl {
    min: Duration,
    max: Duration,
    current: Duration,
    cpus: f64,
    /// Start of the current period: wall clock and process CPU time.
    since: std::time::Instant,
    cpu_since: Option<Duration>,
}

impl WindowControl {
    const PERIOD: Duration = Duration::from_millis(100);
    const STEP: Duration = Duration::from_micros(250);
    const BUSY: f64 = 0.70;
    const IDLE: f64 = 0.50;

    fn new(min: Duration, max: Duration) -> Self {
        WindowControl {
            min,
            max: max.max(min),
            current: min,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
            since: std::time::Instant::now(),
            cpu_since: process_cpu_time(),
        }
    }

    /// The window for a batch starting at `now`.
    fn window(&mut self, now: std::time::Instant) -> Duration {
        if self.max == self.min {
            return self.min;
        }
        let wall = now.saturating_duration_since(self.since);
        if wall >= Self::PERIOD {
            let cpu = process_cpu_time();
            if let (Some(c0), Some(c1)) = (self.cpu_since, cpu) {
                let share = c1.saturating_sub(c0).as_secs_f64() / (wall.as_secs_f64() * self.cpus);
                let next = self.next(share);
                if next != self.current {
                    tracing::debug!(
                        target: "vox_batch",
                        window_us = next.as_micros() as u64,
                        cpu_share = (share * 100.0).round(),
                        "commit window"
                    );
                    self.current = next;
                }
            }
            self.since = now;
            self.cpu_since = cpu;
        }
        self.current
    }

    /// The window after a period in which the process used `share` of the CPU it may use.
    fn next(&self, share: f64) -> Duration {
        if share > Self::BUSY {
            (self.current + Self::STEP).min(self.max)
        } else if share < Self::IDLE {
            self.current.saturating_sub(Self::STEP).max(self.min)
        } else {
            self.current
        }
    }
}

/// CPU time used so far by the whole process (all threads), where the platform tells.
fn process_cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A committed batch: each job with its outcome, in commit order.
type Committed = Vec<(WriteJob, Res<Vec<Publish>>)>;

/// Hand a whole commit's events over at once (one wake-up per session), in commit order; then
/// tell the waiting requests.
fn publish_committed(hub: &Hub, batch: Committed) {
    let started = std::time::Instant::now();
    let jobs = batch.len();
    let mut out = Batch::with_hint(jobs);
    let mut done = Vec::with_capacity(batch.len());
    for (job, r) in batch {
        match &r {
            Ok(publishes) => hub.collect(&mut out, publishes, job.initiator.as_ref()),
            Err(e) => {
                if let (Some(i), Some(c), Some(action)) =
                    (&job.initiator, &job.caller, job_action(&job.op))
                {
                    let frame = error_frame(&i.request_uuid, c.user_id, action, e);
                    out.add(&i.session, frame.into(), true);
                }
            }
        }
        if let Some(d) = job.done {
            done.push((d, r.map(drop)));
        }
    }
    out.flush();
    for (d, r) in done {
        let _ = d.send(r);
    }
    tracing::trace!(
        target: "vox_batch",
        jobs,
        publish_us = started.elapsed().as_micros() as u64,
        "published"
    );
}

/// How long the request log (`request_log`, migration 0003) remembers a write, so that a resent
/// request is answered instead of running again. A client resends only while a request is
/// pending (this SDK times requests out after 20 s), so ten minutes (the default of
/// `--request-log-secs`) is ample; the in-memory
/// index holds one entry per write of that window (~100 bytes each: ~40 MB after 20 s at
/// 20 000 msgs/s, measured with vox-bench; split into shards, ~40 bytes more while it grows:
/// the shards' outgrown tables stay in the heap).
pub const DEDUP_RETENTION_SECS: i64 = 600;
/// Shards of the request index the writer prunes per batch (all of them every 32 batches).
const DEDUP_SHARDS_PER_BATCH: usize = 8;

/// Delete the request log's expired rows from its head, at most `budget` of them; returns how
/// many. Rows are appended in time order, so the expired ones are a prefix of the rowid order:
/// reading stops at the first row still kept.
fn prune_request_log(conn: &Connection, cutoff: i64, budget: usize) -> rusqlite::Result<usize> {
    let mut last = None;
    {
        let mut q =
            conn.prepare_cached("SELECT id, created_at FROM request_log ORDER BY id LIMIT ?1")?;
        let mut rows = q.query([budget as i64])?;
        while let Some(r) = rows.next()? {
            if r.get::<_, i64>(1)? >= cutoff {
                break;
            }
            last = Some(r.get::<_, i64>(0)?);
        }
    }
    match last {
        Some(id) => conn
            .prepare_cached("DELETE FROM request_log WHERE id <= ?1")?
            .execute([id]),
        None => Ok(0),
    }
}

/// The actions whose writes take a conversation seq: each is executed at most once per
/// `(user, request_uuid)`; a repeat is answered from the request log.
pub fn is_deduplicated(action: Action) -> bool {
    matches!(
        action,
        Action::CreateConversation
            | Action::EditConversation
            | Action::JoinConversation
            | Action::LeaveConversation
            | Action::AddParticipants
            | Action::EditParticipants
            | Action::RemoveParticipants
            | Action::SendMessage
            | Action::EditMessage
            | Action::RemoveMessage
    )
}

thread_local! {
    /// The `(conversation, seq)` pairs taken by the job running on this (writer) thread, in
    /// order: [`seq_event`] appends, [`execute`] clears it before each job and reads it after,
    /// so the request log needs no parsing of the events it records.
    static TAKEN: std::cell::RefCell<Vec<(i64, u64)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What a committed seq-taking request took: its conversation and seq range.
#[derive(Clone, Copy)]
struct Recorded {
    conv: i64,
    first: u64,
    last: u64,
    /// When it was recorded (UNIX seconds).
    at: i64,
}

/// The request log's index, kept in memory by the writer thread: `(user, request_uuid)` →
/// the seqs the request took. The table `request_log` is its durable form — append-only, no
/// secondary index, so recording costs every write one short row at the end of a B-tree — and
/// is read back into this map when the server starts. Keys are 128-bit SipHash digests of
/// `(user, request_uuid)` under two per-process random keys: no client can aim a collision at
/// another request, and an accidental one is ~2^-128 per pair. Bounded by the retention
/// window (entries are dropped in time order when pruned).
///
/// Split into [`DEDUP_SHARDS`] maps by the key's top byte, each with its own time order: a
/// hash map grows by rehashing everything into a table twice the size, in one go, on the
/// writer thread. As one map that stalled a whole batch for 4, 8, 13 and 25 ms at 29 k, 57 k,
/// 115 k and 229 k entries (vox-bench, 20 000 msgs/s: ten minutes of retention reach 12 M, a
/// stall of a second or more); split, each step moves 1/256 of that, and the shards cross
/// their thresholds spread over many batches (batch exec max 1.4–1.7 ms at 340 k entries).
struct Dedup {
    shards: Box<[DedupShard]>,
    hashers: (std::hash::RandomState, std::hash::RandomState),
    /// Requests recorded before this (UNIX seconds) are forgotten, whether or not their shard
    /// has been pruned yet.
    cutoff: i64,
    retention: i64,
    /// Next shard to prune.
    cursor: usize,
}

/// See [`Dedup`].
const DEDUP_SHARDS: usize = 256;

#[derive(Default)]
struct DedupShard {
    map: HashMap<u128, Recorded, BuildHasherDefault<DigestHasher>>,
    /// Keys in the order they were recorded, with when (UNIX seconds).
    order: std::collections::VecDeque<(i64, u128)>,
}

/// The keys are already keyed digests: their low 64 bits serve as the hash as they are.
#[derive(Default)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

impl Dedup {
    fn new(now: i64, retention: i64) -> Dedup {
        Dedup {
            shards: (0..DEDUP_SHARDS).map(|_| DedupShard::default()).collect(),
            hashers: Default::default(),
            cutoff: now - retention,
            retention,
            cursor: 0,
        }
    }

    fn load(conn: &Connection, now: i64, retention: i64) -> rusqlite::Result<Dedup> {
        let mut d = Dedup::new(now, retention);
        let mut q = conn.prepare(
            "SELECT user_id, request_uuid, created_at, conv_id, first_seq, last_seq \
             FROM request_log WHERE created_at >= ?1 ORDER BY id",
        )?;
        let rows = q.query_map([now - retention], |r| {
            Ok((
                r.get::<_, i64>(0)? as UserId,
                r.get::<_, String>(1)?,
                Recorded {
                    conv: r.get(3)?,
                    first: r.get::<_, i64>(4)? as u64,
                    last: r.get::<_, i64>(5)? as u64,
                    at: r.get(2)?,
                },
            ))
        })?;
        for row in rows {
            let (user, uuid, rec) = row?;
            d.insert(user, &uuid, rec);
        }
        if d.len() > 0 {
            tracing::info!(requests = d.len(), "request log loaded");
        }
        Ok(d)
    }

    fn key(&self, user: UserId, request_uuid: &str) -> u128 {
        use std::hash::BuildHasher;
        let a = self.hashers.0.hash_one((user, request_uuid));
        let b = self.hashers.1.hash_one((user, request_uuid));
        ((a as u128) << 64) | b as u128
    }

    fn shard(&mut self, k: u128) -> &mut DedupShard {
        &mut self.shards[(k >> 120) as usize % DEDUP_SHARDS]
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.map.len()).sum()
    }

    fn get(&self, user: UserId, request_uuid: &str) -> Option<Recorded> {
        let k = self.key(user, request_uuid);
        self.shards[(k >> 120) as usize % DEDUP_SHARDS]
            .map
            .get(&k)
            .filter(|r| r.at >= self.cutoff)
            .copied()
    }

    fn insert(&mut self, user: UserId, request_uuid: &str, rec: Recorded) {
        let k = self.key(user, request_uuid);
        let shard = self.shard(k);
        shard.map.insert(k, rec);
        shard.order.push_back((rec.at, k));
    }

    /// At `now` (UNIX seconds): forget what is older than the retention, and free the memory
    /// of the next `shards` shards' expired entries.
    fn prune_some(&mut self, now: i64, shards: usize) {
        self.cutoff = self.cutoff.max(now - self.retention);
        for _ in 0..shards.min(DEDUP_SHARDS) {
            let cutoff = self.cutoff;
            let shard = &mut self.shards[self.cursor];
            self.cursor = (self.cursor + 1) % DEDUP_SHARDS;
            while let Some(&(at, k)) = shard.order.front() {
                if at >= cutoff {
                    break;
                }
                shard.order.pop_front();
                // Unless the same request was recorded again after it expired: then this
                // entry of the order is stale and the record is the newer one.
                if shard.map.get(&k).is_some_and(|r| r.at == at) {
                    shard.map.remove(&k);
                }
            }
            if shard.map.capacity() > 4 * shard.map.len().max(64) {
                shard.map.shrink_to_fit();
                shard.order.shrink_to_fit();
            }
        }
    }
}

/// The replies of a request already committed: the stored events of the seqs it took, as
/// publishes to the initiator only.
fn recorded_replies(conn: &Connection, rec: Recorded) -> Res<Vec<Publish>> {
    let mut q = conn.prepare_cached(
        "SELECT event, payload FROM events WHERE conv_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
    )?;
    let mut out = Vec::new();
    for r in q.query_map(params![rec.conv, rec.first as i64, rec.last as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (name, payload) = r?;
        let event = EventName::from_name(&name).ok_or(Reject::from(ErrorCode::Internal))?;
        let payload = RawValue::from_string(payload).map_err(|e| {
            tracing::error!(error = %e, conv = rec.conv, "unreadable stored event");
            Reject::from(ErrorCode::Internal)
        })?;
        out.push(Publish::reply_only(event, payload));
    }
    Ok(out)
}

/// Record which seqs a write took (the row in the same transaction as the write, then the
/// in-memory index). A write that took none (an existing direct conversation returned) is not
/// recorded: running it again changes nothing.
fn record_request(
    conn: &Connection,
    dedup: &mut Dedup,
    user: UserId,
    request_uuid: &str,
    taken: &[(i64, u64)],
    ts: i64,
) -> Res<()> {
    let Some(&(conv, first)) = taken.first() else {
        return Ok(());
    };
    // Every seq-taking action acts on one conversation; should that ever change, the log keeps
    // the first conversation's range (the reply the initiator gets first).
    let last = taken
        .iter()
        .filter(|(c, _)| *c == conv)
        .map(|&(_, s)| s)
        .max()
        .unwrap_or(first);
    conn.prepare_cached(
        "INSERT INTO request_log (user_id, request_uuid, created_at, conv_id, first_seq, last_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        user as i64,
        request_uuid,
        ts,
        conv,
        first as i64,
        last as i64
    ])?;
    dedup.insert(
        user,
        request_uuid,
        Recorded {
            conv,
            first,
            last,
            at: ts,
        },
    );
    Ok(())
}

/// Run one job. A seq-taking request whose `(user, request_uuid)` already committed is not run
/// again: its initiator gets the recorded reply (see migration 0003).
fn execute(
    conn: &Connection,
    members: &mut HashMap<i64, Members>,
    hot: &mut HotConvs,
    dedup: &mut Dedup,
    job: &WriteJob,
) -> Res<Vec<Publish>> {
    if let (WriteOp::Request(req), Some(c), Some(i)) = (&job.op, job.caller, &job.initiator)
        && is_deduplicated(req.action())
        && !i.request_uuid.is_empty()
    {
        if let Some(rec) = dedup.get(c.user_id, &i.request_uuid) {
            tracing::info!(action = %req.action(), request_uuid = %i.request_uuid, "repeated request answered from the request log");
            return recorded_replies(conn, rec);
        }
        TAKEN.with(|t| t.borrow_mut().clear());
        let publishes = execute_once(conn, members, hot, job)?;
        let taken = TAKEN.with(|t| std::mem::take(&mut *t.borrow_mut()));
        record_request(conn, dedup, c.user_id, &i.request_uuid, &taken, now())?;
        return Ok(publishes);
    }
    execute_once(conn, members, hot, job)
}

fn execute_once(
    conn: &Connection,
    members: &mut HashMap<i64, Members>,
    hot: &mut HotConvs,
    job: &WriteJob,
) -> Res<Vec<Publish>> {
    let c = job.caller;
    let ts = now();
    match (&job.op, c) {
        (WriteOp::RemoveConversation(uuid), _) => {
            members.clear();
            remove_conversation(conn, uuid, c.map_or(0, |c| c.user_id), ts)
        }
        (WriteOp::Request(req), Some(c)) => {
            use Request as Q;
            match req {
                Q::SendMessage(r) => send_message(conn, members, hot, &c, r, ts),
                Q::EditMessage(r) => edit_message(conn, members, &c, r, ts),
                Q::RemoveMessage(r) => remove_message(conn, members, &c, r, ts),
                Q::IsRead(r) => is_read(conn, members, &c, r, ts),
                other => {
                    members.clear();
                    match other {
                        Q::CreateConversation(r) => create_conversation(conn, &c, r, ts),
                        Q::EditConversation(r) => edit_conversation(conn, &c, r, ts),
                        Q::JoinConversation(r) => join_conversation(conn, &c, &r.uuid, ts),
                        Q::LeaveConversation(r) => leave_conversation(conn, &c, &r.uuid, ts),
                        Q::AddParticipants(r) => add_participants(conn, &c, r, ts),
                        Q::EditParticipants(r) => edit_participants(conn, &c, r, ts),
                        Q::RemoveParticipants(r) => remove_participants(conn, &c, r, ts),
                        Q::EditUser(r) => edit_user(conn, &c, r, ts),
                        Q::ManageNotification(r) => manage_notification(conn, &c, &r.notifications),
                        Q::Subscribe(r) => subscribe(conn, &c, r),
                        Q::Unsubscribe(r) => unsubscribe(conn, &c, r),
                        _ => fail(ErrorCode::General),
                    }
                }
            }
        }
        (WriteOp::Request(_), None) => fail(ErrorCode::NotAuthorized),
    }
}

// ---------------------------------------------------------------------------------------------
// Rows and objects (shared by the writer and the readers)
// ---------------------------------------------------------------------------------------------

/// A user as the messaging layer needs it.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: UserId,
    pub short: String,
    pub app: String,
    pub account: String,
    pub account_id: i64,
    pub display_name: String,
    pub custom_data: String,
    pub private_custom_data: String,
    pub deleted: bool,
}

impl UserRow {
    pub fn im_name(&self) -> String {
        format!("{}@{}.{}", self.short, self.app, self.account)
    }
}

const USER_SELECT: &str = "SELECT u.id, u.name, p.name, a.name, a.id, u.display_name, \
     u.custom_data, u.private_custom_data, u.deleted \
     FROM users u JOIN apps p ON p.id = u.app_id JOIN accounts a ON a.id = p.account_id";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get::<_, i64>(0)? as UserId,
        short: r.get(1)?,
        app: r.get(2)?,
        account: r.get(3)?,
        account_id: r.get(4)?,
        display_name: r.get(5)?,
        custom_data: r.get(6)?,
        private_custom_data: r.get(7)?,
        deleted: r.get::<_, i64>(8)? != 0,
    })
}

pub fn user_by_id(conn: &Connection, id: UserId) -> Res<Option<UserRow>> {
    if id > i64::MAX as u64 {
        return Ok(None);
    }
    let mut st = conn.prepare_cached(&format!("{USER_SELECT} WHERE u.id = ?1"))?;
    Ok(st.query_row([id as i64], user_from_row).optional()?)
}

/// By `user@app.account`, with or without a trailing domain (`.voximplant.com`).
pub fn user_by_name(conn: &Connection, name: &str) -> Res<Option<UserRow>> {
    let Some((short, rest)) = name.split_once('@') else {
        return Ok(None);
    };
    let mut labels = rest.split('.');
    let (Some(app), Some(account)) = (labels.next(), labels.next()) else {
        return Ok(None);
    };
    let mut st = conn.prepare_cached(&format!(
        "{USER_SELECT} WHERE u.name = ?1 AND p.name = ?2 AND a.name = ?3"
    ))?;
    Ok(st
        .query_row(params![short, app, account], user_from_row)
        .optional()?)
}

/// The top of an account's tree (the main developer account).
pub fn root_account(conn: &Connection, account_id: i64) -> Res<i64> {
    let mut st = conn.prepare_cached(
        "WITH RECURSIVE up(id, parent_id, depth) AS ( \
           SELECT id, parent_id, 0 FROM accounts WHERE id = ?1 \
           UNION ALL SELECT a.id, a.parent_id, up.depth + 1 FROM accounts a JOIN up ON a.id = up.parent_id \
           WHERE up.depth < 32) \
         SELECT id FROM up ORDER BY depth DESC LIMIT 1",
    )?;
    Ok(st
        .query_row([account_id], |r| r.get(0))
        .optional()?
        .unwrap_or(account_id))
}

/// The caller's identity for messaging.
pub fn caller_of(conn: &Connection, user_id: UserId) -> Res<Caller> {
    let u = user_by_id(conn, user_id)?.ok_or(Reject::from(ErrorCode::UserNotFound))?;
    Ok(Caller {
        user_id,
        account_id: u.account_id,
        root_account_id: root_account(conn, u.account_id)?,
    })
}

/// A live user the caller may address (same account tree), else error 25.
fn visible_user(conn: &Connection, c: &Caller, id: UserId, allow_deleted: bool) -> Res<UserRow> {
    match user_by_id(conn, id)? {
        Some(u)
            if (allow_deleted || !u.deleted)
                && root_account(conn, u.account_id)? == c.root_account_id =>
        {
            Ok(u)
        }
        _ => Err(Reject::new(
            ErrorCode::UserNotFound,
            format!("User is not found: {id}."),
        )),
    }
}

pub fn json_object(text: &str) -> JsonObject {
    serde_json::from_str(text).unwrap_or_default()
}

/// The wire user. `self_view` adds the private data and the lists only the user may see.
pub fn user_object(
    conn: &Connection,
    u: &UserRow,
    self_view: bool,
    name: Option<&str>,
) -> Res<User> {
    let mut user = User {
        user_id: u.id,
        user_name: name.map_or_else(|| u.im_name(), str::to_owned),
        display_name: u.display_name.clone(),
        custom_data: json_object(&u.custom_data),
        private_custom_data: None,
        deleted: u.deleted,
        notification_events: None,
        conversations_list: None,
        leave_conversations: None,
    };
    if self_view {
        user.private_custom_data = Some(json_object(&u.private_custom_data));
        let mut st = conn.prepare_cached(
            "SELECT c.uuid, p.active FROM participants p JOIN conversations c ON c.id = p.conv_id \
             WHERE p.user_id = ?1 AND c.removed = 0 ORDER BY c.id",
        )?;
        let mut active = Vec::new();
        let mut left = Vec::new();
        for row in st.query_map([u.id as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? != 0))
        })? {
            let (uuid, is_active) = row?;
            if is_active {
                active.push(uuid)
            } else {
                left.push(uuid)
            }
        }
        user.conversations_list = Some(active);
        user.leave_conversations = Some(left);
        let events: Option<String> = conn
            .prepare_cached("SELECT events FROM notification_settings WHERE user_id = ?1")?
            .query_row([u.id as i64], |r| r.get(0))
            .optional()?;
        user.notification_events = Some(
            events
                .and_then(|e| serde_json::from_str(&e).ok())
                .unwrap_or_default(),
        );
    }
    Ok(user)
}

#[derive(Debug, Clone)]
pub struct ConvRow {
    pub id: i64,
    pub uuid: String,
    pub creator_id: UserId,
    pub account_id: i64,
    pub root_account_id: i64,
    pub title: String,
    pub direct: bool,
    pub public_join: bool,
    pub uber: bool,
    pub custom_data: String,
    pub created_at: i64,
    pub last_update: i64,
    pub last_seq: u64,
    pub removed: bool,
}

const CONV_SELECT: &str = "SELECT id, uuid, creator_id, account_id, root_account_id, title, \
     direct, public_join, uber, custom_data, created_at, last_update, last_seq, removed \
     FROM conversations";

fn conv_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConvRow> {
    Ok(ConvRow {
        id: r.get(0)?,
        uuid: r.get(1)?,
        creator_id: r.get::<_, i64>(2)? as UserId,
        account_id: r.get(3)?,
        root_account_id: r.get(4)?,
        title: r.get(5)?,
        direct: r.get::<_, i64>(6)? != 0,
        public_join: r.get::<_, i64>(7)? != 0,
        uber: r.get::<_, i64>(8)? != 0,
        custom_data: r.get(9)?,
        created_at: r.get(10)?,
        last_update: r.get(11)?,
        last_seq: r.get::<_, i64>(12)? as u64,
        removed: r.get::<_, i64>(13)? != 0,
    })
}

pub fn conv_by_uuid(conn: &Connection, uuid: &str) -> Res<Option<ConvRow>> {
    let mut st = conn.prepare_cached(&format!("{CONV_SELECT} WHERE uuid = ?1"))?;
    Ok(st.query_row([uuid], conv_from_row).optional()?)
}

/// An existing, not removed conversation (else 8 / 16).
pub fn conv_live(conn: &Connection, uuid: &str) -> Res<ConvRow> {
    match conv_by_uuid(conn, uuid)? {
        None => fail(ErrorCode::ConversationNotFound),
        Some(c) if c.removed => fail(ErrorCode::ConversationDeleted),
        Some(c) => Ok(c),
    }
}

/// `(flags, active, last_read)` of a participant row (current or former).
pub fn participant_row(
    conn: &Connection,
    conv: i64,
    user: UserId,
) -> Res<Option<(u32, bool, u64)>> {
    let mut st = conn.prepare_cached(
        "SELECT flags, active, last_read FROM participants WHERE conv_id = ?1 AND user_id = ?2",
    )?;
    Ok(st
        .query_row(params![conv, user as i64], |r| {
            Ok((
                r.get::<_, i64>(0)? as u32,
                r.get::<_, i64>(1)? != 0,
                r.get::<_, i64>(2)? as u64,
            ))
        })
        .optional()?)
}

/// Flags of an active participant, else error 19 (a write by someone who is not a participant;
/// reads without access answer 12 instead).
fn active_flags(conn: &Connection, conv: i64, user: UserId) -> Res<u32> {
    match participant_row(conn, conv, user)? {
        Some((f, true, _)) => Ok(f),
        _ => fail(ErrorCode::NotParticipant),
    }
}

pub fn active_participants(conn: &Connection, conv: i64) -> Res<Vec<Participant>> {
    let mut st = conn.prepare_cached(
        "SELECT user_id, flags, last_read FROM participants WHERE conv_id = ?1 AND active = 1 \
         ORDER BY joined_at, user_id",
    )?;
    let rows = st.query_map([conv], |r| {
        Ok(Participant {
            user_id: r.get::<_, i64>(0)? as UserId,
            flags: Permissions(r.get::<_, i64>(1)? as u32),
            last_read: Some(r.get::<_, i64>(2)? as u64),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn active_ids(conn: &Connection, conv: i64) -> Res<Vec<UserId>> {
    let mut st = conn.prepare_cached(
        "SELECT user_id, flags FROM participants WHERE conv_id = ?1 AND active = 1",
    )?;
    let rows = st.query_map([conv], |r| Ok(r.get::<_, i64>(0)? as UserId))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn conv_object(conn: &Connection, c: &ConvRow) -> Res<Conversation> {
    Ok(Conversation {
        uuid: c.uuid.clone(),
        title: c.title.clone(),
        participants: active_participants(conn, c.id)?,
        direct: c.direct,
        enable_public_join: c.public_join,
        uber_conversation: c.uber,
        custom_data: json_object(&c.custom_data),
        created_at: Some(c.created_at),
        last_update: Some(c.last_update),
        last_seq: Some(c.last_seq),
    })
}

// ---------------------------------------------------------------------------------------------
// Write helpers
// ---------------------------------------------------------------------------------------------

const ALL: u32 = Permissions::ALL.0;

fn has(flags: u32, bit: Permissions) -> bool {
    flags & bit.0 != 0
}

/// Ownership as the Web SDK reads it (the SDK is the reference): 65535, or the owner bit with
/// at least one more bit (`32768 < flags < 65535`). The owner bit alone is not an owner.
fn owner(flags: u32) -> bool {
    Permissions(flags).is_owner()
}

fn next_seq(conn: &Connection, conv: i64, ts: i64) -> Res<u64> {
    let mut st = conn.prepare_cached(
        "UPDATE conversations SET last_seq = last_seq + 1, last_update = ?2 WHERE id = ?1 RETURNING last_seq",
    )?;
    Ok(st.query_row(params![conv, ts], |r| r.get::<_, i64>(0))? as u64)
}

fn store_event(
    conn: &Connection,
    conv: i64,
    seq: u64,
    event: EventName,
    payload: &RawValue,
) -> Res<()> {
    conn.prepare_cached(
        "INSERT INTO events (conv_id, seq, event, payload) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![conv, seq as i64, event.as_str(), payload.get()])?;
    Ok(())
}

/// Take the next seq, build the event, store it: the whole life of a seq-taking event.
fn seq_event(
    conn: &Connection,
    conv: i64,
    ts: i64,
    event: EventName,
    make: impl FnOnce(u64) -> Res<EventPayload>,
) -> Res<(u64, Box<RawValue>)> {
    let seq = next_seq(conn, conv, ts)?;
    let payload = make(seq)?.with_seq(seq).with_timestamp(ts).to_raw();
    store_event(conn, conv, seq, event, &payload)?;
    TAKEN.with(|t| t.borrow_mut().push((conv, seq)));
    Ok((seq, payload))
}

/// Emit a conversation event (`onEditConversation` etc.) after a change: takes a seq, stores
/// it, and returns it for the active participants plus `extra` users.
#[allow(clippy::too_many_arguments)]
fn conversation_event(
    conn: &Connection,
    c: &Caller,
    conv_id: i64,
    uuid: &str,
    event: EventName,
    action: Action,
    ts: i64,
    extra: &[UserId],
) -> Res<(u64, Publish)> {
    let (seq, payload) = seq_event(conn, conv_id, ts, event, |_| {
        let row = conv_live(conn, uuid)?;
        Ok(EventPayload::new(
            c.user_id,
            action,
            conv_object(conn, &row)?,
        ))
    })?;
    let mut users = active_ids(conn, conv_id)?;
    users.extend_from_slice(extra);
    Ok((seq, Publish::new(event, payload, users, true)))
}

fn check_title(title: &str) -> Res<()> {
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(Reject::new(
            ErrorCode::General,
            format!("The conversation title exceeds {MAX_TITLE_CHARS} characters."),
        ));
    }
    Ok(())
}

fn check_size(what: &str, v: &impl serde::Serialize, max: usize) -> Res<String> {
    let text = serde_json::to_string(v).map_err(|_| Reject::from(ErrorCode::General))?;
    if text.len() > max {
        return Err(Reject::new(
            ErrorCode::General,
            format!("The {what} exceeds {max} bytes."),
        ));
    }
    Ok(text)
}

fn add_member(
    conn: &Connection,
    conv: i64,
    user: UserId,
    flags: u32,
    last_read: u64,
    order: i64,
    seq: u64,
) -> Res<()> {
    conn.prepare_cached(
        "INSERT INTO participants (conv_id, user_id, flags, last_read, active, joined_at) \
         VALUES (?1, ?2, ?3, ?4, 1, ?5) \
         ON CONFLICT (conv_id, user_id) DO UPDATE SET flags = ?3, last_read = ?4, active = 1, joined_at = ?5",
    )?
    .execute(params![conv, user as i64, flags as i64, last_read as i64, order])?;
    conn.prepare_cached(
        "INSERT INTO participation (conv_id, user_id, from_seq, to_seq) VALUES (?1, ?2, ?3, NULL)",
    )?
    .execute(params![conv, user as i64, seq as i64])?;
    Ok(())
}

fn drop_member(conn: &Connection, conv: i64, user: UserId, seq: u64) -> Res<()> {
    conn.prepare_cached("UPDATE participants SET active = 0 WHERE conv_id = ?1 AND user_id = ?2")?
        .execute(params![conv, user as i64])?;
    conn.prepare_cached(
        "UPDATE participation SET to_seq = ?3 WHERE conv_id = ?1 AND user_id = ?2 AND to_seq IS NULL",
    )?
    .execute(params![conv, user as i64, seq as i64])?;
    Ok(())
}

fn active_count(conn: &Connection, conv: i64) -> Res<usize> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM participants WHERE conv_id = ?1 AND active = 1")?
        .query_row([conv], |r| r.get::<_, i64>(0))? as usize)
}

// ---------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------

fn create_conversation(
    conn: &Connection,
    c: &Caller,
    r: &CreateConversation,
    ts: i64,
) -> Res<Vec<Publish>> {
    check_title(&r.title)?;
    let custom = check_size(
        "conversation custom data",
        &r.custom_data,
        MAX_CONVERSATION_CUSTOM_DATA,
    )?;
    let uber = r.uber_conversation.unwrap_or(false);
    if r.direct && (r.enable_public_join || uber) {
        return fail(ErrorCode::DirectCannotBePublicOrUber);
    }
    // Others, in request order, duplicates ignored (first wins), the creator left out.
    let mut others: Vec<(UserId, u32, u64)> = Vec::new();
    for p in &r.participants {
        if p.user_id != c.user_id && !others.iter().any(|o| o.0 == p.user_id) {
            others.push((
                p.user_id,
                p.flags.for_create().0 & ALL,
                p.last_read.unwrap_or(0),
            ));
        }
    }
    if r.direct && others.len() != 1 {
        return fail(ErrorCode::DirectTwoUsersOnly);
    }
    if others.len() + 1 > MAX_PARTICIPANTS {
        return Err(Reject::new(
            ErrorCode::ObjectCountTooLarge,
            format!("A conversation has at most {MAX_PARTICIPANTS} participants."),
        ));
    }
    for o in &others {
        visible_user(conn, c, o.0, false)?;
    }
    let direct_key = r.direct.then(|| {
        let (a, b) = (c.user_id.min(others[0].0), c.user_id.max(others[0].0));
        format!("{a}:{b}")
    });
    if let Some(key) = &direct_key {
        let existing: Option<String> = conn
            .prepare_cached("SELECT uuid FROM conversations WHERE direct_key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        if let Some(uuid) = existing {
            // The pair already has its direct conversation: answer with it, change nothing.
            let row = conv_live(conn, &uuid)?;
            let payload = EventPayload::new(
                c.user_id,
                Action::CreateConversation,
                conv_object(conn, &row)?,
            )
            .with_seq(row.last_seq)
            .with_timestamp(ts)
            .to_raw();
            return Ok(vec![Publish::reply_only(
                EventName::CreateConversation,
                payload,
            )]);
        }
    }
    let uuid = uuid::Uuid::now_v7().to_string();
    let conv_id: i64 = conn
        .prepare_cached(
            "INSERT INTO conversations (uuid, creator_id, account_id, root_account_id, title, direct, \
             public_join, uber, custom_data, created_at, last_update, last_seq, direct_key) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 0, ?11) RETURNING id",
        )?
        .query_row(
            params![
                uuid,
                c.user_id as i64,
                c.account_id,
                c.root_account_id,
                r.title,
                r.direct as i64,
                r.enable_public_join as i64,
                uber as i64,
                custom,
                ts,
                direct_key
            ],
            |r| r.get(0),
        )?;
    add_member(conn, conv_id, c.user_id, ALL, 0, 0, 1)?;
    for (i, (id, flags, last_read)) in others.iter().enumerate() {
        add_member(conn, conv_id, *id, *flags, *last_read, i as i64 + 1, 1)?;
    }
    let (_, p) = conversation_event(
        conn,
        c,
        conv_id,
        &uuid,
        EventName::CreateConversation,
        Action::CreateConversation,
        ts,
        &[],
    )?;
    Ok(vec![p])
}

fn edit_conversation(
    conn: &Connection,
    c: &Caller,
    r: &EditConversation,
    ts: i64,
) -> Res<Vec<Publish>> {
    let conv = conv_live(conn, &r.uuid)?;
    let flags = active_flags(conn, conv.id, c.user_id)?;
    if !owner(flags) {
        return Err(Reject::new(
            ErrorCode::AccessDenied,
            "Only an owner can edit the conversation.",
        ));
    }
    check_title(&r.title)?;
    if conv.direct && r.enable_public_join == Some(true) {
        return fail(ErrorCode::DirectCannotBePublicOrUber);
    }
    let custom = match &r.custom_data {
        Some(d) => check_size("conversation custom data", d, MAX_CONVERSATION_CUSTOM_DATA)?,
        None => conv.custom_data.clone(),
    };
    conn.prepare_cached(
        "UPDATE conversations SET title = ?2, public_join = ?3, custom_data = ?4 WHERE id = ?1",
    )?
    .execute(params![
        conv.id,
        r.title,
        r.enable_public_join.unwrap_or(conv.public_join) as i64,
        custom
    ])?;
    let (_, p) = conversation_event(
        conn,
        c,
        conv.id,
        &conv.uuid,
        EventName::EditConversation,
        Action::EditConversation,
        ts,
        &[],
    )?;
    Ok(vec![p])
}

fn join_conversation(conn: &Connection, c: &Caller, uuid: &str, ts: i64) -> Res<Vec<Publish>> {
    let conv = conv_live(conn, uuid)?;
    if conv.direct {
        return fail(ErrorCode::DirectJoin);
    }
    let visible = conv.account_id == c.account_id || conv.account_id == c.root_account_id;
    if !conv.public_join || !visible {
        return fail(ErrorCode::PublicJoinUnavailable);
    }
    if matches!(
        participant_row(conn, conv.id, c.user_id)?,
        Some((_, true, _))
    ) {
        return fail(ErrorCode::AlreadyParticipant);
    }
    if active_count(conn, conv.id)? >= MAX_PARTICIPANTS {
        return Err(Reject::new(
            ErrorCode::ObjectCountTooLarge,
            format!("A conversation has at most {MAX_PARTICIPANTS} participants."),
        ));
    }
    let seq = conv.last_seq + 1;
    add_member(
        conn,
        conv.id,
        c.user_id,
        Permissions::CREATE_DEFAULT.0,
        0,
        seq as i64 * 1024,
        seq,
    )?;
    let (got, p) = conversation_event(
        conn,
        c,
        conv.id,
        uuid,
        EventName::EditConversation,
        Action::JoinConversation,
        ts,
        &[],
    )?;
    debug_assert_eq!(got, seq);
    Ok(vec![p])
}

fn leave_conversation(conn: &Connection, c: &Caller, uuid: &str, ts: i64) -> Res<Vec<Publish>> {
    let conv = conv_live(conn, uuid)?;
    if conv.direct {
        return fail(ErrorCode::DirectLeave);
    }
    if !matches!(
        participant_row(conn, conv.id, c.user_id)?,
        Some((_, true, _))
    ) {
        return fail(ErrorCode::NotParticipant);
    }
    drop_member(conn, conv.id, c.user_id, conv.last_seq + 1)?;
    let (_, p) = conversation_event(
        conn,
        c,
        conv.id,
        uuid,
        EventName::EditConversation,
        Action::LeaveConversation,
        ts,
        &[c.user_id],
    )?;
    Ok(vec![p])
}

/// The caller may manage participants (manage bit or owner).
fn manager_flags(conn: &Connection, conv: &ConvRow, c: &Caller) -> Res<u32> {
    let flags = active_flags(conn, conv.id, c.user_id)?;
    if !has(flags, Permissions::MANAGE_PARTICIPANTS) && !owner(flags) {
        return Err(Reject::new(
            ErrorCode::AccessDenied,
            "Managing participants needs the can_manage_participants permission.",
        ));
    }
    Ok(flags)
}

fn owner_needed() -> Reject {
    Reject::new(
        ErrorCode::AccessDenied,
        "Only an owner can grant, change or remove ownership.",
    )
}

fn add_participants(
    conn: &Connection,
    c: &Caller,
    r: &ManageParticipants,
    ts: i64,
) -> Res<Vec<Publish>> {
    let conv = conv_live(conn, &r.uuid)?;
    let mine = active_flags(conn, conv.id, c.user_id)?;
    if conv.direct {
        return fail(ErrorCode::DirectAddParticipant);
    }
    manager_flags(conn, &conv, c)?;
    let mut list: Vec<&Participant> = Vec::new();
    for p in &r.participants {
        if !list.iter().any(|q| q.user_id == p.user_id) {
            list.push(p);
        }
    }
    if list.is_empty() {
        return fail(ErrorCode::ObjectCountInvalid);
    }
    for p in &list {
        visible_user(conn, c, p.user_id, false)?;
        if matches!(
            participant_row(conn, conv.id, p.user_id)?,
            Some((_, true, _))
        ) {
            return Err(Reject::new(
                ErrorCode::AlreadyParticipant,
                format!("User is already in the participants list: {}.", p.user_id),
            ));
        }
        if owner(p.flags.0) && !owner(mine) {
            return Err(owner_needed());
        }
    }
    if active_count(conn, conv.id)? + list.len() > MAX_PARTICIPANTS {
        return Err(Reject::new(
            ErrorCode::ObjectCountTooLarge,
            format!("A conversation has at most {MAX_PARTICIPANTS} participants."),
        ));
    }
    let seq = conv.last_seq + 1;
    for (i, p) in list.iter().enumerate() {
        let flags = if p.flags.is_empty() {
            Permissions::CREATE_DEFAULT.0
        } else {
            p.flags.0 & ALL
        };
        add_member(
            conn,
            conv.id,
            p.user_id,
            flags,
            p.last_read.unwrap_or(0),
            seq as i64 * 1024 + i as i64,
            seq,
        )?;
    }
    let (_, pb) = conversation_event(
        conn,
        c,
        conv.id,
        &conv.uuid,
        EventName::EditConversation,
        Action::AddParticipants,
        ts,
        &[],
    )?;
    Ok(vec![pb])
}

fn edit_participants(
    conn: &Connection,
    c: &Caller,
    r: &ManageParticipants,
    ts: i64,
) -> Res<Vec<Publish>> {
    let conv = conv_live(conn, &r.uuid)?;
    let mine = manager_flags(conn, &conv, c)?;
    let mut list: Vec<&Participant> = Vec::new();
    for p in &r.participants {
        if !list.iter().any(|q| q.user_id == p.user_id) {
            list.push(p);
        }
    }
    if list.is_empty() {
        return fail(ErrorCode::ObjectCountInvalid);
    }
    for p in &list {
        visible_user(conn, c, p.user_id, true)?;
        let Some((old, true, _)) = participant_row(conn, conv.id, p.user_id)? else {
            return Err(Reject::new(
                ErrorCode::NotParticipant,
                format!("User is not in the participants list: {}.", p.user_id),
            ));
        };
        if (owner(old) || owner(p.flags.0)) && !owner(mine) {
            return Err(owner_needed());
        }
    }
    for p in &list {
        conn.prepare_cached(
            "UPDATE participants SET flags = ?3 WHERE conv_id = ?1 AND user_id = ?2",
        )?
        .execute(params![conv.id, p.user_id as i64, (p.flags.0 & ALL) as i64])?;
    }
    let (_, pb) = conversation_event(
        conn,
        c,
        conv.id,
        &conv.uuid,
        EventName::EditConversation,
        Action::EditParticipants,
        ts,
        &[],
    )?;
    Ok(vec![pb])
}

fn remove_participants(
    conn: &Connection,
    c: &Caller,
    r: &RemoveParticipants,
    ts: i64,
) -> Res<Vec<Publish>> {
    let conv = conv_live(conn, &r.uuid)?;
    let mine = active_flags(conn, conv.id, c.user_id)?;
    if conv.direct {
        return fail(ErrorCode::DirectRemoveParticipant);
    }
    manager_flags(conn, &conv, c)?;
    let mut ids: Vec<UserId> = Vec::new();
    for &id in &r.participants {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return fail(ErrorCode::ObjectCountInvalid);
    }
    for &id in &ids {
        visible_user(conn, c, id, true)?;
        let Some((old, true, _)) = participant_row(conn, conv.id, id)? else {
            return Err(Reject::new(
                ErrorCode::NotParticipant,
                format!("User is not in the participants list: {id}."),
            ));
        };
        if owner(old) && !owner(mine) {
            return Err(owner_needed());
        }
    }
    let seq = conv.last_seq + 1;
    for &id in &ids {
        drop_member(conn, conv.id, id, seq)?;
    }
    let (_, pb) = conversation_event(
        conn,
        c,
        conv.id,
        &conv.uuid,
        EventName::EditConversation,
        Action::RemoveParticipants,
        ts,
        &ids,
    )?;
    Ok(vec![pb])
}

fn remove_conversation(
    conn: &Connection,
    uuid: &str,
    initiator: UserId,
    ts: i64,
) -> Res<Vec<Publish>> {
    let conv = conv_live(conn, uuid)?;
    let (_, payload) = seq_event(conn, conv.id, ts, EventName::RemoveConversation, |seq| {
        let mut row = conv.clone();
        row.last_update = ts;
        row.last_seq = seq;
        Ok(EventPayload::new(
            initiator,
            Action::RemoveConversation,
            conv_object(conn, &row)?,
        ))
    })?;
    conn.prepare_cached("UPDATE conversations SET removed = 1, direct_key = NULL WHERE id = ?1")?
        .execute([conv.id])?;
    let users = active_ids(conn, conv.id)?;
    Ok(vec![Publish::new(
        EventName::RemoveConversation,
        payload,
        users,
        false,
    )])
}

// ---------------------------------------------------------------------------------------------
// Messages (the hot path)
// ---------------------------------------------------------------------------------------------

fn members_of(conn: &Connection, cache: &mut HashMap<i64, Members>, conv: i64) -> Res<Members> {
    if let Some(m) = cache.get(&conv) {
        return Ok(m.clone());
    }
    let mut st = conn.prepare_cached(
        "SELECT user_id, flags FROM participants WHERE conv_id = ?1 AND active = 1",
    )?;
    let rows = st.query_map([conv], |r| {
        Ok((r.get::<_, i64>(0)? as UserId, r.get::<_, i64>(1)? as u32))
    })?;
    let m: Members = Arc::new(rows.collect::<rusqlite::Result<_>>()?);
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(conv, m.clone());
    Ok(m)
}

fn member_flags(m: &Members, user: UserId) -> Res<u32> {
    m.iter()
        .find(|(u, _)| *u == user)
        .map(|(_, f)| *f)
        .ok_or_else(|| ErrorCode::NotParticipant.into())
}

fn live_id(conn: &Connection, uuid: &str) -> Res<(i64, u64)> {
    let mut st =
        conn.prepare_cached("SELECT id, removed, last_seq FROM conversations WHERE uuid = ?1")?;
    match st
        .query_row([uuid], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)? != 0,
                r.get::<_, i64>(2)? as u64,
            ))
        })
        .optional()?
    {
        None => fail(ErrorCode::ConversationNotFound),
        Some((_, true, _)) => fail(ErrorCode::ConversationDeleted),
        Some((id, false, last)) => Ok((id, last)),
    }
}

/// Validate text and payload of a new or edited message (length, size, not both empty).
fn check_message(text: &Option<String>, payload: &Option<Vec<JsonObject>>) -> Res<()> {
    if let Some(t) = text
        && t.chars().count() > MAX_TEXT_CHARS
    {
        return fail(ErrorCode::MessageTooLong);
    }
    let empty_payload = Vec::new();
    let p = payload.as_ref().unwrap_or(&empty_payload);
    if !p.is_empty() {
        check_size("message payload", p, MAX_MESSAGE_PAYLOAD)?;
    } else if text.as_deref().unwrap_or("").is_empty() {
        return Err(Reject::new(
            ErrorCode::General,
            "A message needs a text or a payload.",
        ));
    }
    Ok(())
}

fn send_message(
    conn: &Connection,
    cache: &mut HashMap<i64, Members>,
    hot: &mut HotConvs,
    c: &Caller,
    r: &SendMessage,
    ts: i64,
) -> Res<Vec<Publish>> {
    let conv = hot.live(conn, &r.conversation)?;
    let m = members_of(conn, cache, conv)?;
    if !has(member_flags(&m, c.user_id)?, Permissions::WRITE) {
        return Err(Reject::new(
            ErrorCode::AccessDenied,
            "Sending needs the can_write permission.",
        ));
    }
    check_message(&r.text, &r.payload)?;
    let uuid = new_message_uuid(ts);
    let seq = hot.next_seq(conv, ts);
    let payload = EventPayload::new(
        c.user_id,
        Action::SendMessage,
        Message {
            uuid: uuid.clone(),
            conversation: r.conversation.clone(),
            text: r.text.clone(),
            payload: Some(r.payload.clone().unwrap_or_default()),
        },
    )
    .with_seq(seq)
    .with_timestamp(ts)
    .to_raw();
    store_event(conn, conv, seq, EventName::SendMessage, &payload)?;
    TAKEN.with(|t| t.borrow_mut().push((conv, seq)));
    conn.prepare_cached(
        "INSERT INTO messages (uuid, conv_id, seq, sender_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![uuid, conv, seq as i64, c.user_id as i64, ts])?;
    Ok(vec![Publish::new(
        EventName::SendMessage,
        payload,
        m.iter().map(|x| x.0).collect(),
        true,
    )])
}

/// A new message's UUID: version 7 (time-ordered, so the `messages` index grows at its end),
/// its random bits from the thread's user-space generator rather than a `getrandom` system call
/// per message.
fn new_message_uuid(ts_secs: i64) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or((ts_secs.max(0) as u64) * 1000);
    let bits: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(millis, &bits)
        .into_uuid()
        .to_string()
}

/// What `sendMessage` needs of its conversations, kept by the writer between jobs so that a
/// message costs no `SELECT` and no `UPDATE` of the conversation row: uuid → id for live
/// conversations, and the last seq taken. The seqs taken are written to the rows once per
/// conversation per batch ([`HotConvs::flush`]), inside the same transaction, before the commit.
///
/// Only `sendMessage` uses it. Every other job flushes it and forgets it first (they read and
/// write conversation rows themselves), and a `sendMessage` that fails after taking a seq gives
/// it back ([`HotConvs::undo_job`]) as its savepoint rolls back: the cache never holds a seq the
/// database would not.
#[derive(Default)]
struct HotConvs {
    ids: HashMap<String, i64>,
    convs: HashMap<i64, HotConv>,
    /// Conversations whose `last_seq` changed since the last flush.
    dirty: Vec<i64>,
    /// `(conversation, its state before)` for each seq taken by the current job.
    undo: Vec<(i64, HotConv)>,
}

#[derive(Clone, Copy)]
struct HotConv {
    last_seq: u64,
    last_update: i64,
    dirty: bool,
}

impl HotConvs {
    /// The id of live conversation `uuid` (8 if unknown, 9 if removed).
    fn live(&mut self, conn: &Connection, uuid: &str) -> Res<i64> {
        if let Some(&id) = self.ids.get(uuid) {
            return Ok(id);
        }
        let mut st = conn.prepare_cached(
            "SELECT id, removed, last_seq, last_update FROM conversations WHERE uuid = ?1",
        )?;
        let row = st
            .query_row([uuid], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)? != 0,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        match row {
            None => fail(ErrorCode::ConversationNotFound),
            Some((_, true, _, _)) => fail(ErrorCode::ConversationDeleted),
            Some((id, false, last_seq, last_update)) => {
                if self.ids.len() >= 10_000 && self.dirty.is_empty() && self.undo.is_empty() {
                    self.ids.clear();
                    self.convs.clear();
                }
                self.ids.insert(uuid.to_owned(), id);
                self.convs.entry(id).or_insert(HotConv {
                    last_seq,
                    last_update,
                    dirty: false,
                });
                Ok(id)
            }
        }
    }

    /// Take the next seq of conversation `id` (loaded by [`HotConvs::live`]).
    fn next_seq(&mut self, id: i64, ts: i64) -> u64 {
        let c = self
            .convs
            .get_mut(&id)
            .expect("HotConvs::live loads a conversation before its seqs are taken");
        self.undo.push((id, *c));
        if !c.dirty {
            c.dirty = true;
            self.dirty.push(id);
        }
        c.last_seq += 1;
        c.last_update = ts;
        c.last_seq
    }

    /// A job starts: nothing to give back yet.
    fn begin_job(&mut self) {
        self.undo.clear();
    }

    /// The current job was rolled back: give back the seqs it took.
    fn undo_job(&mut self) {
        while let Some((id, before)) = self.undo.pop() {
            if let Some(c) = self.convs.get_mut(&id) {
                *c = before;
            }
        }
        // A conversation may stay listed as dirty with nothing to write: flushing it writes
        // the values it already has.
    }

    /// Write the taken seqs to the conversation rows (in the current transaction).
    fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        for id in self.dirty.drain(..) {
            if let Some(c) = self.convs.get_mut(&id)
                && c.dirty
            {
                conn.prepare_cached(
                    "UPDATE conversations SET last_seq = ?2, last_update = ?3 WHERE id = ?1",
                )?
                .execute(params![id, c.last_seq as i64, c.last_update])?;
                c.dirty = false;
            }
        }
        Ok(())
    }

    /// Flush, then forget everything (another kind of job is about to touch conversation rows).
    fn flush_and_forget(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.flush(conn)?;
        self.ids.clear();
        self.convs.clear();
        Ok(())
    }
}

/// The message row `(sender, removed)` of `uuid` in conversation `conv` (10 if absent, 11 if removed).
fn message_of(conn: &Connection, conv: i64, uuid: &str) -> Res<UserId> {
    let mut st = conn.prepare_cached(
        "SELECT sender_id, removed FROM messages WHERE uuid = ?1 AND conv_id = ?2",
    )?;
    match st
        .query_row(params![uuid, conv], |r| {
            Ok((r.get::<_, i64>(0)? as UserId, r.get::<_, i64>(1)? != 0))
        })
        .optional()?
    {
        None => fail(ErrorCode::MessageNotFound),
        Some((_, true)) => fail(ErrorCode::MessageDeleted),
        Some((s, false)) => Ok(s),
    }
}

fn edit_message(
    conn: &Connection,
    cache: &mut HashMap<i64, Members>,
    c: &Caller,
    r: &EditMessage,
    ts: i64,
) -> Res<Vec<Publish>> {
    let (conv, _) = live_id(conn, &r.conversation)?;
    let m = members_of(conn, cache, conv)?;
    let flags = member_flags(&m, c.user_id)?;
    let sender = message_of(conn, conv, &r.uuid)?;
    let allowed = if sender == c.user_id {
        has(flags, Permissions::EDIT) || has(flags, Permissions::EDIT_ALL)
    } else {
        has(flags, Permissions::EDIT_ALL)
    };
    if !allowed {
        return Err(Reject::new(
            ErrorCode::AccessDenied,
            "Editing needs can_edit (own messages) or can_edit_all.",
        ));
    }
    check_message(&r.text, &r.payload)?;
    conn.prepare_cached("UPDATE messages SET edited_at = ?2 WHERE uuid = ?1")?
        .execute(params![r.uuid, ts])?;
    let (seq, payload) = seq_event(conn, conv, ts, EventName::EditMessage, |_| {
        Ok(EventPayload::new(
            c.user_id,
            Action::EditMessage,
            Message {
                uuid: r.uuid.clone(),
                conversation: r.conversation.clone(),
                text: r.text.clone(),
                payload: Some(r.payload.clone().unwrap_or_default()),
            },
        ))
    })?;
    conn.prepare_cached(
        "INSERT INTO message_edits (message_uuid, conv_id, seq) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![r.uuid, conv, seq as i64])?;
    Ok(vec![Publish::new(
        EventName::EditMessage,
        payload,
        m.iter().map(|x| x.0).collect(),
        true,
    )])
}

/// Erase a removed message's words from history: its onSendMessage event and every
/// onEditMessage event keep their seq, event name, initiator and timestamp, but their `text`
/// becomes "" and their `payload` []. Retransmission then never returns the removed text.
fn scrub_message(conn: &Connection, conv: i64, uuid: &str) -> Res<()> {
    let mut seqs: Vec<i64> = Vec::new();
    if let Some(s) = conn
        .prepare_cached("SELECT seq FROM messages WHERE uuid = ?1 AND conv_id = ?2")?
        .query_row(params![uuid, conv], |r| r.get(0))
        .optional()?
    {
        seqs.push(s);
    }
    let mut q = conn
        .prepare_cached("SELECT seq FROM message_edits WHERE message_uuid = ?1 AND conv_id = ?2")?;
    for s in q.query_map(params![uuid, conv], |r| r.get(0))? {
        seqs.push(s?);
    }
    for seq in seqs {
        let stored: Option<String> = conn
            .prepare_cached("SELECT payload FROM events WHERE conv_id = ?1 AND seq = ?2")?
            .query_row(params![conv, seq], |r| r.get(0))
            .optional()?;
        let Some(stored) = stored else { continue };
        let mut v: serde_json::Value = serde_json::from_str(&stored).map_err(|e| {
            tracing::error!(error = %e, conv, seq, "unreadable stored event");
            Reject::from(ErrorCode::Internal)
        })?;
        if let Some(obj) = v.get_mut("object").and_then(|o| o.as_object_mut()) {
            obj.insert("text".into(), serde_json::Value::String(String::new()));
            obj.insert("payload".into(), serde_json::Value::Array(Vec::new()));
        }
        conn.prepare_cached("UPDATE events SET payload = ?3 WHERE conv_id = ?1 AND seq = ?2")?
            .execute(params![conv, seq, v.to_string()])?;
    }
    Ok(())
}

fn remove_message(
    conn: &Connection,
    cache: &mut HashMap<i64, Members>,
    c: &Caller,
    r: &RemoveMessage,
    ts: i64,
) -> Res<Vec<Publish>> {
    let (conv, _) = live_id(conn, &r.conversation)?;
    let m = members_of(conn, cache, conv)?;
    let flags = member_flags(&m, c.user_id)?;
    let sender = message_of(conn, conv, &r.uuid)?;
    let allowed = if sender == c.user_id {
        has(flags, Permissions::REMOVE) || has(flags, Permissions::REMOVE_ALL)
    } else {
        has(flags, Permissions::REMOVE_ALL)
    };
    if !allowed {
        return Err(Reject::new(
            ErrorCode::AccessDenied,
            "Removing needs can_remove (own messages) or can_remove_all.",
        ));
    }
    scrub_message(conn, conv, &r.uuid)?;
    conn.prepare_cached("UPDATE messages SET removed = 1, edited_at = ?2 WHERE uuid = ?1")?
        .execute(params![r.uuid, ts])?;
    let (_, payload) = seq_event(conn, conv, ts, EventName::RemoveMessage, |_| {
        Ok(EventPayload::new(
            c.user_id,
            Action::RemoveMessage,
            Message {
                uuid: r.uuid.clone(),
                conversation: r.conversation.clone(),
                text: None,
                payload: None,
            },
        ))
    })?;
    Ok(vec![Publish::new(
        EventName::RemoveMessage,
        payload,
        m.iter().map(|x| x.0).collect(),
        true,
    )])
}

fn is_read(
    conn: &Connection,
    cache: &mut HashMap<i64, Members>,
    c: &Caller,
    r: &StatusMessage,
    ts: i64,
) -> Res<Vec<Publish>> {
    let (conv, last_seq) = live_id(conn, &r.conversation)?;
    let m = members_of(conn, cache, conv)?;
    member_flags(&m, c.user_id)?;
    if r.seq > last_seq {
        return fail(ErrorCode::SeqTooLarge);
    }
    conn.prepare_cached(
        "UPDATE participants SET last_read = ?3 WHERE conv_id = ?1 AND user_id = ?2",
    )?
    .execute(params![conv, c.user_id as i64, r.seq as i64])?;
    let payload = EventPayload::new(
        c.user_id,
        Action::IsRead,
        StatusMessage {
            conversation: r.conversation.clone(),
            seq: r.seq,
            status: None,
        },
    )
    .with_timestamp(ts)
    .to_raw();
    Ok(vec![Publish::new(
        EventName::IsRead,
        payload,
        m.iter().map(|x| x.0).collect(),
        true,
    )])
}

// ---------------------------------------------------------------------------------------------
// Users and subscriptions
// ---------------------------------------------------------------------------------------------

pub fn subscribers_of(conn: &Connection, target: UserId) -> Res<Vec<UserId>> {
    let mut st =
        conn.prepare_cached("SELECT subscriber_id FROM subscriptions WHERE target_id = ?1")?;
    let rows = st.query_map([target as i64], |r| Ok(r.get::<_, i64>(0)? as UserId))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn subscriptions_of(conn: &Connection, subscriber: UserId) -> Res<Vec<UserId>> {
    let mut st = conn.prepare_cached(
        "SELECT target_id FROM subscriptions WHERE subscriber_id = ?1 ORDER BY target_id",
    )?;
    let rows = st.query_map([subscriber as i64], |r| Ok(r.get::<_, i64>(0)? as UserId))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `onEditUser` to the user's own sessions (full view, the reply) and to subscribers (public view).
fn user_events(
    conn: &Connection,
    c: &Caller,
    action: Action,
    ts: i64,
    to_subscribers: bool,
) -> Res<Vec<Publish>> {
    let u = user_by_id(conn, c.user_id)?.ok_or(Reject::from(ErrorCode::UserNotFound))?;
    let own = EventPayload::new(c.user_id, action, user_object(conn, &u, true, None)?)
        .with_timestamp(ts)
        .to_raw();
    let mut out = vec![Publish::new(
        EventName::EditUser,
        own,
        vec![c.user_id],
        true,
    )];
    if to_subscribers {
        let subs: Vec<UserId> = subscribers_of(conn, c.user_id)?
            .into_iter()
            .filter(|&s| s != c.user_id)
            .collect();
        if !subs.is_empty() {
            let public = EventPayload::new(c.user_id, action, user_object(conn, &u, false, None)?)
                .with_timestamp(ts)
                .to_raw();
            out.push(Publish::new(EventName::EditUser, public, subs, false));
        }
    }
    Ok(out)
}

fn edit_user(conn: &Connection, c: &Caller, r: &EditUser, ts: i64) -> Res<Vec<Publish>> {
    // null or absent: unchanged; {}: cleared; an object: replaces the data.
    if let Some(d) = &r.custom_data {
        let text = check_size("custom data", d, MAX_USER_CUSTOM_DATA)?;
        conn.prepare_cached("UPDATE users SET custom_data = ?2 WHERE id = ?1")?
            .execute(params![c.user_id as i64, text])?;
    }
    if let Some(d) = &r.private_custom_data {
        let text = check_size("private custom data", d, MAX_USER_CUSTOM_DATA)?;
        conn.prepare_cached("UPDATE users SET private_custom_data = ?2 WHERE id = ?1")?
            .execute(params![c.user_id as i64, text])?;
    }
    user_events(conn, c, Action::EditUser, ts, true)
}

/// The events `manageNotification` accepts.
pub const NOTIFICATION_EVENTS: [&str; 3] =
    ["onSendMessage", "onEditMessage", "onCreateConversation"];

fn manage_notification(
    conn: &Connection,
    c: &Caller,
    list: &[Option<String>],
) -> Res<Vec<Publish>> {
    let mut events: Vec<&str> = Vec::new();
    for n in list {
        match n.as_deref() {
            Some(e) if NOTIFICATION_EVENTS.contains(&e) => {
                if !events.contains(&e) {
                    events.push(e)
                }
            }
            _ => return fail(ErrorCode::NotificationEventInvalid),
        }
    }
    let json = serde_json::to_string(&events).map_err(|_| Reject::from(ErrorCode::Internal))?;
    conn.prepare_cached(
        "INSERT INTO notification_settings (user_id, events) VALUES (?1, ?2) ON CONFLICT (user_id) DO UPDATE SET events = ?2",
    )?
    .execute(params![c.user_id as i64, json])?;
    user_events(conn, c, Action::ManageNotification, now(), false)
}

fn check_ids(ids: &[UserId]) -> Res<Vec<UserId>> {
    if ids.is_empty() || ids.len() > MAX_SUBSCRIBE_IDS {
        return fail(ErrorCode::ObjectCountInvalid);
    }
    let mut out: Vec<UserId> = Vec::with_capacity(ids.len());
    for &i in ids {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

fn subscribe(conn: &Connection, c: &Caller, r: &ManageSubscribes) -> Res<Vec<Publish>> {
    let ids = check_ids(r.user_id.as_deref().unwrap_or(&[]))?;
    for &id in &ids {
        visible_user(conn, c, id, false)?;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO subscriptions (subscriber_id, target_id) VALUES (?1, ?2)",
        )?
        .execute(params![c.user_id as i64, id as i64])?;
    }
    let payload = EventPayload::new(c.user_id, Action::Subscribe, ManageSubscribes::users(ids))
        .with_timestamp(now())
        .to_raw();
    Ok(vec![Publish::new(
        EventName::Subscribe,
        payload,
        vec![c.user_id],
        true,
    )])
}

fn unsubscribe(conn: &Connection, c: &Caller, r: &ManageSubscribes) -> Res<Vec<Publish>> {
    let ids = if r.all == Some(true) {
        let all = subscriptions_of(conn, c.user_id)?;
        conn.prepare_cached("DELETE FROM subscriptions WHERE subscriber_id = ?1")?
            .execute([c.user_id as i64])?;
        all
    } else {
        let ids = check_ids(r.user_id.as_deref().unwrap_or(&[]))?;
        for &id in &ids {
            conn.prepare_cached(
                "DELETE FROM subscriptions WHERE subscriber_id = ?1 AND target_id = ?2",
            )?
            .execute(params![c.user_id as i64, id as i64])?;
        }
        ids
    };
    let payload = EventPayload::new(c.user_id, Action::Unsubscribe, ManageSubscribes::users(ids))
        .with_timestamp(now())
        .to_raw();
    Ok(vec![Publish::new(
        EventName::Unsubscribe,
        payload,
        vec![c.user_id],
        true,
    )])
}

// ---------------------------------------------------------------------------------------------
// Retransmission (read side)
// ---------------------------------------------------------------------------------------------

/// The stored events `[from, to]` of a conversation that `user` may see: all of them, or only
/// those inside the user's participation periods (uber conversations, and former participants).
pub fn events_in(
    conn: &Connection,
    conv: i64,
    from: u64,
    to: u64,
    limit_to: Option<UserId>,
) -> Res<Vec<(u64, String, String)>> {
    let rows: Vec<(u64, String, String)> = match limit_to {
        None => {
            let mut st = conn.prepare_cached(
                "SELECT seq, event, payload FROM events WHERE conv_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
            )?;
            st.query_map(params![conv, from as i64, to as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        }
        Some(user) => {
            let mut st = conn.prepare_cached(
                "SELECT e.seq, e.event, e.payload FROM events e WHERE e.conv_id = ?1 AND e.seq BETWEEN ?2 AND ?3 \
                 AND EXISTS (SELECT 1 FROM participation p WHERE p.conv_id = e.conv_id AND p.user_id = ?4 \
                   AND e.seq >= p.from_seq AND (p.to_seq IS NULL OR e.seq <= p.to_seq)) ORDER BY e.seq",
            )?;
            st.query_map(params![conv, from as i64, to as i64, user as i64], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        }
    };
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_request_index_finds_what_it_recorded_until_it_expires() {
        // Ten seconds of retention, starting at t=100.
        let mut d = Dedup::new(100, 10);
        let rec = |first, at| Recorded {
            conv: 7,
            first,
            last: first + 1,
            at,
        };
        let user = |i: u64| 1000 + (i % 3) as UserId;
        // Recorded at t=100..=119, 1 000 per second: enough that every shard grows several
        // times.
        for i in 0..20_000u64 {
            d.insert(user(i), &format!("req-{i}"), rec(i, 100 + i as i64 / 1000));
        }
        assert_eq!(d.len(), 20_000);
        assert!(
            d.shards.iter().all(|s| !s.map.is_empty()),
            "keys spread over all shards"
        );
        let hit = d.get(user(12_345), "req-12345").expect("recorded");
        assert_eq!((hit.conv, hit.first, hit.last), (7, 12_345, 12_346));
        // Another user with the same uuid is another request.
        assert!(d.get(999, "req-12345").is_none());

        // At t=120 everything before t=110 has expired: it is never found again, even in
        // shards whose memory has not been freed yet.
        d.prune_some(120, 1);
        assert!(d.get(user(9_999), "req-9999").is_none());
        assert!(d.get(user(0), "req-0").is_none());
        assert!(d.get(user(10_000), "req-10000").is_some());
        // Only shard 0's memory has been freed so far.
        assert!(d.shards[0].order.iter().all(|&(at, _)| at >= 110));
        assert!(d.shards[1].order.iter().any(|&(at, _)| at < 110));
        assert!(d.len() > 10_000 && d.len() < 20_000, "{}", d.len());
        // A full round over the shards frees all of it.
        d.prune_some(120, DEDUP_SHARDS);
        assert_eq!(d.len(), 10_000);
        // The cutoff never moves back (a clock stepping back does not revive anything).
        d.prune_some(50, DEDUP_SHARDS);
        assert!(d.get(user(9_999), "req-9999").is_none());
        d.prune_some(1_000, DEDUP_SHARDS);
        assert_eq!(d.len(), 0);

        // A request recorded again after it expired, before its shard was freed, stays
        // remembered when the stale entry is freed later.
        let mut d = Dedup::new(100, 10);
        d.insert(1000, "again", rec(1, 100));
        d.prune_some(115, 0);
        assert!(d.get(1000, "again").is_none(), "expired");
        d.insert(1000, "again", rec(2, 115));
        d.prune_some(120, DEDUP_SHARDS);
        assert_eq!(d.get(1000, "again").map(|r| r.first), Some(2));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn the_writer_is_asked_to_copy_the_rest_only_past_the_restart_size() {
        let frame = 4096 + 24;
        let mib = 1 << 20;
        // 300 frames ≈ 1.2 MiB: past a 1 MiB threshold, not past 64 MiB.
        assert!(wants_catch_up(300, 300, frame, mib));
        assert!(!wants_catch_up(300, 300, frame, 64 * mib));
        assert!(!wants_catch_up(200, 200, frame, mib));
        // An incomplete pass (a reader held it back) never asks.
        assert!(!wants_catch_up(300, 299, frame, mib));
        assert!(!wants_catch_up(0, 0, frame, 0));
    }

    #[test]
    fn the_checkpointer_backs_off_while_nothing_is_written() {
        let mut p = CHECKPOINT_EVERY;
        let mut seen = vec![];
        for _ in 0..8 {
            p = next_pause(p, false);
            seen.push(p.as_millis());
        }
        assert_eq!(seen, [40, 80, 160, 320, 500, 500, 500, 500]);
        // The first pass that finds new frames brings it back at once.
        assert_eq!(next_pause(p, true), CHECKPOINT_EVERY);
        assert_eq!(next_pause(CHECKPOINT_EVERY, true), CHECKPOINT_EVERY);
    }

    #[test]
    fn checkpoint_passes_continue_only_while_many_new_frames_came_in() {
        // The pass found 200 new frames, copied them all: go on.
        assert!(another_pass(4000, 4200, 4200));
        // Few new frames: the writer copies those.
        assert!(!another_pass(4000, 4000 + FEW_FRAMES, 4000 + FEW_FRAMES));
        assert!(!another_pass(4000, 4000, 4000));
        // A reader held the pass back: try again next round, not now.
        assert!(!another_pass(4000, 4200, 4100));
        // The WAL was started over meanwhile: nothing left to drain.
        assert!(!another_pass(4000, 120, 120));
    }

    #[test]
    fn the_window_widens_while_busy_and_narrows_when_idle() {
        let mut w = WindowControl::new(2 * MS, 5 * MS);
        assert_eq!(w.current, 2 * MS);
        let mut seen = vec![];
        for _ in 0..20 {
            w.current = w.next(0.9);
            seen.push(w.current.as_micros());
        }
        // 250 µs per busy period, never past the maximum.
        assert_eq!(&seen[..4], [2250, 2500, 2750, 3000]);
        assert_eq!(w.current, 5 * MS);
        // Between the two thresholds it holds.
        assert_eq!(w.next(0.6), 5 * MS);
        assert_eq!(w.next(WindowControl::BUSY), 5 * MS);
        assert_eq!(w.next(WindowControl::IDLE), 5 * MS);
        for _ in 0..20 {
            w.current = w.next(0.1);
        }
        assert_eq!(w.current, 2 * MS, "back to the minimum, not below");
    }

    #[test]
    fn the_window_follows_the_process_cpu_time_once_per_period() {
        let mut w = WindowControl::new(2 * MS, 5 * MS);
        let now = Instant::now();
        assert!(
            process_cpu_time().is_some(),
            "process CPU time on this platform"
        );
        // A period in which the process used far more CPU than it may (all it ever used, on a
        // sliver of a CPU): busy.
        w.since = now - 2 * WindowControl::PERIOD;
        w.cpu_since = Some(Duration::ZERO);
        w.cpus = 1e-9;
        assert_eq!(w.window(now), Duration::from_micros(2250));
        // Within the next period nothing is re-evaluated.
        assert_eq!(
            w.window(now + WindowControl::PERIOD / 2),
            Duration::from_micros(2250)
        );
        // A period in which it used none: idle.
        w.since = now - 2 * WindowControl::PERIOD;
        w.cpu_since = process_cpu_time().map(|c| c + Duration::from_secs(100));
        assert_eq!(w.window(now), 2 * MS);
    }

    #[test]
    fn a_fixed_window_never_moves() {
        let mut w = WindowControl::new(3 * MS, 3 * MS);
        w.since = Instant::now() - 2 * WindowControl::PERIOD;
        w.cpu_since = Some(Duration::ZERO);
        assert_eq!(w.window(Instant::now()), 3 * MS);
        let mut off = WindowControl::new(Duration::ZERO, Duration::ZERO);
        assert_eq!(off.window(Instant::now()), Duration::ZERO);
    }
}
