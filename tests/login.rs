//! Connect and every login variant against the real server (in-process), over ws:// and wss://.

mod common;

use common::{PASSWORD, Recorder, USER1, USER2, client, start_server, within};
use std::time::Instant;
use vox_messenger::{
    Client, ClientConfig, ClientEvent, ClientState, CredentialType, Error, LoginFailureCode,
    LoginOptions, TlsTrust,
};

#[tokio::test]
async fn connect_and_login_md5_with_states_and_events() {
    let ts = start_server().await;
    let c = client(&ts.ws());
    let rec = Recorder::attach(&c);
    assert_eq!(c.state(), ClientState::Disconnected);
    let t0 = Instant::now();
    within(c.connect()).await.unwrap();
    let t1 = Instant::now();
    assert_eq!(c.state(), ClientState::Connected);
    let auth = within(c.login(USER1, PASSWORD)).await.unwrap();
    let t2 = Instant::now();
    println!(
        "loopback ws: connect {:?}, login {:?}, total {:?}",
        t1 - t0,
        t2 - t1,
        t2 - t0
    );
    assert_eq!(auth.display_name, "User One");
    let tokens = auth.tokens.expect("a password login issues tokens");
    assert!(!tokens.access_token.is_empty() && !tokens.refresh_token.is_empty());
    assert_eq!(c.state(), ClientState::LoggedIn);
    assert_eq!(c.messenger().get_me().as_deref(), Some("user1@app.acc"));
    for expected in [
        ClientState::Connecting,
        ClientState::Connected,
        ClientState::LoggedIn,
    ] {
        let e = rec
            .client_event(|e| matches!(e, ClientEvent::StateChanged(_)))
            .await;
        assert_eq!(e, ClientEvent::StateChanged(expected));
    }
    within(c.disconnect()).await.unwrap();
    assert_eq!(c.state(), ClientState::Disconnected);
    assert_eq!(
        rec.client_event(|_| true).await,
        ClientEvent::StateChanged(ClientState::Disconnected)
    );
    assert!(rec.all_on_callback_thread());
    // A second connect on the same client works.
    within(c.connect()).await.unwrap();
    within(c.login(USER2, PASSWORD)).await.unwrap();
    assert_eq!(c.messenger().get_me().as_deref(), Some("user2@app.acc"));
}

