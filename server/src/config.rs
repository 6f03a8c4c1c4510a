//! Server configuration: command-line flags, environment variables (`VOX_*`) and an optional TOML
//! file, in that order of precedence (flag > env > file > default).
//!
//! `vox-messenger-server serve --dev` needs nothing else: it listens on 127.0.0.1, makes a
//! self-signed certificate, uses a temporary SQLite file (or `--db`), creates demo users and prints
//! how to connect.

use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `serve` (each also readable from the environment variable shown by `--help`).
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML configuration file (keys named like the long flags, with `_` for `-`).
    #[arg(long, env = "VOX_CONFIG")]
    pub config: Option<PathBuf>,
    /// Development mode: 127.0.0.1, a self-signed certificate, demo account `acc`, app `app`,
    /// users user1..user3 (password `secret`), a printed admin key.
    #[arg(long, env = "VOX_DEV")]
    pub dev: bool,
    /// Main listener (HTTPS + WSS when TLS is configured or in dev mode; plain otherwise).
    #[arg(long, env = "VOX_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// An additional plain `ws://`/`http://` listener for native clients on a trusted network.
    /// Off unless set.
    #[arg(long, env = "VOX_PLAIN_LISTEN")]
    pub plain_listen: Option<SocketAddr>,
    /// Admin HTTP API listener (off unless set, or 127.0.0.1:8444 in dev mode).
    #[arg(long, env = "VOX_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Bearer key for the admin API (dev mode generates one when absent).
    #[arg(long, env = "VOX_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// PEM certificate chain for TLS.
    #[arg(long, env = "VOX_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, env = "VOX_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// SQLite database file (created when missing). Set by the global `--db` flag.
    #[arg(skip)]
    pub db: Option<PathBuf>,
    /// Folder served over the main listener at `/` (the demo page lives in `web/`).
    #[arg(long, env = "VOX_WEB_ROOT")]
    pub web_root: Option<PathBuf>,
    /// Domain suffix of login names (`user@app.account.<domain>`).
    #[arg(long, env = "VOX_DOMAIN")]
    pub domain: Option<String>,
    /// How long a dropped connection can be resumed, in seconds.
    #[arg(long, env = "VOX_RESUME_WINDOW_SECS")]
    pub resume_window_secs: Option<u64>,
    /// Largest accepted WebSocket message, in bytes.
    #[arg(long, env = "VOX_MAX_MESSAGE_BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Access token lifetime, seconds.
    #[arg(long, env = "VOX_ACCESS_TOKEN_TTL_SECS")]
    pub access_token_ttl_secs: Option<u64>,
    /// Refresh token lifetime, seconds.
    #[arg(long, env = "VOX_REFRESH_TOKEN_TTL_SECS")]
    pub refresh_token_ttl_secs: Option<u64>,
    /// One-time login key lifetime, seconds.
    #[arg(long, env = "VOX_ONE_TIME_KEY_TTL_SECS")]
    pub one_time_key_ttl_secs: Option<u64>,
    /// Failed logins allowed per user name within the lockout window.
    #[arg(long, env = "VOX_LOGIN_FAILURES_PER_USER")]
    pub login_failures_per_user: Option<u32>,
    /// Failed logins allowed per peer IP address within the lockout window.
    #[arg(long, env = "VOX_LOGIN_FAILURES_PER_PEER")]
    pub login_failures_per_peer: Option<u32>,
    /// Lockout window for failed logins, seconds.
    #[arg(long, env = "VOX_LOGIN_LOCKOUT_SECS")]
    pub login_lockout_secs: Option<u64>,
    /// Messaging requests one session may send per second (error 32 beyond; 0 = unlimited).
    #[arg(long, env = "VOX_MSG_RATE_PER_SECOND")]
    pub msg_rate_per_second: Option<u32>,
    /// Messaging requests one session may send per minute (error 33 beyond; 0 = unlimited).
    #[arg(long, env = "VOX_MSG_RATE_PER_MINUTE")]
    pub msg_rate_per_minute: Option<u32>,
    /// Events a session may have queued before it is closed as too slow.
    #[arg(long, env = "VOX_SESSION_QUEUE")]
    pub session_queue: Option<usize>,
    /// Frames a client may leave un-ACKed before its connection is closed (4002).
    #[arg(long, env = "VOX_MAX_UNACKED_FRAMES")]
    pub max_unacked_frames: Option<usize>,
    /// Acknowledge messaging writes without waiting for fsync (benchmarks only: a crash can
    /// lose acknowledged changes).
    #[arg(long, env = "VOX_NO_FSYNC")]
    pub no_fsync: bool,
    /// Group commit window in microseconds (default 2000; 0 = off): a write batch starts at
    /// least this long after the previous one started, so that under load each commit and each
    /// session's write carry more messages (less CPU per delivery, fewer fsyncs, up to this much
    /// more latency). A quiet server is not slowed: a write arriving after a pause starts at once.
    #[arg(long, env = "VOX_COMMIT_WINDOW_US")]
    pub commit_window_us: Option<u64>,
    /// Widest group commit window in microseconds (default: `--commit-window-us`, a fixed
    /// window). When it is wider, then while the server process uses more than 70 % of the
    /// CPU it may run on, the window widens by 250 µs every 100 ms up to this, and narrows back below 50 %:
    /// bigger batches amortise more per-batch work (one socket write per recipient session,
    /// which dominates at large fan-out) exactly when the CPU is the bottleneck, at the price
    /// of up to this much latency. Ignored when the window is off (0).
    #[arg(long, env = "VOX_COMMIT_WINDOW_MAX_US")]
    pub commit_window_max_us: Option<u64>,
    /// Size of the messaging WAL (MiB) from which the writer makes SQLite start it over after a
    /// background checkpoint (default 1). Starting over costs the writer a short pause (it
    /// copies what the checkpoint missed and syncs the database file); a quiet server never
    /// pays it. Measured at 20 000 msgs/s (vox-bench N=10, 30 s, alternating runs): ack p99
    /// 25/16 ms at 1 MiB, 65/14 ms at 16, 28/168 ms at 64 — a bigger WAL did not help.
    #[arg(long, env = "VOX_WAL_RESTART_MB")]
    pub wal_restart_mb: Option<u64>,
    /// How long (seconds) a write that takes a conversation seq is remembered, so that the
    /// same request resent with the same `request_uuid` is answered instead of run again
    /// (default 600). Memory: ~100–140 bytes per write in that window.
    #[arg(long, env = "VOX_REQUEST_LOG_SECS")]
    pub request_log_secs: Option<u64>,
}

