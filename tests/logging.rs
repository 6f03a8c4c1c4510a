//! Secrets never reach the logs: with every `tracing` level on, a session that logs in with a
//! password, a one-time key and a token, and refreshes tokens, writes none of the password,
//! digests, hashes or tokens (nor do the `Debug` forms of the results and options).

mod common;

use common::mock::Mock;
use common::within;
use std::io::Write;
use std::sync::{Arc, Mutex};
use vox_messenger::{Client, ClientEvent, CredentialType, LoginOptions};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_is_logged() {
    let buf = Buf::default();
    let b = buf.clone();
    // The SDK's own targets at every level. (tungstenite, a dependency, logs whole frames at
    // TRACE through `log`; an application must not enable TRACE for `tungstenite` targets, and
    // the C ABI's log callback forwards only the SDK's targets.)
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "vox_messenger=trace,vox_protocol=trace",
        ))
        .with_writer(move || b.clone())
        .with_ansi(false)
        .init();

    let password = "hunter2-very-secret";
    let user = common::USER1;
    let md5 = vox_protocol::auth::password_digest_md5("user1", password);
    let sha = vox_protocol::auth::password_digest_sha256("user1", password);
    let hash = Client::one_time_key_hash("otk-key", user, password);

    let mock = Mock::start(None).await;
    let c = Client::new(common::config(&mock.ws())).unwrap();
    within(c.connect()).await.unwrap();
    let e = within(c.request_one_time_login_key(user)).await.unwrap();
    assert_eq!(e, "otk-key");
    let auth = within(c.login_with(
        user,
        password,
        CredentialType::Sha256,
        LoginOptions::default(),
    ))
    .await
    .unwrap();
    let dbg = format!("{auth:?}");
    let t = auth.tokens.unwrap();
    assert!(
        !dbg.contains(&t.access_token) && !dbg.contains(&t.refresh_token),
        "{dbg}"
    );
    within(c.token_refresh(user, "rt-refresh-secret", Some("device-secret")))
        .await
        .unwrap();
    let opts = LoginOptions {
        receive_calls: None,
        device_token: Some("device-secret".into()),
    };
    assert!(!format!("{opts:?}").contains("device-secret"));

    for (login, kind) in [(0, "md5"), (1, "token"), (2, "otk")] {
        let mock = Mock::start(None).await;
        let c = Client::new(common::config(&mock.ws())).unwrap();
        within(c.connect()).await.unwrap();
        let r = match login {
            0 => within(c.login(user, password)).await,
            1 => within(c.login_with_token(user, "at-access-secret", opts.clone())).await,
            _ => within(c.login_with_one_time_key(user, &hash, opts.clone())).await,
        };
        r.unwrap_or_else(|e| panic!("{kind}: {e}"));
        // The server "restarts": the SDK restores the session with the saved token (the one it
        // logged in with, or the one the login returned), which must not be logged either.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        c.on_event(move |e| {
            if *e == ClientEvent::SessionRestored {
                let _ = tx.send(());
            }
        });
        mock.restart();
        within(rx.recv()).await.unwrap();
        within(c.disconnect()).await.unwrap();
    }

    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("logged in"), "the logs were captured: {text}");
    assert!(
        text.contains("session restored"),
        "the restores were logged: {text}"
    );
    for secret in [
        password,
        &md5,
        &sha,
        &hash,
        "at-access-secret",
        "rt-refresh-secret",
        "device-secret",
        "at-1",
        "rt-1",
        "at-2",
        "rt-2",
    ] {
        if let Some(i) = text.find(secret) {
            panic!(
                "{secret} was logged: {}",
                &text[i.saturating_sub(600)..(i + 100).min(text.len())]
            );
        }
    }
}
