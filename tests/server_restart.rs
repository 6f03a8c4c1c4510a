//! Recovery from a server restart, with the real `vox-messenger-server` binary: two users chat,
//! the server is SIGKILLed while user A has requests in flight and user B is receiving, and the
//! binary is started again on the same port and database file. The server cannot resume the
//! sessions (its session state died with it), so both SDK clients open new sessions and log in
//! again with their access tokens, A resends what had not completed (the server runs each write
//! once, by `request_uuid`), and B fetches what it missed. Asserted: every pending request of A
//! completes successfully, each message exists once on the server, B gets every event of A once
//! and in seq order, both clients went Reconnecting and back to LoggedIn.
//!
//! Also: a restart after which the saved tokens are no longer valid (the user was deleted and
//! created again) ends with `Closed` and the typed login error on every pending request.
//!
//! `scripts/test.sh` builds the whole workspace first, so the server binary is next to the test
//! binary's directory (`target/<profile>/vox-messenger-server`).

mod common;

use common::{PASSWORD, USER1, USER2, USER3, within};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use vox_messenger::{
    Client, ClientEvent, ClientState, ConversationConfig, ConversationParticipant, Error,
    MessageEvent, MessengerEvent, MessengerEventType, ReconnectPolicy,
};

/// `target/<profile>/vox-messenger-server`, found from this test binary
/// (`target/<profile>/deps/<test>`).
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let bin = profile_dir.join(format!(
        "vox-messenger-server{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        bin.is_file(),
        "the server binary {} is missing: build it first (`cargo build --workspace --all-targets`, \
         which scripts/test.sh runs)",
        bin.display()
    );
    bin
}

/// A free TCP port on 127.0.0.1 (bound once, then released for the server).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
}

