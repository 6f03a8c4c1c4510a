//! `vox-bench`: fan-out, durability and idle-memory figures of `vox-messenger-server`, with NATS
//! core measured in the same run as the baseline. Not a test: it prints figures.
//!
//! Workload (issue 3): one conversation with N online members, S senders (members too) offering
//! R messages/s in total for a measured window; every member receives every message (the sender
//! gets the reply to its request, the others the event). The server runs pinned to CPU 0, this
//! generator pinned to CPU 1 (single-threaded runtime). Reported per run:
//!
//! * sustained deliveries/s (frames with a message that reached a session),
//! * send → receive latency p50/p99 (other members) and send → ack p50/p99 (the sender's reply,
//!   sent by the server only after the message is committed),
//! * server CPU µs per delivery (`/proc/PID/stat` utime+stime over the window and the drain),
//! * server RSS at the end of the run.
//!
//! The same workload goes through `nats-server` (N subscribers of one subject, S of them
//! publishing): the ratio of server CPU per delivery is printed.

mod nats;
mod stats;
mod ws;

use clap::Parser;
use serde::Deserialize;
use stats::{Histogram, cpu_time, fmt_us, rss_bytes};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser, Clone)]
#[command(
    name = "vox-bench",
    about = "Fan-out benchmark: vox-messenger-server vs NATS core"
)]
struct Args {
    /// The server binary (build it with `cargo build --release -p vox-messenger-server`).
    #[arg(long, default_value = "target/release/vox-messenger-server")]
    server_bin: String,
    /// Conversation sizes to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    members: Vec<usize>,
    /// Offered rates (messages/s over all senders), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10000")]
    rates: Vec<u64>,
    /// Number of senders (each a member).
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Measured window, seconds.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Warm-up before the window, seconds.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Persistence modes to run: `on` (ack after fsync'd commit), `off` (`--no-fsync`).
    #[arg(long, value_delimiter = ',', default_value = "on,off")]
    persistence: Vec<String>,
    /// Skip the NATS baseline.
    #[arg(long)]
    no_nats: bool,
    /// Also open this many idle logged-in sessions and report server RSS per session (0: skip).
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// CPU for the server (and nats-server); the generator takes the next one.
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ns() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

const ADMIN_KEY: &str = "bench-admin-key-0123456789abcdef";
const PASSWORD: &str = "bench-password";

fn main() {
    let args = Args::parse();
    LazyLock::force(&EPOCH);
    pin_self(args.server_cpu + 1);
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("vox-bench: {e}");
        std::process::exit(1);
    }
}

fn pin_self(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("note: could not pin the generator to CPU {cpu}");
        }
    }
}

