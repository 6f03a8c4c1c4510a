//! `vox-bench`: the room fan-out benchmark of issue 3, against this server and NATS core.
//!
//! Not a test and not run in CI. Build and run in release mode, e.g.
//!
//! ```text
//! cargo build --release -p vox-messenger-server
//! target/release/vox-bench --members 100 --rate 10000
//! target/release/vox-bench --idle 15000          # RSS per idle logged-in session
//! ```
//!
//! Workload (per target): one conversation (NATS: one subject) with `--members` online members,
//! `--senders` of them publishing an open-loop aggregate `--rate` msgs/s of ~130-byte messages;
//! `--warmup` seconds, then `--secs` measured. The server is pinned to CPU 0 with one Tokio
//! worker (`TOKIO_WORKER_THREADS=1`, NATS: `GOMAXPROCS=1`), this generator to CPU 1 on a
//! single-threaded runtime. Targets: `vox` (acknowledged = committed, `synchronous=FULL`),
//! `vox-nofsync` (persistence off: `--no-fsync`), `nats` (`nats-server`, core pub/sub).
//! `--commit-window-us N` sets the server's group commit window (default: the server's, 2000) and
//! `--commit-window-max-us N` how far it may widen while the server is busy (the server's
//! default: not at all).
//! `VOX_BENCH_TRACE=FILE` writes a sample of (sent at, latency) pairs per target to `FILE.<target>`
//! (1 in 64 messages, every member's delivery), to see whether slow deliveries cluster in time.
//!
//! Printed per target: deliveries/s sustained over the window (a delivery is one
//! `onSendMessage` / `MSG` frame read by one member, the sender's own reply included), the
//! send→receive latency p50/p99/max, send→ack p50/p99 (ours: the sender's reply, sent after the
//! commit), server CPU µs per delivery (utime+stime from `/proc/PID/stat` over the window),
//! server RSS, and this generator's CPU share (above ~80 % the run is generator-bound).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

static T0: OnceLock<Instant> = OnceLock::new();

/// `VOX_BENCH_TRACE=FILE`: a sample of (sent at ns, latency ns) pairs, written after each run
/// (to find what the slow deliveries have in common, e.g. a period).
static TRACE: OnceLock<std::sync::Mutex<Vec<(u64, u64)>>> = OnceLock::new();