impl Server {
    /// Start the binary in dev mode (demo users) on `db`, plain `ws://` on `port`, and wait for
    /// its READY line.
    fn start(db: &Path, port: u16) -> Server {
        let mut child = Command::new(server_binary())
            .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
            .args(["--plain-listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-listen", "127.0.0.1:0"])
            .args(["--msg-rate-per-second", "0", "--msg-rate-per-minute", "0"])
            .arg("--db")
            .arg(db)
            .env("VOX_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = loop {
            let line = lines
                .next()
                .expect("the server exited before READY")
                .expect("read stdout");
            if let Some(rest) = line.strip_prefix("READY ") {
                break serde_json::from_str::<Value>(rest).expect("READY json");
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        assert_eq!(
            ready["ws"].as_str(),
            Some(format!("127.0.0.1:{port}").as_str())
        );
        Server { child }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }
}

/// Run the binary's command line on `db` (the server is not running).
fn cli(db: &Path, args: &[&str]) {
    let out = Command::new(server_binary())
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("the server binary runs");
    assert!(out.status.success(), "{args:?}: {out:?}");
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A logged-in SDK client with every connection event and every `SendMessage` event recorded
/// (listeners registered before anything can happen).
struct Peer {
    client: Client,
    events: Arc<Mutex<Vec<(Instant, ClientEvent)>>>,
    /// Every connection event, as it happens.
    changes: mpsc::UnboundedReceiver<ClientEvent>,
    messages: mpsc::UnboundedReceiver<MessageEvent>,
}

async fn peer(port: u16, user: &str, spacing: Duration) -> Peer {
    let mut cfg = common::config(&format!("ws://127.0.0.1:{port}"));
    cfg.request_spacing = spacing;
    // Retry every 300 ms for 30 s (the default schedule gives up after about 23 s, which a
    // slow machine could reach while B is kept away).
    let mut delays = vec![Duration::ZERO];
    delays.extend(std::iter::repeat_n(Duration::from_millis(300), 100));
    cfg.reconnect = ReconnectPolicy {
        delays,
        jitter: 0.2,
    };
    let client = Client::new(cfg).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let (ctx, changes) = mpsc::unbounded_channel();
    let ev = events.clone();
    client.on_event(move |e| {
        ev.lock().unwrap().push((Instant::now(), e.clone()));
        let _ = ctx.send(e.clone());
    });
    let (mtx, messages) = mpsc::unbounded_channel();
    client
        .messenger()
        .on(MessengerEventType::SendMessage, move |e| {
            if let MessengerEvent::Message(m) = e {
                let _ = mtx.send(m.clone());
            }
        });
    within(client.connect()).await.unwrap();
    within(client.login(user, PASSWORD)).await.unwrap();
    Peer {
        client,
        events,
        changes,
        messages,
    }
}

impl Peer {
    fn connection_events(&self) -> Vec<ClientEvent> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    fn when(&self, pred: impl Fn(&ClientEvent) -> bool) -> Option<Instant> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .find(|(_, e)| pred(e))
            .map(|(t, _)| *t)
    }

    /// Wait for a connection event matching `pred`.
    async fn wait_for(&mut self, pred: impl Fn(&ClientEvent) -> bool) -> ClientEvent {
        loop {
            let e = tokio::time::timeout(Duration::from_secs(30), self.changes.recv())
                .await
                .expect("timed out waiting for a connection event")
                .expect("listener gone");
            if pred(&e) {
                return e;
            }
        }
    }

    async fn next_message(&mut self) -> MessageEvent {
        tokio::time::timeout(Duration::from_secs(30), self.messages.recv())
            .await
            .expect("timed out waiting for a message event")
            .expect("listener gone")
    }
}

/// A TCP proxy in front of the server whose server→client direction can be held (bytes read
/// and dropped: the client's requests reach the server, its answers never reach the client),
/// which can refuse new connections, and cut the live ones.
struct GateProxy {
    port: u16,
    hold: Arc<AtomicBool>,
    block: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl GateProxy {
    async fn start(upstream_port: u16) -> GateProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = Arc::new(AtomicBool::new(false));
        let block = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (h, b, c) = (hold.clone(), block.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if b.load(SeqCst) {
                    drop(inbound);
                    continue;
                }
                let hold = h.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    let Ok(outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                    else {
                        return;
                    };
                    let (mut ci, mut co) = inbound.into_split();
                    let (mut si, mut so) = outbound.into_split();
                    let up = tokio::io::copy(&mut ci, &mut so);
                    let down = async {
                        let mut buf = vec![0u8; 16384];
                        loop {
                            let n = match si.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            if !hold.load(SeqCst) && co.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {},
                        _ = down => {},
                    }
                }));
            }
        });
        GateProxy {
            port,
            hold,
            block,
            conns,
        }
    }

    fn cut(&self) {
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

const BEFORE: usize = 20;
/// Sent by A while B is cut off: B must fetch them with more than one retransmit window.
const WHILE_B_AWAY: usize = 130;
/// Fired by A without waiting; the server dies with them in flight.
const IN_FLIGHT: usize = 40;
/// How many of them the observer C must have seen (committed, unanswered to A) at the kill.
const COMMITTED_AT_KILL: usize = 15;

#[tokio::test]
async fn server_killed_and_restarted_mid_traffic_nothing_lost_or_duplicated() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("restart.sqlite3");
    let port = free_port();
    let server = Server::start(&db, port);
    // A and B each reach the server through a proxy; C, an observer participant, directly.
    let (pa, pb) = (GateProxy::start(port).await, GateProxy::start(port).await);
    // A paces its requests (15 ms apart, a smaller Web SDK queue): at the kill some are
    // committed, some on the wire, some still queued in the client.
    let mut a = peer(pa.port, USER1, Duration::from_millis(15)).await;
    let mut b = peer(pb.port, USER2, Duration::ZERO).await;
    let mut c = peer(port, USER3, Duration::ZERO).await;
    let (ma, mb) = (a.client.messenger(), b.client.messenger());
    let mut ids = Vec::new();
    for p in [&b, &c] {
        let m = p.client.messenger();
        ids.push(
            within(m.get_user_by_name(&m.get_me().unwrap()))
                .await
                .unwrap()
                .user
                .im_id,
        );
    }
    let conv = within(
        ma.create_conversation(ConversationConfig {
            participants: ids
                .iter()
                .map(|&i| ConversationParticipant::new(i))
                .collect(),
            title: "Restart".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap()
    .conversation;
    let uuid = conv.data().uuid.clone();

    // They chat.
    for i in 0..BEFORE {
        within(conv.send_message(&format!("before {i}"), Vec::new()))
            .await
            .unwrap();
    }
    for _ in 0..BEFORE {
        b.next_message().await;
        c.next_message().await;
    }

    // B loses its connection and cannot get back (its resume attempts are refused at the
    // proxy) while A keeps talking.
    pb.block.store(true, SeqCst);
    pb.cut();
    b.wait_for(|e| *e == ClientEvent::Reconnecting).await;
    for i in 0..WHILE_B_AWAY {
        within(conv.send_message(&format!("away {i}"), Vec::new()))
            .await
            .unwrap();
    }
    for _ in 0..WHILE_B_AWAY {
        c.next_message().await;
    }

    // A's answers stop reaching it (its requests still reach the server). A fires IN_FLIGHT
    // requests; once C has seen COMMITTED_AT_KILL of them committed, the server is SIGKILLed:
    // those are committed but unanswered, the rest in flight or not yet executed.
    pa.hold.store(true, SeqCst);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    for i in 0..IN_FLIGHT {
        let text = format!("in flight {i}");
        let tx = done_tx.clone();
        let t = text.clone();
        conv.send_message_cb(&text, Vec::new(), move |r| {
            let _ = tx.send((t, r));
        });
    }
    let mut c_seen: Vec<MessageEvent> = Vec::new();
    while c_seen.len() < COMMITTED_AT_KILL {
        c_seen.push(c.next_message().await);
    }
    let killed_at = Instant::now();
    server.kill();
    assert!(
        done_rx.try_recv().is_err(),
        "a request completed although its answer was held"
    );
    pa.hold.store(false, SeqCst);
    let server = Server::start(&db, port);
    let restarted_at = Instant::now();
    pb.block.store(false, SeqCst);

    // Every pending request of A completes, successfully, with its own message.
    let mut answers: BTreeMap<u64, String> = BTreeMap::new();
    for _ in 0..IN_FLIGHT {
        let (text, r) = tokio::time::timeout(Duration::from_secs(30), done_rx.recv())
            .await
            .expect("a pending request never completed")
            .unwrap();
        let r = r.unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!(r.message.data().text, text);
        assert!(answers.insert(r.sequence, text).is_none(), "seq twice");
    }
    let all_done_at = Instant::now();
    for p in [&mut a, &mut b, &mut c] {
        p.wait_for(|e| {
            matches!(
                e,
                ClientEvent::SessionRestored | ClientEvent::ConnectionClosed { .. }
            )
        })
        .await;
        assert_eq!(p.client.state(), ClientState::LoggedIn);
        let ev = p.connection_events();
        let i = ev
            .iter()
            .position(|e| *e == ClientEvent::StateChanged(ClientState::Reconnecting))
            .expect("Reconnecting seen");
        let j = ev
            .iter()
            .rposition(|e| *e == ClientEvent::StateChanged(ClientState::LoggedIn))
            .expect("LoggedIn again");
        assert!(i < j, "{ev:?}");
        assert!(ev.contains(&ClientEvent::SessionRestored), "{ev:?}");
        assert!(
            !ev.iter()
                .any(|e| matches!(e, ClientEvent::ConnectionClosed { .. })),
            "{ev:?}"
        );
    }

    // A barrier: a message sent after everything; B and C get everything before it (order).
    let last = within(conv.send_message("after", Vec::new()))
        .await
        .unwrap();
    let mut b_seen: Vec<MessageEvent> = Vec::new();
    while b_seen.last().map(|m| m.sequence) != Some(last.sequence) {
        b_seen.push(b.next_message().await);
    }
    while c_seen.last().map(|m| m.sequence) != Some(last.sequence) {
        c_seen.push(c.next_message().await);
    }

    // Each message exists exactly once on the server, with gap-free seqs.
    let cb = within(mb.get_conversation(&uuid))
        .await
        .unwrap()
        .conversation;
    let last_seq = cb.data().last_sequence;
    assert_eq!(last_seq, last.sequence);
    let mut history: Vec<(u64, String)> = Vec::new();
    let mut from = 1;
    while from <= last_seq {
        let r = within(cb.retransmit_events(from, (from + 99).min(last_seq)))
            .await
            .unwrap();
        for e in r.events {
            if let vox_messenger::RetransmittedEvent::Message(m) = e {
                history.push((m.sequence, m.message.data().text.clone()));
            }
        }
        from += 100;
    }
    let texts: Vec<&str> = history.iter().map(|(_, t)| t.as_str()).collect();
    let mut expected: Vec<String> = (0..BEFORE).map(|i| format!("before {i}")).collect();
    expected.extend((0..WHILE_B_AWAY).map(|i| format!("away {i}")));
    expected.extend((0..IN_FLIGHT).map(|i| format!("in flight {i}")));
    expected.push("after".into());
    assert_eq!(texts, expected, "the server's history");
    assert_eq!(
        last_seq,
        1 + (BEFORE + WHILE_B_AWAY + IN_FLIGHT + 1) as u64,
        "a resent request took a seq twice"
    );
    // A's answers name the seqs the server stored.
    for (seq, text) in &answers {
        assert!(history.contains(&(*seq, text.clone())), "{seq} {text}");
    }

    // B and C got every message of A exactly once, in seq order: B from the first one it
    // missed (fetched by the SDK after the restore, then live), C from the in-flight ones.
    let after_chat: Vec<u64> = history
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| *s > 1 + BEFORE as u64)
        .collect();
    let b_seqs: Vec<u64> = b_seen.iter().map(|m| m.sequence).collect();
    assert_eq!(b_seqs, after_chat, "B's events after the chat");
    let c_seqs: Vec<u64> = c_seen.iter().map(|m| m.sequence).collect();
    assert_eq!(
        c_seqs,
        after_chat[WHILE_B_AWAY..],
        "C's events from the in-flight ones on"
    );
    // Nothing more is queued for B or C: a round trip through each session proves it.
    within(mb.get_user_by_im_id(ids[0])).await.unwrap();
    within(c.client.messenger().get_user_by_im_id(ids[0]))
        .await
        .unwrap();
    assert!(b.messages.try_recv().is_err(), "B got an event twice");
    assert!(c.messages.try_recv().is_err(), "C got an event twice");

    // A's own listeners saw each of its messages once too.
    let mut a_seqs = Vec::new();
    while let Ok(m) = a.messages.try_recv() {
        a_seqs.push(m.sequence);
    }
    assert_eq!(
        a_seqs,
        (2..=last_seq).collect::<Vec<_>>(),
        "A's own message events"
    );

    let restored = |p: &Peer| {
        p.when(|e| *e == ClientEvent::SessionRestored)
            .unwrap()
            .saturating_duration_since(restarted_at)
    };
    println!(
        "server restart (kill → READY) {:?}; READY → SessionRestored: A {:?}, B {:?}, C {:?}; \
         kill → all {IN_FLIGHT} pending requests of A done {:?} (at least {} committed but unanswered at the kill); \
         B received {} events after the chat (at least {} of them missed while it was away, fetched by its gap fill)",
        restarted_at - killed_at,
        restored(&a),
        restored(&b),
        restored(&c),
        all_done_at - killed_at,
        COMMITTED_AT_KILL,
        b_seqs.len(),
        WHILE_B_AWAY,
    );
    drop(server);
}

#[tokio::test]
async fn restart_with_revoked_tokens_closes_with_the_login_error() {
    common::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("revoked.sqlite3");
    let port = free_port();
    let server = Server::start(&db, port);
    let mut a = peer(port, USER1, Duration::ZERO).await;
    server.kill();
    a.wait_for(|e| *e == ClientEvent::Reconnecting).await;
    // A request made while the client is away: it must fail with the typed error, never hang.
    let (tx, mut rx) = mpsc::unbounded_channel();
    a.client.messenger().get_user_by_im_id_cb(1002, move |r| {
        let _ = tx.send(r.map(|_| ()));
    });
    // While the server is down, the user's password is changed, which revokes every token.
    cli(
        &db,
        &[
            "user",
            "set-password",
            "user1@app.acc",
            "--password",
            "changed",
        ],
    );
    let server = Server::start(&db, port);
    let closed = a
        .wait_for(|e| {
            matches!(
                e,
                ClientEvent::SessionRestored | ClientEvent::ConnectionClosed { .. }
            )
        })
        .await;
    assert!(
        matches!(&closed, ClientEvent::ConnectionClosed { reason } if reason.contains("701")),
        "{closed:?}"
    );
    assert_eq!(a.client.state(), ClientState::Closed);
    let r = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the pending request hangs")
        .unwrap();
    assert_eq!(r, Err(Error::LoginFailed { code: 701 }));
    // The application logs in again, with the new password.
    within(a.client.connect()).await.unwrap();
    within(a.client.login(USER1, "changed")).await.unwrap();
    assert_eq!(a.client.state(), ClientState::LoggedIn);
    drop(server);
}
