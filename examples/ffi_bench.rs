//! Figures of the C ABI (prints them; not a timed test):
//!
//! * the size of the stripped release `cdylib` (if it was built: `cargo build -p vox-messenger
//!   --release`);
//! * a synchronous accessor call through the C ABI (ns);
//! * connect + login on loopback (ms), and RSS per idle logged-in client;
//! * 1 000 sequential `get_user` round trips through the C ABI and through the Rust API in the
//!   same run, and their ratio.
//!
//! The server runs as a separate process (so its memory is not counted): the
//! `vox-messenger-server` binary next to this example's directory, or `$VOX_SERVER_BIN`.
//!
//! ```sh
//! cargo build --release -p vox-messenger -p vox-messenger-server
//! cargo run --release -p vox-messenger --example ffi_bench
//! ```

use ::vox_messenger::ffi::all::*;
use std::ffi::{CString, c_void};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::ptr::{null, null_mut};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

const CLIENTS: usize = 50;
const ROUND_TRIPS: usize = 1000;

struct Wait {
    m: Mutex<Option<i32>>,
    cv: Condvar,
}

unsafe extern "C" fn done(ud: *mut c_void, status: i32, _: *const vox_error, _: *const vox_event) {
    // SAFETY: a `Wait` that outlives the call.
    let w = unsafe { &*(ud as *const Wait) };
    *w.m.lock().unwrap() = Some(status);
    w.cv.notify_one();
}