/// See [`ServeArgs::commit_window_us`]. Measured with `vox-bench` (N=100, R=10k, same window
/// of time): 0 → 0.92 µs server CPU per delivery, p99 32 ms durable; 3000 → 0.76 µs, p99 11 ms.
pub const DEFAULT_COMMIT_WINDOW_US: u64 = 2000;

// `--commit-window-max-us` defaults to the window itself (no widening). Measured with
// `vox-bench` on the 2-vCPU VM (2026-11-26, two alternating 20 s runs each): N=100 R=10k with
// 2000..5000 the window reached 5000 within 3 s; server CPU per delivery 0.80-0.84 µs against
// 0.87-0.92 fixed at 2000, but the median rose from 2.6-4.0 to 5.4-6.4 ms and the p99 was
// worse in three runs of four. N=10 R=20k (the server at ~54 % of a core) stayed at 2000 and
// measured the same as the fixed window. So it is a choice for CPU-bound deployments, not a
// default.

/// The same keys, read from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    dev: Option<bool>,
    listen: Option<SocketAddr>,
    plain_listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    admin_key: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    db: Option<PathBuf>,
    web_root: Option<PathBuf>,
    domain: Option<String>,
    resume_window_secs: Option<u64>,
    max_message_bytes: Option<usize>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    one_time_key_ttl_secs: Option<u64>,
    login_failures_per_user: Option<u32>,
    login_failures_per_peer: Option<u32>,
    login_lockout_secs: Option<u64>,
    msg_rate_per_second: Option<u32>,
    msg_rate_per_minute: Option<u32>,
    session_queue: Option<usize>,
    max_unacked_frames: Option<usize>,
    no_fsync: Option<bool>,
    commit_window_us: Option<u64>,
    commit_window_max_us: Option<u64>,
    wal_restart_mb: Option<u64>,
    request_log_secs: Option<u64>,
}

