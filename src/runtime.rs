//! The library's own threads: a small tokio runtime for all network work, and ONE dedicated
//! callback thread on which every user callback runs (completions and events alike).
//!
//! * The connection actor of each client runs on the tokio runtime. When it has something for
//!   the application it does not call user code: it queues a job for the callback thread.
//! * The callback thread runs jobs one at a time, in the order they were queued. Since one actor
//!   queues everything of its client in the order the server produced it, the application sees
//!   events and completions in server order.
//! * Jobs never run while the library holds a lock: listeners are snapshotted under a short
//!   lock, the lock is released, then they are called.
//! * A panicking callback is caught and logged; the thread carries on.
//!
//! Both live for the rest of the process once the first client is created.

use std::future::Future;
use std::sync::LazyLock;
use std::sync::mpsc;
use std::thread::{self, ThreadId};

type Job = Box<dyn FnOnce() + Send + 'static>;

pub(crate) struct Runtime {
    tokio: tokio::runtime::Runtime,
    callbacks: mpsc::Sender<Job>,
    callback_thread: ThreadId,
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(Runtime::start);

/// Name of the callback thread (visible in debuggers and in tests).
pub const CALLBACK_THREAD_NAME: &str = "vox-callbacks";

impl Runtime {
    fn start() -> Runtime {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vox-runtime")
            .enable_all()
            .build()
            .expect("the SDK's tokio runtime starts");
        let (tx, rx) = mpsc::channel::<Job>();
        let handle = thread::Builder::new()
            .name(CALLBACK_THREAD_NAME.into())
            .spawn(move || {
                IS_CALLBACK_THREAD.with(|c| c.set(true));
                while let Ok(job) = rx.recv() {
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a user callback panicked; the panic was caught");
                    }
                }
            })
            .expect("the callback thread starts");
        Runtime {
            tokio,
            callbacks: tx,
            callback_thread: handle.thread().id(),
        }
    }

    pub(crate) fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tokio.spawn(fut)
    }

    /// Queue a job for the callback thread.
    pub(crate) fn deliver(&self, job: impl FnOnce() + Send + 'static) {
        // The receiver lives as long as the process; a send cannot fail.
        let _ = self.callbacks.send(Box::new(job));
    }
}

pub(crate) fn get() -> &'static Runtime {
    &RUNTIME
}

thread_local! {
    static IS_CALLBACK_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Like [`is_callback_thread`], but never starts the runtime (false before it exists).
pub(crate) fn is_callback_thread_if_started() -> bool {
    IS_CALLBACK_THREAD.with(std::cell::Cell::get)
}

/// Whether the current thread is the SDK's callback thread.
pub fn is_callback_thread() -> bool {
    thread::current().id() == RUNTIME.callback_thread
}