fn raise_fd_limit() {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

#[derive(Default, Clone)]
struct RunResult {
    label: String,
    members: usize,
    rate: u64,
    sent: u64,
    deliveries: u64,
    expected: u64,
    secs: f64,
    latency: Histogram,
    ack: Histogram,
    cpu_per_delivery_us: Option<f64>,
    rss: Option<u64>,
    errors: u64,
}

async fn run(args: Args) -> Result<(), String> {
    let mut results: Vec<RunResult> = Vec::new();
    let max_members = *args.members.iter().max().unwrap_or(&100);
    for mode in &args.persistence {
        let durable = match mode.as_str() {
            "on" => true,
            "off" => false,
            other => return Err(format!("--persistence: unknown mode {other:?}")),
        };
        let server = VoxServer::start(&args, durable)?;
        server.provision(max_members.max(args.senders)).await?;
        for &n in &args.members {
            for &rate in &args.rates {
                let label = format!("vox (persistence {mode})");
                eprintln!("== {label}: N={n} R={rate}/s");
                let r = run_vox(&args, &server, n, rate, label).await?;
                print_result(&r);
                results.push(r);
            }
        }
        if durable && args.idle > 0 {
            idle(&server, args.idle, max_members).await?;
        }
    }
    if !args.no_nats {
        let nats = NatsServer::start(&args)?;
        for &n in &args.members {
            for &rate in &args.rates {
                eprintln!("== nats-server: N={n} R={rate}/s");
                let r = run_nats(&args, &nats, n, rate).await?;
                print_result(&r);
                results.push(r);
            }
        }
    }
    println!();
    println!(
        "{:<24} {:>5} {:>7} {:>9} {:>12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>6}",
        "system",
        "N",
        "R/s",
        "sent/s",
        "deliveries/s",
        "p50",
        "p99",
        "ack p50",
        "ack p99",
        "CPU µs/dl",
        "RSS MB",
        "errors"
    );
    for r in &results {
        println!(
            "{:<24} {:>5} {:>7} {:>9.0} {:>12.0} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>6}",
            r.label,
            r.members,
            r.rate,
            r.sent as f64 / r.secs,
            r.deliveries as f64 / r.secs,
            fmt_us(r.latency.quantile(0.5)),
            fmt_us(r.latency.quantile(0.99)),
            fmt_us(r.ack.quantile(0.5)),
            fmt_us(r.ack.quantile(0.99)),
            r.cpu_per_delivery_us
                .map(|c| format!("{c:.3}"))
                .unwrap_or("-".into()),
            r.rss
                .map(|b| format!("{:.1}", b as f64 / 1048576.0))
                .unwrap_or("-".into()),
            r.errors
        );
    }
    for r in results.iter().filter(|r| r.label.starts_with("vox")) {
        if let Some(base) = results
            .iter()
            .find(|b| b.label.starts_with("nats") && b.members == r.members && b.rate == r.rate)
            && let (Some(a), Some(b)) = (r.cpu_per_delivery_us, base.cpu_per_delivery_us)
            && b > 0.0
        {
            println!(
                "ratio {} / nats-server, N={} R={}: CPU per delivery ×{:.2}, p99 ×{:.2}",
                r.label,
                r.members,
                r.rate,
                a / b,
                r.latency.quantile(0.99).unwrap_or(0) as f64
                    / base.latency.quantile(0.99).unwrap_or(1).max(1) as f64
            );
        }
    }
    Ok(())
}

fn print_result(r: &RunResult) {
    eprintln!(
        "   sent {} msgs, {} of {} deliveries, p50 {} p99 {}, ack p99 {}, CPU {} µs/delivery, {} errors",
        r.sent,
        r.deliveries,
        r.expected,
        fmt_us(r.latency.quantile(0.5)),
        fmt_us(r.latency.quantile(0.99)),
        fmt_us(r.ack.quantile(0.99)),
        r.cpu_per_delivery_us
            .map(|c| format!("{c:.3}"))
            .unwrap_or("-".into()),
        r.errors
    );
}

// ------------------------------------------------------------------------------------------
// Processes
// ------------------------------------------------------------------------------------------

struct VoxServer {
    child: Child,
    ws: String,
    admin: String,
    _dir: TempDir,
}

impl Drop for VoxServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "vox-bench-{tag}-{}-{}",
            std::process::id(),
            now_ns()
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pinned(cpu: usize, bin: &str) -> Command {
    let mut c = Command::new("taskset");
    c.arg("-c").arg(cpu.to_string()).arg(bin);
    c
}

impl VoxServer {
    fn start(args: &Args, durable: bool) -> Result<VoxServer, String> {
        let dir = TempDir::new("vox");
        let mut cmd = pinned(args.server_cpu, &args.server_bin);
        cmd.arg("serve")
            .arg("--db")
            .arg(dir.0.join("bench.sqlite3"))
            .args(["--listen", "127.0.0.1:0"])
            .args(["--admin-listen", "127.0.0.1:0", "--admin-key", ADMIN_KEY])
            // The benchmark floods one conversation on purpose: no per-session rate limit.
            .args(["--msg-rate-per-second", "0", "--msg-rate-per-minute", "0"])
            .env("VOX_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !durable {
            cmd.arg("--no-fsync");
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("start {}: {e}", args.server_bin))?;
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let ready: serde_json::Value = line
            .strip_prefix("READY ")
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or_else(|| format!("server did not print READY (got {line:?})"))?;
        let field = |k: &str| ready[k].as_str().map(str::to_owned);
        Ok(VoxServer {
            ws: field("ws").ok_or("READY without ws")?,
            admin: field("admin").ok_or("READY without admin")?,
            child,
            _dir: dir,
        })
    }

    fn pid(&self) -> u32 {
        // `taskset` execs the server: same pid.
        self.child.id()
    }

    async fn provision(&self, users: usize) -> Result<(), String> {
        admin_post(
            &self.admin,
            "/v1/accounts",
            serde_json::json!({"name": "bench"}),
        )
        .await?;
        admin_post(
            &self.admin,
            "/v1/apps",
            serde_json::json!({"account": "bench", "name": "app"}),
        )
        .await?;
        for i in 0..users {
            admin_post(
                &self.admin,
                "/v1/users",
                serde_json::json!({"user": format!("u{i}@app.bench"), "password": PASSWORD}),
            )
            .await?;
        }
        Ok(())
    }
}

/// A minimal HTTP/1.1 POST (the admin API is on loopback, one request per connection).
async fn admin_post(
    addr: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let body = body.to_string();
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .await
        .map_err(|e| e.to_string())?;
    let status: u16 = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if !(200..300).contains(&status) {
        return Err(format!("admin POST {path}: {resp}"));
    }
    let json = resp.split("\r\n\r\n").nth(1).unwrap_or("null");
    Ok(serde_json::from_str(json).unwrap_or(serde_json::Value::Null))
}

struct NatsServer {
    child: Child,
    addr: String,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NatsServer {
    fn start(args: &Args) -> Result<NatsServer, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = pinned(args.server_cpu, "nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start nats-server (apt-get install nats-server): {e}"))?;
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            if Instant::now() > deadline {
                return Err("nats-server did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(NatsServer { child, addr })
    }
}

// ------------------------------------------------------------------------------------------
// Measurement
// ------------------------------------------------------------------------------------------

/// What every receiving connection records. Timestamps in message texts are `now_ns()` values.
#[derive(Default)]
struct Recorder {
    window: (u64, u64),
    deliveries: u64,
    latency: Histogram,
    ack: Histogram,
    errors: u64,
}

type Shared = Arc<Mutex<Recorder>>;

/// Counters of the senders: messages sent inside the window.
#[derive(Default)]
struct SendCount {
    in_window: AtomicU64,
}

/// `"<send ns> <anything>"` → send ns.
fn stamp(text: &str) -> Option<u64> {
    text.split(' ').next()?.parse().ok()
}

impl Recorder {
    fn delivered(&mut self, sent_ns: u64, is_ack: bool) {
        let (t0, t1) = self.window;
        if sent_ns < t0 || sent_ns >= t1 {
            return;
        }
        let d = Duration::from_nanos(now_ns().saturating_sub(sent_ns));
        self.deliveries += 1;
        if is_ack {
            self.ack.record(d);
        } else {
            self.latency.record(d);
        }
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    event: &'a str,
    #[serde(default)]
    payload: Option<EvPayload<'a>>,
    #[serde(default, borrow)]
    request_uuid: Option<&'a str>,
}

#[derive(Deserialize)]
struct EvPayload<'a> {
    #[serde(default, borrow)]
    object: Option<EvObject<'a>>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default, borrow)]
    description: Option<&'a str>,
}

#[derive(Deserialize)]
struct EvObject<'a> {
    #[serde(default, borrow)]
    text: Option<&'a str>,
    #[serde(default, borrow)]
    uuid: Option<&'a str>,
}

fn on_vox_payload(rec: &Shared, text: &str, created: &Mutex<Option<String>>) {
    let Ok(ev) = serde_json::from_str::<Event<'_>>(text) else {
        return;
    };
    let is_reply = ev.request_uuid.is_some_and(|u| !u.is_empty());
    match ev.event {
        "onSendMessage" => {
            if let Some(ts) = ev
                .payload
                .and_then(|p| p.object)
                .and_then(|o| o.text)
                .and_then(stamp)
            {
                rec.lock().unwrap().delivered(ts, is_reply);
            }
        }
        "onCreateConversation" if is_reply => {
            if let Some(uuid) = ev.payload.and_then(|p| p.object).and_then(|o| o.uuid) {
                *created.lock().unwrap() = Some(uuid.to_owned());
            }
        }
        "onError" => {
            let mut r = rec.lock().unwrap();
            r.errors += 1;
            if r.errors <= 3 {
                let p = ev.payload.as_ref();
                eprintln!(
                    "   server error {:?}: {:?}",
                    p.and_then(|p| p.code),
                    p.and_then(|p| p.description)
                );
            }
        }
        _ => {}
    }
}

