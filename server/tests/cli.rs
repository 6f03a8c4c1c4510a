//! The binary's command line: provisioning subcommands with the global `--db`, and `serve` with
//! or without the subcommand name.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_vox-messenger-server");

fn run(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("VOX_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server binary");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn provisioning_with_global_db_flag_then_serving_that_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.sqlite3");
    let db = db.to_str().unwrap();

    let (ok, _, err) = run(&["--db", db, "account", "add", "acme"], None);
    assert!(ok, "account add failed: {err}");
    let (ok, _, err) = run(
        &["app", "add", "--account", "acme", "chat", "--db", db],
        None,
    );
    assert!(ok, "app add (with --db after the subcommand) failed: {err}");
    let (ok, _, err) = run(
        &[
            "--db",
            db,
            "user",
            "add",
            "alice@chat.acme",
            "--password-stdin",
        ],
        Some("s3cret\n"),
    );
    assert!(ok, "user add failed: {err}");
    let (ok, out, err) = run(&["--db", db, "user", "list"], None);
    assert!(ok, "user list failed: {err}");
    assert!(out.contains("alice"), "user list shows the new user: {out}");

    // A duplicate is refused with a clear message and a failure status.
    let (ok, _, err) = run(
        &[
            "--db",
            db,
            "user",
            "add",
            "alice@chat.acme",
            "--password",
            "x",
        ],
        None,
    );
    assert!(!ok, "adding the same user twice must fail");
    assert!(!err.trim().is_empty(), "the failure says why");

    // `serve` may be left out: the top-level flags run the server on the same database.
    for with_subcommand in [true, false] {
        let mut args = vec!["--db", db];
        if with_subcommand {
            args.push("serve");
        }
        args.extend(["--listen", "127.0.0.1:0"]);
        let mut child = Command::new(BIN)
            .args(&args)
            .env("VOX_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let ready: serde_json::Value = serde_json::from_str(
            line.strip_prefix("READY ")
                .unwrap_or_else(|| panic!("no READY line: {line:?}")),
        )
        .unwrap();
        assert!(
            ready["ws"]
                .as_str()
                .is_some_and(|a| a.starts_with("127.0.0.1:")),
            "{ready}"
        );
        assert!(ready["wss"].is_null(), "no TLS configured: {ready}");
    }
}