#[tokio::test]
async fn login_sha256() {
    let ts = start_server().await;
    let c = client(&ts.ws());
    within(c.connect()).await.unwrap();
    let auth = within(c.login_with(
        USER1,
        PASSWORD,
        CredentialType::Sha256,
        LoginOptions::default(),
    ))
    .await
    .unwrap();
    assert_eq!(auth.display_name, "User One");
    assert_eq!(c.state(), ClientState::LoggedIn);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_typed_errors() {
    let ts = start_server().await;
    let c = client(&ts.ws());
    within(c.connect()).await.unwrap();
    let e = within(c.login(USER1, "wrong")).await.unwrap_err();
    assert_eq!(e, Error::LoginFailed { code: 401 });
    assert_eq!(e.login_failure(), Some(LoginFailureCode::InvalidPassword));
    assert_eq!(c.state(), ClientState::Connected);
    let e = within(c.login("ghost@app.acc.voximplant.com", "x"))
        .await
        .unwrap_err();
    assert_eq!(e.login_failure(), Some(LoginFailureCode::InvalidUsername));
    // Still usable: the right password logs in.
    within(c.login(USER1, PASSWORD)).await.unwrap();
    // A second login on a logged-in connection is refused locally.
    let e = within(c.login(USER1, PASSWORD)).await.unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
}

#[tokio::test]
async fn one_time_key_login() {
    let ts = start_server().await;
    let c = client(&ts.ws());
    within(c.connect()).await.unwrap();
    let key = within(c.request_one_time_login_key(USER1)).await.unwrap();
    assert!(!key.is_empty());
    let hash = Client::one_time_key_hash(&key, USER1, PASSWORD);
    assert_eq!(hash.len(), 32);
    let auth = within(c.login_with_one_time_key(USER1, &hash, LoginOptions::default()))
        .await
        .unwrap();
    assert_eq!(auth.display_name, "User One");
    assert_eq!(c.state(), ClientState::LoggedIn);

    // A wrong hash is a typed failure.
    let c2 = client(&ts.ws());
    within(c2.connect()).await.unwrap();
    let key = within(c2.request_one_time_login_key(USER2)).await.unwrap();
    let bad = Client::one_time_key_hash(&key, USER2, "not-the-password");
    let e = within(c2.login_with_one_time_key(USER2, &bad, LoginOptions::default()))
        .await
        .unwrap_err();
    assert_eq!(e.login_failure(), Some(LoginFailureCode::InvalidPassword));
}

#[tokio::test]
async fn token_login_and_refresh() {
    let ts = start_server().await;
    let c = client(&ts.ws());
    within(c.connect()).await.unwrap();
    let tokens = within(c.login(USER1, PASSWORD))
        .await
        .unwrap()
        .tokens
        .unwrap();

    // Refresh: new tokens, the old refresh token is single use.
    let fresh = within(c.token_refresh(USER1, &tokens.refresh_token, None))
        .await
        .unwrap();
    assert_ne!(fresh.refresh_token, tokens.refresh_token);
    let e = within(c.token_refresh(USER1, &tokens.refresh_token, None))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::LoginFailed { .. }), "{e:?}");

    // Token login on another connection with the fresh access token.
    let c2 = client(&ts.ws());
    within(c2.connect()).await.unwrap();
    let auth = within(c2.login_with_token(USER1, &fresh.access_token, LoginOptions::default()))
        .await
        .unwrap();
    assert_eq!(auth.display_name, "User One");
    assert_eq!(c2.state(), ClientState::LoggedIn);

    // A bad token is a typed failure.
    let c3 = client(&ts.ws());
    within(c3.connect()).await.unwrap();
    let e = within(c3.login_with_token(USER1, "not-a-token", LoginOptions::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.login_failure(),
            Some(LoginFailureCode::TokenExpired | LoginFailureCode::InvalidPassword)
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn state_errors_before_connect_and_login() {
    let ts = start_server().await;
    let c = client(&ts.ws());
    let e = within(c.login(USER1, PASSWORD)).await.unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    let e = within(c.messenger().get_user_by_im_id(1001))
        .await
        .unwrap_err();
    assert_eq!(e, Error::NotLoggedIn);
    assert_eq!(e.code(), 10003);
    within(c.connect()).await.unwrap();
    let e = within(c.connect()).await.unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    let e = within(c.messenger().get_user_by_im_id(1001))
        .await
        .unwrap_err();
    assert_eq!(e, Error::NotLoggedIn);
    // Disconnect while disconnected is a no-op.
    within(c.disconnect()).await.unwrap();
    within(c.disconnect()).await.unwrap();
}

#[tokio::test]
async fn connection_failures_are_typed_and_fall_back_to_the_next_server() {
    let ts = start_server().await;
    // Nothing listens on the first address (a port just freed).
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = client(&format!("ws://{dead}"));
    let rec = Recorder::attach(&c);
    let e = within(c.connect()).await.unwrap_err();
    assert!(matches!(e, Error::ConnectionFailed(_)), "{e:?}");
    assert_eq!(c.state(), ClientState::Disconnected);
    rec.client_event(|e| matches!(e, ClientEvent::ConnectionFailed { .. }))
        .await;

    let mut cfg = ClientConfig::new(format!("ws://{dead}"));
    cfg.servers.push(ts.ws());
    let c = Client::new(cfg).unwrap();
    within(c.connect()).await.unwrap();
    within(c.login(USER1, PASSWORD)).await.unwrap();

    // Bad configurations are rejected up front.
    assert!(Client::new(ClientConfig::new("http://x")).is_err());
    let mut cfg = ClientConfig::new("wss://127.0.0.1:1");
    cfg.tls = TlsTrust::CustomCa("not a pem".into());
    assert!(matches!(Client::new(cfg), Err(Error::Tls(_))));
}

#[tokio::test]
async fn wss_with_custom_ca_and_with_pinned_certificate() {
    let ts = start_server().await;
    let pem = ts.cert_pem();

    let mut cfg = ClientConfig::new(ts.wss());
    cfg.tls = TlsTrust::CustomCa(pem.clone());
    let c = Client::new(cfg).unwrap();
    let t0 = Instant::now();
    within(c.connect()).await.unwrap();
    within(c.login(USER1, PASSWORD)).await.unwrap();
    println!("loopback wss: connect + login {:?}", t0.elapsed());

    let mut cfg = ClientConfig::new(ts.wss());
    cfg.tls = TlsTrust::PinnedCertificate(pem.into_bytes());
    let c = Client::new(cfg).unwrap();
    within(c.connect()).await.unwrap();
    within(c.login(USER2, PASSWORD)).await.unwrap();

    // The self-signed certificate is not in the public roots: refused.
    let c = Client::new(ClientConfig::new(ts.wss())).unwrap();
    let e = within(c.connect()).await.unwrap_err();
    assert!(matches!(e, Error::ConnectionFailed(_)), "{e:?}");

    // A different pinned certificate: refused.
    // (Verification compares bytes: any DER that is not the server's certificate.)
    let mut cfg = ClientConfig::new(ts.wss());
    cfg.tls = TlsTrust::PinnedCertificate(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    let c = Client::new(cfg).unwrap();
    let e = within(c.connect()).await.unwrap_err();
    assert!(matches!(e, Error::ConnectionFailed(_)), "{e:?}");
}