/// How the main listener gets its certificate.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsSetup {
    /// Plain HTTP/WS only.
    None,
    /// Certificate chain and key from PEM files.
    Files { cert: PathBuf, key: PathBuf },
    /// Generate a self-signed certificate for 127.0.0.1/localhost and write it to this folder.
    SelfSigned { dir: PathBuf },
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub dev: bool,
    pub listen: SocketAddr,
    pub plain_listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub admin_key: Option<String>,
    pub tls: TlsSetup,
    pub db: PathBuf,
    pub web_root: Option<PathBuf>,
    pub domain: String,
    pub resume_window: Duration,
    pub max_message_bytes: usize,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub one_time_key_ttl: Duration,
    pub login_failures_per_user: u32,
    pub login_failures_per_peer: u32,
    pub login_lockout: Duration,
    /// Per-session messaging request limits.
    pub msg_rate: crate::messaging::limits::RateLimits,
    /// Capacity of each session's event queue.
    pub session_queue: usize,
    /// Messaging commits wait for fsync (`synchronous=FULL`).
    pub durable: bool,
    /// Bound of a connection's un-ACKed outgoing frames (default 4096).
    pub max_unacked_frames: usize,
    /// See [`ServeArgs::commit_window_us`].
    pub commit_window: std::time::Duration,
    /// See [`ServeArgs::commit_window_max_us`]; never below `commit_window`, zero when the
    /// window is off.
    pub commit_window_max: std::time::Duration,
    /// See [`ServeArgs::wal_restart_mb`] (bytes).
    pub wal_restart_bytes: u64,
    /// See [`ServeArgs::request_log_secs`].
    pub request_log_secs: i64,
    /// Folder for generated files (dev certificate, temporary database).
    pub data_dir: PathBuf,
}

/// Default size limit of one WebSocket message: 1 MiB. Messenger payloads are small (a message
/// text is at most 5 000 characters, conversation custom data 5 KB); anything larger is refused
/// with close code 1009 instead of being buffered (tungstenite's default would be 64 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Default bound of a session's event queue. A session this far behind is closed (it reconnects
/// and catches up with `retransmitEvents`).
pub const DEFAULT_SESSION_QUEUE: usize = 4096;

