//! The Rust row of `scripts/bench-bindings.sh` (not a test): against a running server, through
//! the public Rust API, the same two workloads the C, C++ and Kotlin bench programs run —
//! `local` calls of `Messenger::get_me_user` (the whole cached user, local, no network) and `trips` sequential `get_user`
//! round trips — after a short warm-up. Prints a `BENCH Rust …` line the script reads.
//!
//! ```sh
//! cargo run --release -p vox-messenger --example bench_bindings -- ws://127.0.0.1:PORT [10000] [1000]
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};
use vox_messenger::{Client, ClientConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(url) = args.get(1) else {
        eprintln!("usage: bench_bindings ws://HOST:PORT [local_calls] [round_trips]");
        std::process::exit(2);
    };
    let local: usize = args.get(2).map_or(Ok(10_000), |s| s.parse())?;
    let trips: usize = args.get(3).map_or(Ok(1_000), |s| s.parse())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut cfg = ClientConfig::new(url.as_str());
        cfg.request_spacing = Duration::ZERO;
        let client = Client::new(cfg)?;
        client.connect().await?;
        client
            .login("user1@app.acc.voximplant.com", "secret")
            .await?;
        let m = client.messenger();
        let id = m.get_user_by_name("user2@app.acc").await?.user.im_id;
        // Warm-up, as the other bench programs do.
        for _ in 0..2_000 {
            black_box(m.get_me_user());
        }
        for _ in 0..50 {
            m.get_user_by_im_id(id).await?;
        }
        let t = Instant::now();
        let mut n = 0usize;
        for _ in 0..local {
            // The whole cached user (a copy), as `vox_messenger_get_me` and the bindings give.
            n += black_box(m.get_me_user()).map_or(0, |u| u.name.len());
        }
        let local_us = t.elapsed().as_secs_f64() * 1e6;
        let t = Instant::now();
        for _ in 0..trips {
            n += m.get_user_by_im_id(id).await?.user.name.len();
        }
        let trips_us = t.elapsed().as_secs_f64() * 1e6;
        assert!(n > 0);
        println!(
            "Rust: {local} get_me calls {:.1} ms ({:.3} us/call); {trips} get_user round trips {:.1} ms ({:.1} us/trip)",
            local_us / 1e3,
            local_us / local as f64,
            trips_us / 1e3,
            trips_us / trips as f64
        );
        // Machine-readable: BENCH <binding> <local calls> <local total us> <trips> <trips total us>
        println!("BENCH Rust {local} {local_us:.1} {trips} {trips_us:.1}");
        client.disconnect().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