fn window(args: &Args) -> (u64, u64) {
    let t0 = now_ns() + Duration::from_secs(args.warmup).as_nanos() as u64;
    (t0, t0 + Duration::from_secs(args.secs).as_nanos() as u64)
}

async fn until_ns(t: u64) {
    let now = now_ns();
    if t > now {
        tokio::time::sleep(Duration::from_nanos(t - now)).await;
    }
}

/// Drive `send(i)` at `per_sec` messages/s from now until `end` (ns), counting sends inside
/// `[t0, t1)`. Sends are spread over 1 ms ticks.
async fn pace(
    per_sec: f64,
    end: u64,
    win: (u64, u64),
    counts: Arc<SendCount>,
    mut send: impl FnMut(u64) -> bool,
) {
    let start = now_ns();
    let mut sent: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let now = now_ns();
        if now >= end {
            return;
        }
        let due = ((now - start) as f64 / 1e9 * per_sec) as u64;
        while sent < due {
            let t = now_ns();
            if !send(t) {
                return;
            }
            if t >= win.0 && t < win.1 {
                counts.in_window.fetch_add(1, Ordering::Relaxed);
            }
            sent += 1;
        }
    }
}

async fn collect(
    recs: &[Shared],
    expected: u64,
    pid: u32,
    cpu0: Option<Duration>,
) -> (u64, Histogram, Histogram, u64, Option<Duration>) {
    // Drain: wait (bounded) until every expected delivery arrived.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got: u64 = recs.iter().map(|r| r.lock().unwrap().deliveries).sum();
        if got >= expected || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu = cpu_time(pid).zip(cpu0).map(|(a, b)| a.saturating_sub(b));
    let mut lat = Histogram::default();
    let mut ack = Histogram::default();
    let mut deliveries = 0;
    let mut errors = 0;
    for r in recs {
        let r = r.lock().unwrap();
        lat.merge(&r.latency);
        ack.merge(&r.ack);
        deliveries += r.deliveries;
        errors += r.errors;
    }
    (deliveries, lat, ack, errors, cpu)
}