impl Config {
    /// Resolve flags/env over the optional TOML file over defaults.
    pub fn resolve(args: &ServeArgs) -> Result<Config, String> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| format!("config file {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let dev = args.dev || file.dev.unwrap_or(false);
        let tls_cert = args.tls_cert.clone().or(file.tls_cert);
        let tls_key = args.tls_key.clone().or(file.tls_key);
        let db = args.db.clone().or(file.db);
        let data_dir = match &db {
            Some(p) => p
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| p.to_path_buf())
                .unwrap_or_else(|| PathBuf::from(".")),
            None if dev => {
                let dir =
                    std::env::temp_dir().join(format!("vox-messenger-dev-{}", std::process::id()));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                dir
            }
            None => PathBuf::from("."),
        };
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => TlsSetup::Files { cert, key },
            (None, None) if dev => TlsSetup::SelfSigned {
                dir: data_dir.clone(),
            },
            (None, None) => TlsSetup::None,
            _ => return Err("--tls-cert and --tls-key must be given together".into()),
        };
        let default_listen: SocketAddr = if dev {
            "127.0.0.1:8443".parse().unwrap()
        } else if tls == TlsSetup::None {
            "0.0.0.0:8080".parse().unwrap()
        } else {
            "0.0.0.0:8443".parse().unwrap()
        };
        let admin_listen = args
            .admin_listen
            .or(file.admin_listen)
            .or_else(|| dev.then(|| "127.0.0.1:8444".parse().unwrap()));
        let admin_key = args.admin_key.clone().or(file.admin_key);
        if admin_listen.is_some() && admin_key.is_none() && !dev {
            return Err("the admin API needs --admin-key (or VOX_ADMIN_KEY)".into());
        }
        if let Some(k) = &admin_key
            && k.len() < 16
        {
            return Err("the admin key must be at least 16 characters".into());
        }
        let secs =
            |a: Option<u64>, f: Option<u64>, d: u64| Duration::from_secs(a.or(f).unwrap_or(d));
        let commit_window_us = args
            .commit_window_us
            .or(file.commit_window_us)
            .unwrap_or(DEFAULT_COMMIT_WINDOW_US)
            .min(1_000_000);
        let commit_window_max_us = if commit_window_us == 0 {
            0
        } else {
            args.commit_window_max_us
                .or(file.commit_window_max_us)
                .unwrap_or(commit_window_us)
                .clamp(commit_window_us, 1_000_000)
        };
        Ok(Config {
            dev,
            listen: args.listen.or(file.listen).unwrap_or(default_listen),
            plain_listen: args.plain_listen.or(file.plain_listen),
            admin_listen,
            admin_key,
            tls,
            db: db.unwrap_or_else(|| {
                data_dir.join(if dev {
                    "vox-dev.sqlite3"
                } else {
                    "vox-messenger.sqlite3"
                })
            }),
            web_root: args.web_root.clone().or(file.web_root).or_else(|| {
                let w = PathBuf::from("web");
                (dev && w.is_dir()).then_some(w)
            }),
            domain: args
                .domain
                .clone()
                .or(file.domain)
                .unwrap_or_else(|| "voximplant.com".into()),
            resume_window: secs(args.resume_window_secs, file.resume_window_secs, 60),
            max_message_bytes: args
                .max_message_bytes
                .or(file.max_message_bytes)
                .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES),
            access_token_ttl: secs(
                args.access_token_ttl_secs,
                file.access_token_ttl_secs,
                48 * 3600,
            ),
            refresh_token_ttl: secs(
                args.refresh_token_ttl_secs,
                file.refresh_token_ttl_secs,
                30 * 86400,
            ),
            one_time_key_ttl: secs(args.one_time_key_ttl_secs, file.one_time_key_ttl_secs, 300),
            login_failures_per_user: args
                .login_failures_per_user
                .or(file.login_failures_per_user)
                .unwrap_or(10),
            login_failures_per_peer: args
                .login_failures_per_peer
                .or(file.login_failures_per_peer)
                .unwrap_or(50),
            login_lockout: secs(args.login_lockout_secs, file.login_lockout_secs, 300),
            msg_rate: {
                let d = crate::messaging::limits::RateLimits::default();
                crate::messaging::limits::RateLimits {
                    per_second: args
                        .msg_rate_per_second
                        .or(file.msg_rate_per_second)
                        .unwrap_or(d.per_second),
                    per_minute: args
                        .msg_rate_per_minute
                        .or(file.msg_rate_per_minute)
                        .unwrap_or(d.per_minute),
                }
            },
            session_queue: args
                .session_queue
                .or(file.session_queue)
                .unwrap_or(DEFAULT_SESSION_QUEUE),
            durable: !(args.no_fsync || file.no_fsync.unwrap_or(false)),
            max_unacked_frames: args
                .max_unacked_frames
                .or(file.max_unacked_frames)
                .unwrap_or(4096)
                .max(1),
            wal_restart_bytes: args
                .wal_restart_mb
                .or(file.wal_restart_mb)
                .unwrap_or(1)
                .clamp(1, 1 << 20)
                << 20,
            request_log_secs: args
                .request_log_secs
                .or(file.request_log_secs)
                .map_or(crate::messaging::store::DEDUP_RETENTION_SECS, |s| {
                    s.clamp(1, 30 * 86_400) as i64
                }),
            commit_window: std::time::Duration::from_micros(commit_window_us),
            commit_window_max: std::time::Duration::from_micros(commit_window_max_us),
            data_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn resolve(tweak: impl FnOnce(&mut ServeArgs)) -> Config {
        let dir = std::env::temp_dir();
        let mut a = ServeArgs {
            db: Some(dir.join("vox-config-test.sqlite3")),
            ..Default::default()
        };
        tweak(&mut a);
        Config::resolve(&a).expect("config")
    }

    #[test]
    fn commit_window_bounds() {
        let c = resolve(|_| {});
        assert_eq!(
            c.commit_window,
            Duration::from_micros(DEFAULT_COMMIT_WINDOW_US)
        );
        assert_eq!(
            c.commit_window_max, c.commit_window,
            "a fixed window by default"
        );
        // Off means off: no adaptive window either.
        let c = resolve(|a| a.commit_window_us = Some(0));
        assert_eq!(
            (c.commit_window, c.commit_window_max),
            (Duration::ZERO, Duration::ZERO)
        );
        // A maximum below the window is the window (a fixed window).
        let c = resolve(|a| {
            a.commit_window_us = Some(3000);
            a.commit_window_max_us = Some(1000);
        });
        assert_eq!(c.commit_window_max, Duration::from_micros(3000));
        let c = resolve(|a| a.commit_window_max_us = Some(8000));
        assert_eq!(c.commit_window_max, Duration::from_micros(8000));
    }
}