/// Start a C call and wait for its completion.
fn c_call(start: impl FnOnce(vox_completion) -> i32) {
    let w = Wait {
        m: Mutex::new(None),
        cv: Condvar::new(),
    };
    let c = vox_completion {
        callback: Some(done),
        user_data: &w as *const Wait as *mut c_void,
        release: None,
    };
    assert_eq!(start(c), VOX_OK);
    let mut g = w.m.lock().unwrap();
    while g.is_none() {
        g = w.cv.wait(g).unwrap();
    }
    assert_eq!(*g, Some(VOX_OK));
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();

    // 1. Size of the stripped cdylib.
    let lib = profile_dir.join("libvox_messenger.so");
    match std::fs::metadata(&lib) {
        Ok(m) => println!(
            "cdylib size ({}): {:.2} MB ({} bytes)",
            lib.display(),
            m.len() as f64 / 1_048_576.0,
            m.len()
        ),
        Err(_) => println!("cdylib size: {} not built", lib.display()),
    }

    // The server, in its own process.
    let server_bin = std::env::var("VOX_SERVER_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| profile_dir.join("vox-messenger-server"));
    let dir = std::env::temp_dir().join(format!("vox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Command::new(&server_bin)
        .args([
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--plain-listen",
            "127.0.0.1:0",
        ])
        .args([
            "--admin-listen",
            "127.0.0.1:0",
            "--msg-rate-per-second",
            "0",
        ])
        .args(["--msg-rate-per-minute", "0", "--db"])
        .arg(dir.join("db.sqlite3"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", server_bin.display()));
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(line.trim_start_matches("READY ")).unwrap();
    let ws = format!("ws://{}", ready["ws"].as_str().unwrap());

    // SAFETY: valid arguments throughout.
    unsafe {
        let server_c = CString::new(ws.clone()).unwrap();
        let mut cfg = null_mut();
        assert_eq!(vox_client_config_new(server_c.as_ptr(), &mut cfg), VOX_OK);
        assert_eq!(vox_client_config_set_request_spacing(cfg, 0), VOX_OK);
        let user = CString::new("user1@app.acc.voximplant.com").unwrap();
        let pass = CString::new("secret").unwrap();

        // Warm up the runtime with one client.
        let mut warm = null_mut();
        assert_eq!(vox_client_new(cfg, &mut warm, null_mut()), VOX_OK);
        c_call(|c| vox_client_connect(warm, c, null_mut(), null_mut()));
        c_call(|c| {
            vox_client_login(
                warm,
                user.as_ptr(),
                pass.as_ptr(),
                0,
                null(),
                c,
                null_mut(),
                null_mut(),
            )
        });

        // 2. Connect + login, and RSS per idle logged-in client.
        let rss0 = rss_kib();
        let mut clients = Vec::new();
        let mut times = Vec::new();
        for _ in 0..CLIENTS {
            let t = Instant::now();
            let mut c = null_mut();
            assert_eq!(vox_client_new(cfg, &mut c, null_mut()), VOX_OK);
            c_call(|k| vox_client_connect(c, k, null_mut(), null_mut()));
            c_call(|k| {
                vox_client_login(
                    c,
                    user.as_ptr(),
                    pass.as_ptr(),
                    0,
                    null(),
                    k,
                    null_mut(),
                    null_mut(),
                )
            });
            times.push(t.elapsed());
            clients.push(c);
        }
        std::thread::sleep(Duration::from_secs(1)); // let the sessions go idle
        let rss1 = rss_kib();
        times.sort();
        let mean = times.iter().sum::<Duration>() / CLIENTS as u32;
        println!(
            "connect + login on loopback: mean {:.2} ms, median {:.2} ms, max {:.2} ms ({CLIENTS} clients)",
            mean.as_secs_f64() * 1e3,
            times[CLIENTS / 2].as_secs_f64() * 1e3,
            times[CLIENTS - 1].as_secs_f64() * 1e3
        );
        println!(
            "RSS per idle logged-in client: {:.1} KiB ({CLIENTS} clients: {} KiB → {} KiB)",
            (rss1.saturating_sub(rss0)) as f64 / CLIENTS as f64,
            rss0,
            rss1
        );
        for c in clients {
            vox_client_free(c);
        }

        // 3. A synchronous accessor through the C ABI.
        let mut m = null_mut();
        assert_eq!(vox_client_messenger(warm, &mut m), VOX_OK);
        let uuid = CString::new("8f3c3b5e-6a9b-4c1e-9d7a-2b1f0e4c5a6d").unwrap();
        let mut msg = null_mut();
        assert_eq!(
            vox_messenger_recreate_message(
                m,
                uuid.as_ptr(),
                uuid.as_ptr(),
                pass.as_ptr(),
                null(),
                7,
                &mut msg,
                null_mut()
            ),
            VOX_OK
        );
        let n = 2_000_000;
        let mut seq = 0u64;
        let t = Instant::now();
        for _ in 0..n {
            vox_message_sequence(std::hint::black_box(msg), &mut seq);
        }
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        assert_eq!(seq, 7);
        println!("synchronous accessor (vox_message_sequence): {ns:.1} ns per call");
        vox_message_free(msg);

        // 4. 1 000 get_user round trips: C ABI vs Rust, same server, same run.
        let name = CString::new("user2@app.acc").unwrap();
        let t = Instant::now();
        for _ in 0..ROUND_TRIPS {
            c_call(|k| vox_messenger_get_user_by_name(m, name.as_ptr(), k, null_mut(), null_mut()));
        }
        let c_time = t.elapsed();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut rc = ::vox_messenger::ClientConfig::new(ws.clone());
        rc.request_spacing = Duration::ZERO;
        let client = ::vox_messenger::Client::new(rc).unwrap();
        let rust_time = rt.block_on(async {
            client.connect().await.unwrap();
            client
                .login("user1@app.acc.voximplant.com", "secret")
                .await
                .unwrap();
            let m = client.messenger();
            let t = Instant::now();
            for _ in 0..ROUND_TRIPS {
                m.get_user_by_name("user2@app.acc").await.unwrap();
            }
            t.elapsed()
        });
        println!(
            "{ROUND_TRIPS} get_user round trips: C ABI {:.1} ms ({:.1} µs each), Rust {:.1} ms ({:.1} µs each), C/Rust = {:.3}",
            c_time.as_secs_f64() * 1e3,
            c_time.as_secs_f64() * 1e6 / ROUND_TRIPS as f64,
            rust_time.as_secs_f64() * 1e3,
            rust_time.as_secs_f64() * 1e6 / ROUND_TRIPS as f64,
            c_time.as_secs_f64() / rust_time.as_secs_f64()
        );
        vox_messenger_free(m);
        vox_client_free(warm);
        vox_client_config_free(cfg);
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