async fn run_vox(
    args: &Args,
    server: &VoxServer,
    n: usize,
    rate: u64,
    label: String,
) -> Result<RunResult, String> {
    let senders = args.senders.min(n);
    let win = (u64::MAX, u64::MAX);
    let created = Arc::new(Mutex::new(None::<String>));
    let mut recs = Vec::with_capacity(n);
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        let rec: Shared = Arc::new(Mutex::new(Recorder {
            window: win,
            ..Default::default()
        }));
        let r = rec.clone();
        let c = created.clone();
        let conn = ws::connect(
            &server.ws,
            &format!("u{i}@app.bench.voximplant.com"),
            PASSWORD,
            move |text| on_vox_payload(&r, text, &c),
        )
        .await?;
        recs.push(rec);
        conns.push(conn);
    }
    // Member 0 creates the conversation with everyone else (write permission for all).
    let ids = user_ids(server, n).await?;
    let participants: Vec<_> = ids[1..]
        .iter()
        .map(|id| serde_json::json!({"user_id": id, "flags": 7}))
        .collect();
    let create = serde_json::json!({"service": "chat", "event": "createConversation", "payload": {
        "participants": participants, "title": format!("bench {n}"), "direct": false,
        "enable_public_join": false, "uber_conversation": false, "custom_data": {},
        "@type": "type/vox.store.IncomingNamespace.CreateConversation"},
        "request_uuid": uuid::Uuid::new_v4().to_string()});
    conns[0].send(create.to_string().into());
    let deadline = Instant::now() + Duration::from_secs(30);
    let conv = loop {
        if let Some(c) = created.lock().unwrap().clone() {
            break c;
        }
        if Instant::now() > deadline {
            return Err("createConversation got no reply".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    let sends = conns
        .iter()
        .take(senders)
        .cloned()
        .map(|conn| {
            let conv = conv.clone();
            let mut k = 0u64;
            move |t: u64| {
                k += 1;
                let frame = format!(
                    r#"{{"service":"chat","event":"sendMessage","payload":{{"text":"{t} {k}","conversation":"{conv}","payload":[],"@type":"type/vox.store.IncomingNamespace.SendMessage"}},"request_uuid":"{}"}}"#,
                    uuid::Uuid::new_v4()
                );
                conn.send(frame.into())
            }
        })
        .collect();
    let result = measure(args, &recs, sends, server.pid(), n, rate, label).await;
    drop(conns);
    Ok(result)
}

/// Run the measured window: `sends` (one per sender) paced at `rate` in total, deliveries
/// recorded by `recs`, CPU and RSS of process `pid`.
async fn measure<F: FnMut(u64) -> bool + Send + 'static>(
    args: &Args,
    recs: &[Shared],
    sends: Vec<F>,
    pid: u32,
    n: usize,
    rate: u64,
    label: String,
) -> RunResult {
    let win = window(args);
    for r in recs {
        r.lock().unwrap().window = win;
    }
    let counts = Arc::new(SendCount::default());
    let per_sender = rate as f64 / sends.len().max(1) as f64;
    let tasks: Vec<_> = sends
        .into_iter()
        .map(|send| tokio::spawn(pace(per_sender, win.1, win, counts.clone(), send)))
        .collect();
    until_ns(win.0).await;
    let cpu0 = cpu_time(pid);
    for t in tasks {
        let _ = t.await;
    }
    let sent = counts.in_window.load(Ordering::Relaxed);
    let expected = sent * n as u64;
    let (deliveries, latency, ack, errors, cpu) = collect(recs, expected, pid, cpu0).await;
    RunResult {
        label,
        members: n,
        rate,
        sent,
        deliveries,
        expected,
        secs: args.secs as f64,
        latency,
        ack,
        cpu_per_delivery_us: cpu
            .filter(|_| deliveries > 0)
            .map(|c| c.as_secs_f64() * 1e6 / deliveries as f64),
        rss: rss_bytes(pid),
        errors,
    }
}

/// IM user ids of u0..u{n-1}, from the admin API.
async fn user_ids(server: &VoxServer, n: usize) -> Result<Vec<i64>, String> {
    let mut s = tokio::net::TcpStream::connect(&server.admin)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!(
        "GET /v1/users?account=bench HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .await
        .map_err(|e| e.to_string())?;
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("GET /v1/users: {e}: {body:.200}"))?;
    let list = v
        .get("users")
        .and_then(|u| u.as_array())
        .or_else(|| v.as_array())
        .ok_or_else(|| format!("GET /v1/users: unexpected {body:.200}"))?;
    let mut ids = vec![0i64; n];
    for u in list {
        let name = u["name"]["user"].as_str().unwrap_or("");
        if let Some(i) = name
            .strip_prefix('u')
            .and_then(|x| x.parse::<usize>().ok())
            .filter(|i| *i < n)
        {
            ids[i] = u["id"].as_i64().unwrap_or(0);
        }
    }
    if ids.contains(&0) {
        return Err("GET /v1/users: some bench users are missing".into());
    }
    Ok(ids)
}

async fn run_nats(
    args: &Args,
    nats: &NatsServer,
    n: usize,
    rate: u64,
) -> Result<RunResult, String> {
    let senders = args.senders.min(n);
    let subject = format!("bench.{n}.{rate}");
    let mut recs = Vec::with_capacity(n);
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let rec: Shared = Arc::new(Mutex::new(Recorder {
            window: (u64::MAX, u64::MAX),
            ..Default::default()
        }));
        let r = rec.clone();
        let conn = nats::connect(&nats.addr, &subject, move |payload| {
            if let Some(ts) = std::str::from_utf8(payload).ok().and_then(stamp) {
                r.lock().unwrap().delivered(ts, false);
            }
        })
        .await?;
        recs.push(rec);
        conns.push(conn);
    }
    let sends = conns
        .iter()
        .take(senders)
        .cloned()
        .map(|conn| {
            let subject = subject.clone();
            let mut k = 0u64;
            move |t: u64| {
                k += 1;
                conn.publish(&subject, format!("{t} {k}").as_bytes())
            }
        })
        .collect();
    let label = "nats-server (core)".to_string();
    Ok(measure(args, &recs, sends, nats.child.id(), n, rate, label).await)
}