fn now_ns() -> u64 {
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[derive(Clone, Debug)]
struct Opts {
    members: usize,
    senders: usize,
    rate: u64,
    secs: u64,
    warmup: u64,
    targets: Vec<String>,
    server_bin: String,
    idle: usize,
    pin: bool,
    commit_window_us: Option<u64>,
    commit_window_max_us: Option<u64>,
}

fn parse_args() -> Opts {
    let mut o = Opts {
        members: 100,
        senders: 10,
        rate: 10_000,
        secs: 30,
        warmup: 5,
        targets: vec!["vox".into(), "vox-nofsync".into(), "nats".into()],
        server_bin: std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("vox-messenger-server")))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "vox-messenger-server".into()),
        idle: 0,
        pin: true,
        commit_window_us: None,
        commit_window_max_us: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--members" => o.members = v.parse().expect("--members N"),
            "--senders" => o.senders = v.parse().expect("--senders N"),
            "--commit-window-us" => {
                o.commit_window_us = Some(v.parse().expect("--commit-window-us MICROSECONDS"))
            }
            "--commit-window-max-us" => {
                o.commit_window_max_us =
                    Some(v.parse().expect("--commit-window-max-us MICROSECONDS"))
            }
            "--rate" => o.rate = v.parse().expect("--rate msgs/s"),
            "--secs" => o.secs = v.parse().expect("--secs S"),
            "--warmup" => o.warmup = v.parse().expect("--warmup S"),
            "--targets" => o.targets = v.split(',').map(str::to_owned).collect(),
            "--server-bin" => o.server_bin = v,
            "--idle" => o.idle = v.parse().expect("--idle N"),
            "--no-pin" => {
                o.pin = false;
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                println!(
                    "vox-bench [--members 100] [--senders 10] [--rate 10000] [--secs 30] [--warmup 5] \
                     [--targets vox,vox-nofsync,nats] [--server-bin PATH] [--idle N] [--no-pin] \
                     [--commit-window-us N] [--commit-window-max-us N]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    o.senders = o.senders.min(o.members).max(1);
    o
}

// ---------------------------------------------------------------------------------------------
// Process accounting
// ---------------------------------------------------------------------------------------------

/// utime + stime of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; utime 14, stime 15 (1-based).
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let hz = 100.0; // CLK_TCK on Linux
    (ticks(11) + ticks(12)) as f64 / hz
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn pin_self(cpu: u32) {
    let _ = Command::new("taskset")
        .args(["-cp", &cpu.to_string(), &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
    // Threads already started keep their mask; this runs before the runtime starts.
}

// ---------------------------------------------------------------------------------------------
// Histogram (log-linear, ~3 % buckets), in nanoseconds
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Hist {
    b: Vec<u64>,
    n: u64,
    max: u64,
}

impl Hist {
    fn new() -> Self {
        Hist {
            b: vec![0; 64 * 32],
            n: 0,
            max: 0,
        }
    }
    fn idx(v: u64) -> usize {
        let v = v.max(1);
        let e = 63 - v.leading_zeros() as usize;
        let m = if e >= 5 {
            ((v >> (e - 5)) & 31) as usize
        } else {
            ((v << (5 - e)) & 31) as usize
        };
        e * 32 + m
    }
    fn val(i: usize) -> u64 {
        let (e, m) = (i / 32, (i % 32) as u64);
        if e >= 5 {
            (32 + m) << (e - 5)
        } else {
            (32 + m) >> (5 - e)
        }
    }
    fn add(&mut self, v: u64) {
        self.b[Self::idx(v)] += 1;
        self.n += 1;
        self.max = self.max.max(v);
    }
    fn merge(&mut self, o: &Hist) {
        for (a, b) in self.b.iter_mut().zip(&o.b) {
            *a += b;
        }
        self.n += o.n;
        self.max = self.max.max(o.max);
    }
    fn pct(&self, p: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let want = ((self.n as f64) * p).ceil() as u64;
        let mut acc = 0;
        for (i, c) in self.b.iter().enumerate() {
            acc += c;
            if acc >= want {
                return Self::val(i);
            }
        }
        self.max
    }
}

fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

// ---------------------------------------------------------------------------------------------
// Shared run state
// ---------------------------------------------------------------------------------------------

struct Run {
    /// Deliveries counted only inside the measured window.
    measuring: AtomicBool,
    stop: AtomicBool,
    deliveries: AtomicU64,
    sent: AtomicU64,
    errors: AtomicU64,
}

impl Run {
    fn new() -> Self {
        Run {
            measuring: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            deliveries: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }
}

struct Report {
    name: String,
    deliveries_per_s: f64,
    sent_per_s: f64,
    recv: Hist,
    ack: Hist,
    cpu_us_per_delivery: f64,
    server_cpu_share: f64,
    gen_cpu_share: f64,
    rss_kb: u64,
    errors: u64,
}

fn print_report(r: &Report) {
    println!(
        "{:<12} deliveries/s {:>10.0}  sent/s {:>8.0}  recv p50 {:>9} p99 {:>9} max {:>9}  ack p50 {:>9} p99 {:>9}  server CPU {:.3} µs/delivery ({:.0}% of a core)  RSS {} KB  generator CPU {:.0}%{}{}",
        r.name,
        r.deliveries_per_s,
        r.sent_per_s,
        ms(r.recv.pct(0.5)),
        ms(r.recv.pct(0.99)),
        ms(r.recv.max),
        if r.ack.n > 0 {
            ms(r.ack.pct(0.5))
        } else {
            "n/a".into()
        },
        if r.ack.n > 0 {
            ms(r.ack.pct(0.99))
        } else {
            "n/a".into()
        },
        r.cpu_us_per_delivery,
        r.server_cpu_share * 100.0,
        r.rss_kb,
        r.gen_cpu_share * 100.0,
        if r.gen_cpu_share > 0.8 {
            "  [generator-bound]"
        } else {
            ""
        },
        if r.errors > 0 {
            format!("  errors {}", r.errors)
        } else {
            String::new()
        },
    );
}

/// Drive senders and measure: shared by both protocols.
async fn measure(
    name: &str,
    o: &Opts,
    pid: u32,
    run: &'static Run,
    tasks: Vec<tokio::task::JoinHandle<(Hist, Hist)>>,
) -> Report {
    tokio::time::sleep(Duration::from_secs(o.warmup)).await;
    let me = std::process::id();
    let (c0, g0, t0) = (cpu_secs(pid), cpu_secs(me), Instant::now());
    run.deliveries.store(0, Ordering::SeqCst);
    run.sent.store(0, Ordering::SeqCst);
    run.measuring.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(o.secs)).await;
    run.measuring.store(false, Ordering::SeqCst);
    let (c1, g1, el) = (cpu_secs(pid), cpu_secs(me), t0.elapsed().as_secs_f64());
    let deliveries = run.deliveries.load(Ordering::SeqCst);
    let sent = run.sent.load(Ordering::SeqCst);
    let rss = rss_kb(pid);
    run.stop.store(true, Ordering::SeqCst);
    let mut recv = Hist::new();
    let mut ack = Hist::new();
    for t in tasks {
        if let Ok(Ok((r, a))) = tokio::time::timeout(Duration::from_secs(10), t).await {
            recv.merge(&r);
            ack.merge(&a);
        }
    }
    Report {
        name: name.into(),
        deliveries_per_s: deliveries as f64 / el,
        sent_per_s: sent as f64 / el,
        recv,
        ack,
        cpu_us_per_delivery: if deliveries > 0 {
            (c1 - c0) * 1e6 / deliveries as f64
        } else {
            0.0
        },
        server_cpu_share: (c1 - c0) / el,
        gen_cpu_share: (g1 - g0) / el,
        rss_kb: rss,
        errors: run.errors.load(Ordering::SeqCst),
    }
}

/// How many messages sender `i` of `n` owes at `elapsed` for an aggregate `rate`.
fn due(rate: u64, n: usize, elapsed: Duration) -> u64 {
    (elapsed.as_secs_f64() * rate as f64 / n as f64) as u64
}

fn padded(prefix: String, len: usize) -> String {
    let mut s = prefix;
    s.push('|');
    while s.len() < len {
        s.push('x');
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Our server
// ---------------------------------------------------------------------------------------------

struct Server {
    child: Child,
    ws: SocketAddr,
    admin: SocketAddr,
    key: String,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Graceful first (SIGTERM), so that tools wrapping the server can write their output.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_server(o: &Opts, durable: bool) -> Server {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vox-bench-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = "bench-admin-key-0123456789".to_string();
    let mut cmd = if o.pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", &o.server_bin]);
        c
    } else {
        Command::new(&o.server_bin)
    };
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
    ])
    .args([
        "--admin-key",
        &key,
        "--msg-rate-per-second",
        "0",
        "--msg-rate-per-minute",
        "0",
    ])
    // This generator shares its core with whatever else runs on the machine; a stall of 0.4 s
    // would otherwise get a member closed for not ACKing (the default bound, 4096 frames).
    .args(["--max-unacked-frames", "65536", "--session-queue", "65536"])
    .args(
        o.commit_window_us
            .map(|w| vec!["--commit-window-us".to_owned(), w.to_string()])
            .unwrap_or_default(),
    )
    .args(
        o.commit_window_max_us
            .map(|w| vec!["--commit-window-max-us".to_owned(), w.to_string()])
            .unwrap_or_default(),
    )
    .arg("--db")
    .arg(dir.join("bench.sqlite3"))
    .env("TOKIO_WORKER_THREADS", "1")
    // VOX_BENCH_SERVER_LOG overrides the server's log filter (e.g. `warn,vox_batch=trace`).
    .env(
        "VOX_LOG",
        std::env::var("VOX_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if !durable {
        cmd.arg("--no-fsync");
    }
    let mut child = cmd.spawn().expect("start the server (see --server-bin)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready: Value = loop {
        let l = lines.next().expect("server exited").expect("stdout");
        if let Some(r) = l.strip_prefix("READY ") {
            break serde_json::from_str(r).unwrap();
        }
    };
    Server {
        child,
        ws: ready["ws"].as_str().unwrap().parse().unwrap(),
        admin: ready["admin"].as_str().unwrap().parse().unwrap(),
        key,
        dir,
    }
}

fn admin_post(s: &Server, path: &str, body: Value) {
    let mut t = TcpStream::connect(s.admin).unwrap();
    let b = body.to_string();
    write!(
        t,
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
        s.key,
        b.len()
    )
    .unwrap();
    let mut out = String::new();
    t.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap_or("");
    assert!(status == "201" || status == "409", "admin {path}: {out}");
}

fn provision(s: &Server, users: usize) {
    admin_post(s, "/v1/accounts", json!({"name": "acc"}));
    admin_post(s, "/v1/apps", json!({"account": "acc", "name": "app"}));
    for i in 0..users {
        admin_post(
            s,
            "/v1/users",
            json!({"user": format!("b{i}@app.acc"), "password": "secret"}),
        );
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Member {
    ws: Ws,
    next_seq: u64,
    last_rx: u64,
    user_id: u64,
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.next().await.expect("server closed").expect("ws error") {
            Message::Text(t) => return t.as_str().to_owned(),
            Message::Close(f) => panic!("server closed the socket: {f:?}"),
            _ => {}
        }
    }
}

async fn connect_member(addr: SocketAddr, user: &str) -> Member {
    let url = format!(
        "ws://{addr}/platform?version=5&client_version=4.13.1-3005&video=false&ccheck=false&client_platform=chrome&im_version=2&acd_version=1&features=1"
    );
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
        url.as_str(),
        Some(
            tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .read_buffer_size(8 * 1024),
        ),
        true,
    )
    .await
    .expect("connect");
    let id: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(id["type"], "id");
    ws.send(Message::Text(r#"{"type":"lastrx","seq":0}"#.into()))
        .await
        .unwrap();
    let _lastrx = next_text(&mut ws).await;
    let _create = next_text(&mut ws).await; // __createConnection, msg seq 1
    let digest = vox_protocol::auth::password_digest_md5(user, "secret");
    let login = json!({"type": "msg", "seq": 1, "payload": {"name": "login",
        "params": [format!("{user}@app.acc.voximplant.com"), digest, {"credentialType": "md5"}]}});
    ws.send(Message::Text(login.to_string().into()))
        .await
        .unwrap();
    let mut m = Member {
        ws,
        next_seq: 2,
        last_rx: 1,
        user_id: 0,
    };
    loop {
        let f: Value = serde_json::from_str(&next_text(&mut m.ws).await).unwrap();
        if f["type"] == "msg" {
            m.last_rx = f["seq"].as_u64().unwrap();
            assert_eq!(f["payload"]["name"], "loginSuccessful", "{f}");
            break;
        }
    }
    m
}

impl Member {
    async fn send_payload(&mut self, payload: Value) {
        let f = json!({"type": "msg", "seq": self.next_seq, "payload": payload});
        self.next_seq += 1;
        self.ws
            .send(Message::Text(f.to_string().into()))
            .await
            .unwrap();
    }

    /// Next messaging payload (ACKing as we go).
    async fn next_chat(&mut self) -> Value {
        loop {
            let f: Value = serde_json::from_str(&next_text(&mut self.ws).await).unwrap();
            if f["type"] == "msg" {
                self.last_rx = f["seq"].as_u64().unwrap();
                let ack = format!(r#"{{"type":"ack","seq":{}}}"#, self.last_rx);
                self.ws.send(Message::Text(ack.into())).await.unwrap();
                if f["payload"]["service"] == "chat" {
                    return f["payload"].clone();
                }
            }
        }
    }
}

const MSG_PREFIX: &str = r#"{"type":"msg","seq":"#;

fn num_after(s: &str, key: &str) -> Option<u64> {
    let i = s.find(key)? + key.len();
    let d: &str = &s[i..];
    let end = d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len());
    d[..end].parse().ok()
}

/// One text frame from the front of `buf`: `(payload range, frame length)`, or `None` until the
/// whole frame is there. Server frames are unmasked and unfragmented; other opcodes come back
/// with an empty range (the caller skips them; a close is reported as `Err`).
fn next_ws_frame(buf: &[u8]) -> Result<Option<(std::ops::Range<usize>, usize)>, ()> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let opcode = buf[0] & 0x0f;
    let (len, head) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return Ok(None),
        n => (n as usize, 2),
    };
    if buf.len() < head + len {
        return Ok(None);
    }
    match opcode {
        1 => Ok(Some((head..head + len, head + len))),
        8 => Err(()),
        _ => Ok(Some((head..head, head + len))),
    }
}

/// Append one masked client text frame (the mask key is zero: masking is then the identity,
/// which the protocol allows and keeps this generator from spending CPU on it).
fn put_ws_frame(out: &mut Vec<u8>, text: &[u8]) {
    out.push(0x81);
    if text.len() < 126 {
        out.push(0x80 | text.len() as u8);
    } else if text.len() <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(text.len() as u64).to_be_bytes());
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(text);
}

/// A member during the measured run. The WebSocket is read and written as raw frames on the
/// TCP stream (big reads, no allocation or copy per frame), so that the generator, which shares
/// nothing with the server but still adds its own queueing to every latency, stays light — the
/// NATS members read their protocol the same way. `run_vox` leaves every stream quiet before
/// this starts (nothing unread in tungstenite's buffer).
async fn vox_member_loop(
    mut m: Member,
    run: &'static Run,
    conv: std::sync::Arc<str>,
    sender: Option<(usize, usize, u64)>,
) -> (Hist, Hist) {
    let mut recv = Hist::new();
    let mut ack = Hist::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut sent_n = 0u64;
    let mut unacked = 0u32;
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut buf: Vec<u8> = vec![0; 256 * 1024];
    let mut filled = 0usize;
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = m.ws.get_mut() else {
        panic!("the benchmark connects without TLS");
    };
    let (mut rd, mut wr) = tcp.split();
    'run: loop {
        if run.stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::select! {
            n = rd.read(&mut buf[filled..]) => {
                let n = match n {
                    Ok(0) | Err(_) => {
                        run.errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Ok(n) => n,
                };
                filled += n;
                let mut at = 0;
                loop {
                    let (range, len) = match next_ws_frame(&buf[at..filled]) {
                        Ok(Some(f)) => f,
                        Ok(None) => break,
                        Err(()) => {
                            run.errors.fetch_add(1, Ordering::Relaxed);
                            break 'run;
                        }
                    };
                    let frame = &buf[at + range.start..at + range.end];
                    at += len;
                    let Ok(t) = std::str::from_utf8(frame) else {
                        run.errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    // The server's frames have a fixed layout, so only the send timestamp is
                    // searched for: `{"type":"msg","seq":N,"payload":{"service":"chat","event":"E",
                    // "payload":{..."text":"T<ns>|..."...},"request_uuid":"<uuid or empty>"}}`.
                    let Some(rest) = t.strip_prefix(MSG_PREFIX) else {
                        continue;
                    };
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    if let Ok(seq) = rest[..digits].parse() {
                        m.last_rx = seq;
                    }
                    unacked += 1;
                    let event = rest[digits..]
                        .strip_prefix(r#","payload":{"service":"chat","event":""#)
                        .unwrap_or("");
                    if event.starts_with(r#"onSendMessage""#) {
                        if let Some(sent_at) = num_after(event, r#""text":"T"#) {
                            let lat = now_ns().saturating_sub(sent_at);
                            let mine = !t.ends_with(r#""request_uuid":""}}"#);
                            if run.measuring.load(Ordering::Relaxed) {
                                run.deliveries.fetch_add(1, Ordering::Relaxed);
                                recv.add(lat);
                                if let Some(t) = TRACE.get()
                                    && sent_at % 64 == 0
                                {
                                    t.lock().unwrap().push((sent_at, lat));
                                }
                                if mine {
                                    ack.add(lat);
                                }
                            }
                        }
                    } else if event.starts_with(r#"onError""#) {
                        run.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    // As the Web SDK: a cumulative ACK after 50 un-ACKed frames (its 5 s timer
                    // never matters at these rates).
                    if unacked >= 50 {
                        unacked = 0;
                        put_ws_frame(
                            &mut out,
                            format!(r#"{{"type":"ack","seq":{}}}"#, m.last_rx).as_bytes(),
                        );
                    }
                }
                buf.copy_within(at..filled, 0);
                filled -= at;
                if filled == buf.len() {
                    let more = buf.len();
                    buf.resize(2 * more, 0);
                }
            }
            _ = tick.tick(), if sender.is_some() => {
                let (_, n, rate) = sender.unwrap();
                let owed = due(rate, n, start.elapsed());
                while sent_n < owed {
                    sent_n += 1;
                    let text = padded(format!("T{}", now_ns()), 100);
                    let f = format!(
                        r#"{{"type":"msg","seq":{},"payload":{{"service":"chat","event":"sendMessage","payload":{{"text":"{}","conversation":"{}","payload":[],"@type":"type/vox.store.IncomingNamespace.SendMessage"}},"request_uuid":"r{}"}}}}"#,
                        m.next_seq, text, conv, sent_n
                    );
                    m.next_seq += 1;
                    put_ws_frame(&mut out, f.as_bytes());
                    if run.measuring.load(Ordering::Relaxed) {
                        run.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if !out.is_empty() {
            if wr.write_all(&out).await.is_err() {
                run.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
            out.clear();
        }
    }
    (recv, ack)
}

async fn run_vox(o: &Opts, durable: bool) -> Report {
    let name = if durable { "vox" } else { "vox-nofsync" };
    let s = start_server(o, durable);
    provision(&s, o.members);
    let mut members = Vec::new();
    for i in 0..o.members {
        members.push(connect_member(s.ws, &format!("b{i}")).await);
    }
    // b0 creates the conversation with everyone.
    let participants: Vec<Value> = (1..o.members)
        .map(|i| json!({"user_id": 1001 + i as u64, "flags": 7}))
        .collect();
    members[0]
        .send_payload(json!({"service": "chat", "event": "createConversation", "payload": {
            "participants": participants, "title": "bench", "direct": false, "enable_public_join": false,
            "custom_data": {}, "@type": "type/vox.store.IncomingNamespace.CreateConversation"},
            "request_uuid": "create"}))
        .await;
    let created = members[0].next_chat().await;
    assert_eq!(created["event"], "onCreateConversation", "{created}");
    let conv: std::sync::Arc<str> = created["payload"]["object"]["uuid"]
        .as_str()
        .unwrap()
        .into();
    for m in members.iter_mut().skip(1) {
        let e = m.next_chat().await;
        assert_eq!(e["event"], "onCreateConversation");
    }
    for (i, m) in members.iter_mut().enumerate() {
        m.user_id = 1001 + i as u64;
        // A last request: its reply (with the ACK of everything before it in the same write)
        // is the last frame the server has for this member until the run starts, so the raw
        // reader of `vox_member_loop` starts on a frame boundary.
        m.send_payload(json!({"service": "chat", "event": "getUser", "payload": {
            "user_id": m.user_id, "@type": "type/vox.store.IncomingNamespace.GetUser"},
            "request_uuid": "sync"}))
            .await;
        let r = m.next_chat().await;
        assert_eq!(r["request_uuid"], "sync", "{r}");
    }
    let run: &'static Run = Box::leak(Box::new(Run::new()));
    let n = o.senders;
    let tasks = members
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let conv = conv.clone();
            let sender = (i < n).then_some((i, n, o.rate));
            tokio::spawn(vox_member_loop(m, run, conv, sender))
        })
        .collect();
    let pid = s.child.id();
    // With taskset, the child is taskset exec'ing the server: same pid.
    let r = measure(name, o, pid, run, tasks).await;
    drop(s);
    r
}

async fn run_idle(o: &Opts) {
    let s = start_server(o, true);
    provision(&s, 1);
    let pid = s.child.id();
    // Warm the server up with a few sessions so that one-off allocations are not counted.
    let mut keep = Vec::new();
    for _ in 0..100 {
        keep.push(connect_member(s.ws, "b0").await);
    }
    let before = rss_kb(pid);
    let t = Instant::now();
    for _ in 0..o.idle {
        keep.push(connect_member(s.ws, "b0").await);
    }
    let took = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kb(pid);
    println!(
        "idle sessions: {} logged-in sessions; server RSS {} KB → {} KB; {:.1} KB per idle session (logins took {:.1} s)",
        o.idle,
        before,
        after,
        (after.saturating_sub(before)) as f64 / o.idle as f64,
        took.as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// NATS core
// ---------------------------------------------------------------------------------------------

struct Nats {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_nats(o: &Opts) -> Nats {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = if o.pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", "nats-server"]);
        c
    } else {
        Command::new("nats-server")
    };
    let mut child = cmd
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .env("GOMAXPROCS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            return Nats { child, addr };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("nats-server did not start");
}

async fn nats_member(
    addr: SocketAddr,
    run: &'static Run,
    sender: Option<(usize, usize, u64)>,
    ready: std::sync::Arc<tokio::sync::Barrier>,
) -> (Hist, Hist) {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (r, mut w) = s.into_split();
    let mut r = tokio::io::BufReader::with_capacity(1 << 16, r);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap(); // INFO
    w.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB room 1\r\nPING\r\n")
        .await
        .unwrap();
    loop {
        line.clear();
        r.read_line(&mut line).await.unwrap();
        if line.starts_with("PONG") {
            break;
        }
    }
    ready.wait().await;
    let mut recv = Hist::new();
    let ack = Hist::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut sent_n = 0u64;
    let mut out = Vec::new();
    let mut payload = Vec::new();
    loop {
        if run.stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::select! {
            n = r.read_line({ line.clear(); &mut line }) => {
                if n.unwrap_or(0) == 0 { break; }
                if let Some(rest) = line.strip_prefix("MSG ") {
                    let len: usize = rest.trim_end().rsplit(' ').next().unwrap().parse().unwrap();
                    payload.resize(len + 2, 0);
                    r.read_exact(&mut payload).await.unwrap();
                    let text = std::str::from_utf8(&payload[..len]).unwrap_or("");
                    if let Some(sent_at) = num_after(text, "T")
                        && run.measuring.load(Ordering::Relaxed)
                    {
                        run.deliveries.fetch_add(1, Ordering::Relaxed);
                        recv.add(now_ns().saturating_sub(sent_at));
                    }
                } else if line.starts_with("PING") {
                    out.extend_from_slice(b"PONG\r\n");
                } else if line.starts_with("-ERR") {
                    run.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ = tick.tick(), if sender.is_some() => {
                let (_, n, rate) = sender.unwrap();
                let owed = due(rate, n, start.elapsed());
                while sent_n < owed {
                    sent_n += 1;
                    let text = padded(format!("T{}", now_ns()), 130);
                    out.extend_from_slice(format!("PUB room {}\r\n{}\r\n", text.len(), text).as_bytes());
                    if run.measuring.load(Ordering::Relaxed) {
                        run.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if !out.is_empty() {
            if w.write_all(&out).await.is_err() {
                run.errors.fetch_add(1, Ordering::Relaxed);
                break;
            }
            out.clear();
        }
    }
    (recv, ack)
}

async fn run_nats(o: &Opts) -> Report {
    let nats = start_nats(o);
    let run: &'static Run = Box::leak(Box::new(Run::new()));
    let ready = std::sync::Arc::new(tokio::sync::Barrier::new(o.members + 1));
    let tasks = (0..o.members)
        .map(|i| {
            let sender = (i < o.senders).then_some((i, o.senders, o.rate));
            tokio::spawn(nats_member(nats.addr, run, sender, ready.clone()))
        })
        .collect();
    ready.wait().await;
    let pid = nats.child.id();
    let r = measure("nats", o, pid, run, tasks).await;
    drop(nats);
    r
}

fn main() {
    let o = parse_args();
    if o.pin {
        pin_self(1);
    }
    let _ = now_ns();
    let trace_file = std::env::var("VOX_BENCH_TRACE").ok();
    if trace_file.is_some() {
        let _ = TRACE.set(std::sync::Mutex::new(Vec::new()));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "vox-bench: members {} senders {} rate {} msgs/s, warm-up {} s, measured {} s, server on CPU 0 (1 worker), generator on CPU 1",
            o.members, o.senders, o.rate, o.warmup, o.secs
        );
        if o.idle > 0 {
            run_idle(&o).await;
            return;
        }
        let mut reports = Vec::new();
        for t in &o.targets {
            let r = match t.as_str() {
                "vox" => run_vox(&o, true).await,
                "vox-nofsync" => run_vox(&o, false).await,
                "nats" => run_nats(&o).await,
                other => panic!("unknown target {other}"),
            };
            print_report(&r);
            if let (Some(f), Some(t)) = (&trace_file, TRACE.get()) {
                let mut samples = std::mem::take(&mut *t.lock().unwrap());
                samples.sort_unstable();
                let text: String = samples.iter().map(|(s, l)| format!("{s} {l}\n")).collect();
                std::fs::write(format!("{f}.{}", r.name), text).expect("write the trace");
            }
            reports.push(r);
        }
        if let Some(n) = reports.iter().find(|r| r.name == "nats") {
            for r in reports.iter().filter(|r| r.name != "nats") {
                if n.cpu_us_per_delivery > 0.0 {
                    println!(
                        "ratio {} / nats: server CPU per delivery {:.2}×, p99 send→receive {:.2}×",
                        r.name,
                        r.cpu_us_per_delivery / n.cpu_us_per_delivery,
                        r.recv.pct(0.99) as f64 / n.recv.pct(0.99).max(1) as f64
                    );
                }
            }
        }
    });
}