/// Open `k` idle logged-in sessions (users cycled) and report the server's RSS growth per session.
async fn idle(server: &VoxServer, k: usize, users: usize) -> Result<(), String> {
    eprintln!("== idle sessions: {k}");
    let before = rss_bytes(server.pid()).unwrap_or(0);
    let mut conns = Vec::with_capacity(k);
    let mut pending = tokio::task::JoinSet::new();
    let mut next = 0;
    while conns.len() < k {
        while next < k && pending.len() < 64 {
            let addr = server.ws.clone();
            let login = format!("u{}@app.bench.voximplant.com", next % users);
            pending.spawn(async move { ws::connect(&addr, &login, PASSWORD, |_| {}).await });
            next += 1;
        }
        match pending.join_next().await {
            Some(Ok(Ok(c))) => conns.push(c),
            Some(Ok(Err(e))) => return Err(format!("idle session: {e}")),
            Some(Err(e)) => return Err(e.to_string()),
            None => break,
        }
    }
    let after = rss_bytes(server.pid()).unwrap_or(0);
    let per = after.saturating_sub(before) as f64 / k as f64;
    println!(
        "idle: {k} logged-in sessions: server RSS {:.1} MB → {:.1} MB, {:.1} KB per session",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per / 1024.0
    );
    Ok(())
}
