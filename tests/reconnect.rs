//! Reconnect and resume: sockets killed mid-traffic (by the gateway, by the SDK, by a proxy in
//! the middle), a silent socket caught by the ACK watchdog, a network-change hint, a server
//! restart (resume refused), and a server that stays away (schedule exhausted).

mod common;

use common::mock::{Mock, default_responder};
use common::{PASSWORD, Proxy, Recorder, USER1, start_server, within};
use serde_json::json;
use std::time::Duration;
use vox_messenger::{
    Client, ClientConfig, ClientEvent, ClientState, Error, MessengerEvent, MessengerEventType,
    ReconnectPolicy,
};

const CONV: &str = "67983249-cf74-435d-9b3a-1e7ade7ab84a";

fn message_event(seq: u64) -> serde_json::Value {
    json!({"service":"chat","event":"onSendMessage","payload":{"initiator":1002,"on_incoming_event":"sendMessage","seq":seq,"timestamp":1700000000,"object":{"uuid":uuid::Uuid::new_v4().to_string(),"conversation":CONV,"text":format!("m{seq}"),"payload":[]}},"request_uuid":""})
}

async fn login(server: String, tweak: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = common::config(&server);
    tweak(&mut cfg);
    let c = Client::new(cfg).unwrap();
    within(c.connect()).await.unwrap();
    within(c.login(USER1, PASSWORD)).await.unwrap();
    c
}

#[tokio::test]
async fn no_event_lost_or_duplicated_and_requests_complete_across_kills() {
    let mock = Mock::start(Some(default_responder())).await;
    let c = login(mock.ws(), |_| {}).await;
    let rec = Recorder::attach(&c);
    let m = c.messenger();

    let mut requests = Vec::new();
    for seq in 1..=600u64 {
        mock.push(message_event(seq));
        if seq % 150 == 75 {
            if seq % 300 == 75 {
                mock.kill(); // the server side drops the socket
            } else {
                c.debug_kill_socket(); // the client side loses it
            }
            // Traffic keeps being queued on both sides meanwhile.
            rec.client_event(|e| *e == ClientEvent::Reconnecting).await;
            rec.client_event(|e| *e == ClientEvent::Reconnected).await;
        }
        if seq % 25 == 0 {
            let m = m.clone();
            let id = 1000 + seq;
            requests.push(tokio::spawn(
                async move { (id, m.get_user_by_im_id(id).await) },
            ));
        }
        if seq % 10 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let mut seen = Vec::new();
    while seen.len() < 600 {
        if let MessengerEvent::Message(e) = rec
            .event(|e| e.event_type() == MessengerEventType::SendMessage)
            .await
        {
            seen.push(e.sequence);
        }
    }
    assert_eq!(
        seen,
        (1..=600).collect::<Vec<_>>(),
        "every event once, in order"
    );
    for r in requests {
        let (id, res) = within(r).await.unwrap();
        assert_eq!(res.expect("request across a reconnect").user.im_id, id);
    }
    assert_eq!(mock.sockets.load(std::sync::atomic::Ordering::SeqCst), 5);
    assert_eq!(c.state(), ClientState::LoggedIn);
    // Nothing more arrives (no duplicate after the last one).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        rec.all
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.event_type() == MessengerEventType::SendMessage)
            .count()
            == 600
    );
}

/// The onRetransmitEvents frame carrying `message_event(seq)`'s payload.
fn retransmitted(uuid: &str, seq: u64, count: u64, from: u64, to: u64) -> serde_json::Value {
    let inner = message_event(seq)["payload"].clone();
    json!({"service":"chat","event":"onRetransmitEvents","request_uuid":uuid,"payload":{
        "initiator":1001,"on_incoming_event":"retransmitEvents","count":count,"from_seq":from,"to_seq":to,
        "object":{"event":"onSendMessage","payload":inner}}})
}

#[tokio::test]
async fn restored_session_fills_the_gap_first_and_never_repeats_an_event() {
    let mut mock = Mock::start(Some(default_responder())).await;
    let c = login(mock.ws(), |_| {}).await;
    let rec = Recorder::attach(&c);
    for seq in 1..=2 {
        mock.push(message_event(seq));
    }
    let mut seen = Vec::new();
    let next_seq = async || {
        let MessengerEvent::Message(m) = rec
            .event(|e| e.event_type() == MessengerEventType::SendMessage)
            .await
        else {
            panic!()
        };
        m.sequence
    };
    for _ in 0..2 {
        seen.push(next_seq().await);
    }
    // The server restarts: the resume is refused, the SDK logs in again with its token and
    // asks for what it missed after seq 2.
    mock.restart();
    let mut logins = Vec::new();
    let fill = loop {
        let f = mock.next_frame().await;
        if f["name"] == "login" {
            logins.push(f.clone());
        }
        if f["event"] == "retransmitEvents" {
            break f;
        }
    };
    // The password login, then one login with the access token it returned (the mock's
    // "at-1").
    assert_eq!(logins.len(), 2, "{logins:?}");
    assert!(logins[1].to_string().contains("\"at-1\""), "{}", logins[1]);
    assert_eq!(fill["payload"]["conversation"], CONV);
    assert_eq!(fill["payload"]["events_from"], 3);
    assert_eq!(fill["payload"]["count"], 100);
    let uuid = fill["request_uuid"].as_str().unwrap().to_owned();
    // A live event newer than the gap arrives before the fill's answer: it must wait.
    mock.push(message_event(5));
    mock.push(retransmitted(&uuid, 3, 2, 3, 4));
    mock.push(retransmitted(&uuid, 4, 2, 3, 4));
    // Events already delivered are not delivered again (live or not).
    mock.push(message_event(4));
    mock.push(message_event(2));
    mock.push(message_event(6));
    while seen.last() != Some(&6) {
        seen.push(next_seq().await);
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6], "every event once, in order");
    rec.client_event(|e| *e == ClientEvent::SessionRestored)
        .await;
    // The fill was the SDK's own request: the application's RetransmitEvents listeners saw
    // nothing of it.
    assert!(
        !rec.all
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.event_type() == MessengerEventType::RetransmitEvents)
    );
    // Nothing after 6 (a round trip through the session proves the queue is empty).
    assert_eq!(
        within(c.messenger().get_user_by_im_id(1002))
            .await
            .unwrap()
            .user
            .im_id,
        1002
    );
    assert_eq!(
        rec.all
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.event_type() == MessengerEventType::SendMessage)
            .count(),
        6
    );
}

#[tokio::test]
async fn restore_refreshes_a_refused_access_token() {
    let mut mock = Mock::start(Some(default_responder())).await;
    let c = login(mock.ws(), |_| {}).await;
    let rec = Recorder::attach(&c);
    // The access token of the password login ("at-1") has expired meanwhile.
    mock.reject_token("at-1");
    mock.restart();
    rec.client_event(|e| *e == ClientEvent::SessionRestored)
        .await;
    assert_eq!(c.state(), ClientState::LoggedIn);
    let mut rpcs = Vec::new();
    while rpcs.len() < 4 {
        let f = mock.next_frame().await;
        if let Some(n) = f["name"].as_str() {
            rpcs.push((n.to_owned(), f["params"][2]["accessToken"].clone()));
        }
    }
    let rpcs: Vec<(&str, Option<&str>)> =
        rpcs.iter().map(|(n, p)| (n.as_str(), p.as_str())).collect();
    assert_eq!(rpcs[1], ("login", Some("at-1")));
    assert_eq!(rpcs[2].0, "refreshOauthToken");
    assert_eq!(rpcs[0].0, "login"); // the password login
    assert_eq!(rpcs[3], ("login", Some("at-2")));
    // The refreshed tokens are kept: the next restore logs in with "at-2" at once.
    mock.restart();
    rec.client_event(|e| *e == ClientEvent::SessionRestored)
        .await;
    let f = loop {
        let f = mock.next_frame().await;
        if f["name"] == "login" {
            break f;
        }
    };
    assert_eq!(f["params"][2]["accessToken"], "at-2");
    assert_session_works(&c).await;
}

#[tokio::test]
async fn real_server_through_a_cut_proxy() {
    let ts = common::start_server_unlimited().await;
    let proxy = Proxy::start(ts.srv.plain_addr.unwrap()).await;
    let c = login(proxy.ws(), |_| {}).await;
    let rec = Recorder::attach(&c);
    let m = c.messenger();
    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            m.get_user_by_im_id(1001 + i % 3).await
        }));
        if i == 20 {
            tokio::task::yield_now().await;
            proxy.cut();
        }
    }
    for t in tasks {
        match within(t).await.unwrap() {
            Ok(u) => assert!((1001..=1003).contains(&u.user.im_id)),
            Err(e) => panic!("request lost across the reconnect: {e:?}"),
        }
    }
    rec.client_event(|e| *e == ClientEvent::Reconnecting).await;
    rec.client_event(|e| *e == ClientEvent::Reconnected).await;
    assert_eq!(proxy.accepted(), 2);
    assert_eq!(c.state(), ClientState::LoggedIn);

    // The network-change hint resumes on a new socket at once.
    c.notify_network_changed();
    rec.client_event(|e| *e == ClientEvent::Reconnected).await;
    assert_eq!(proxy.accepted(), 3);
    assert_eq!(c.state(), ClientState::LoggedIn);
}

#[tokio::test]
async fn silent_socket_is_dropped_by_the_ack_watchdog_and_resumed() {
    let mock = Mock::start(Some(default_responder())).await;
    let c = login(mock.ws(), |_| {}).await;
    let rec = Recorder::attach(&c);
    mock.mute(); // reads nothing, ACKs nothing: a half-open connection
    let t0 = std::time::Instant::now();
    // Sent into the silent socket; answered after the resume resends it.
    let m = c.messenger();
    let pending = tokio::spawn(async move { m.get_user_by_im_id(1002).await });
    rec.client_event(|e| *e == ClientEvent::Reconnecting).await;
    rec.client_event(|e| *e == ClientEvent::Reconnected).await;
    let elapsed = t0.elapsed();
    // The watchdog starts with the first un-ACKed frame and fires 6 s later.
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    let u = within(pending).await.unwrap().unwrap();
    assert_eq!(u.user.im_id, 1002);
    let u = within(c.messenger().get_user_by_im_id(1003)).await.unwrap();
    assert_eq!(u.user.im_id, 1003);
}

#[tokio::test]
async fn server_restart_refuses_the_resume_and_the_session_is_restored() {
    let ts = start_server().await;
    let proxy = Proxy::start(ts.srv.plain_addr.unwrap()).await;
    let c = login(proxy.ws(), |_| {}).await;
    // Every connection event, in order (registered before the recorder, so it has seen an
    // event by the time the recorder reports it).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    c.on_event(move |e| s2.lock().unwrap().push(e.clone()));
    let rec = Recorder::attach(&c);
    within(c.messenger().set_status(true)).await.unwrap();
    // A second server process on the same database (the first one's sessions are gone, the
    // tokens are not).
    let ts2 = restarted(&ts).await;
    proxy.block(true);
    proxy.set_upstream(ts2.srv.plain_addr.unwrap());
    ts.srv.shutdown().await;
    proxy.cut();
    rec.client_event(|e| *e == ClientEvent::Reconnecting).await;
    // Someone watching the user's presence on the new server.
    let b = common::logged_in(&ts2.ws(), common::USER2).await;
    let rb = Recorder::attach(&b);
    within(b.messenger().subscribe(&[1001])).await.unwrap();
    // A request made while the client is away is sent once the session is restored.
    let m = c.messenger();
    let pending = tokio::spawn(async move { m.get_user_by_im_id(1002).await });
    proxy.block(false);
    rec.client_event(|e| *e == ClientEvent::SessionRestored)
        .await;
    assert_eq!(c.state(), ClientState::LoggedIn);
    assert_eq!(within(pending).await.unwrap().unwrap().user.im_id, 1002);
    assert_session_works(&c).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ClientEvent::StateChanged(ClientState::Reconnecting),
            ClientEvent::Reconnecting,
            ClientEvent::StateChanged(ClientState::LoggedIn),
            ClientEvent::SessionRestored,
        ],
        "the application sees Reconnecting, then LoggedIn again, and nothing else"
    );
    // The SDK told the new session what the application had said: online.
    let MessengerEvent::Status(s) = rb
        .event(|e| e.event_type() == MessengerEventType::SetStatus)
        .await
    else {
        panic!()
    };
    assert_eq!((s.initiator, s.is_online), (1001, true));
}

#[tokio::test]
async fn graceful_server_restart_closes_the_session_and_it_is_restored() {
    let ts = start_server().await;
    let proxy = Proxy::start(ts.srv.plain_addr.unwrap()).await;
    let c = login(proxy.ws(), |_| {}).await;
    let rec = Recorder::attach(&c);
    let ts2 = restarted(&ts).await;
    proxy.set_upstream(ts2.srv.plain_addr.unwrap());
    // The first server shuts down: it sends `close` (the session ends, nothing to resume).
    ts.srv.shutdown().await;
    rec.client_event(|e| *e == ClientEvent::Reconnecting).await;
    rec.client_event(|e| *e == ClientEvent::SessionRestored)
        .await;
    assert_eq!(c.state(), ClientState::LoggedIn);
    assert_session_works(&c).await;
}

#[tokio::test]
async fn request_timeouts_apply_while_the_session_is_away_and_restored() {
    let ts = start_server().await;
    let proxy = Proxy::start(ts.srv.plain_addr.unwrap()).await;
    let c = login(proxy.ws(), |cfg| {
        cfg.request_timeout = Duration::from_millis(1500)
    })
    .await;
    let rec = Recorder::attach(&c);
    let ts2 = restarted(&ts).await;
    proxy.block(true);
    proxy.set_upstream(ts2.srv.plain_addr.unwrap());
    ts.srv.shutdown().await;
    proxy.cut();
    rec.client_event(|e| *e == ClientEvent::Reconnecting).await;
    // Nobody answers while the client is away: the request fails with its timeout.
    let t0 = std::time::Instant::now();
    let e = within(c.messenger().get_user_by_im_id(1002))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(c.state(), ClientState::Reconnecting);
    // The session is restored afterwards, and works.
    proxy.block(false);
    rec.client_event(|e| *e == ClientEvent::SessionRestored)
        .await;
    assert_session_works(&c).await;
}

#[tokio::test]
async fn resume_refused_and_token_refused_closes_with_the_login_error() {
    let ts = start_server().await;
    let proxy = Proxy::start(ts.srv.plain_addr.unwrap()).await;
    let c = login(proxy.ws(), |_| {}).await;
    let rec = Recorder::attach(&c);
    // A second server with ANOTHER database: it knows neither the session nor the tokens.
    let ts2 = start_server().await;
    proxy.block(true);
    proxy.set_upstream(ts2.srv.plain_addr.unwrap());
    ts.srv.shutdown().await;
    proxy.cut();
    rec.client_event(|e| *e == ClientEvent::Reconnecting).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    c.messenger().get_user_by_im_id_cb(1002, move |r| {
        let _ = tx.send(r.map(|_| ()));
    });
    proxy.block(false);
    let e = rec
        .client_event(|e| matches!(e, ClientEvent::ConnectionClosed { .. }))
        .await;
    println!("{e:?}");
    assert_eq!(c.state(), ClientState::Closed);
    // The pending request fails with the typed login error (access token refused, then the
    // refresh token too: 701), never hangs.
    let r = within(rx.recv()).await.unwrap();
    assert_eq!(r, Err(Error::LoginFailed { code: 701 }));
    let e = within(c.messenger().get_user_by_im_id(1002))
        .await
        .unwrap_err();
    assert_eq!(e, Error::NotLoggedIn);
    // The application connects and logs in again.
    within(c.connect()).await.unwrap();
    within(c.login(USER1, PASSWORD)).await.unwrap();
    assert_eq!(c.state(), ClientState::LoggedIn);
}

#[tokio::test]
async fn schedule_exhausted_fails_pending_calls_and_closes() {
    let mock = Mock::start(None).await;
    let proxy = Proxy::start(mock.addr).await;
    let c = login(proxy.ws(), |cfg| {
        cfg.reconnect = ReconnectPolicy {
            delays: vec![
                Duration::ZERO,
                Duration::from_millis(50),
                Duration::from_millis(50),
            ],
            jitter: 0.2,
        };
    })
    .await;
    let rec = Recorder::attach(&c);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    c.messenger().get_conversation_cb(CONV, move |r| {
        let _ = tx.send(r.map(|_| ()));
    });
    proxy.block(true);
    proxy.cut();
    rec.client_event(|e| *e == ClientEvent::Reconnecting).await;
    rec.client_event(|e| matches!(e, ClientEvent::ConnectionClosed { .. }))
        .await;
    let r = within(rx.recv()).await.unwrap();
    assert!(matches!(r, Err(Error::ConnectionClosed(_))), "{r:?}");
    assert_eq!(c.state(), ClientState::Closed);
    // 1 login connection + 3 attempts.
    assert_eq!(proxy.accepted(), 4);
    proxy.block(false);
    within(c.connect()).await.unwrap();
    assert_eq!(c.state(), ClientState::Connected);
}

#[tokio::test]
async fn wrong_seq_from_the_server_closes_with_4001_and_resumes() {
    let mut mock = Mock::start(Some(default_responder())).await;
    let c = login(mock.ws(), |_| {}).await;
    let rec = Recorder::attach(&c);
    mock.push(message_event(1));
    rec.event(|e| e.event_type() == MessengerEventType::SendMessage)
        .await;
    // A msg that skips a seq: the SDK must refuse it, close with 4001 and resume.
    mock.raw(r#"{"type":"msg","seq":99,"payload":{"name":"__pong","params":[]}}"#);
    assert_eq!(within(mock.closes.recv()).await, Some(4001));
    rec.client_event(|e| *e == ClientEvent::Reconnected).await;
    // The session carries on: the next event is delivered, the skipped one never was.
    mock.push(message_event(2));
    let MessengerEvent::Message(m) = rec
        .event(|e| e.event_type() == MessengerEventType::SendMessage)
        .await
    else {
        panic!()
    };
    assert_eq!(m.sequence, 2);
    assert_session_works(&c).await;
}

/// The session answers a request (the server's user 1003 is looked up by IM id).
async fn assert_session_works(c: &Client) {
    let u = within(c.messenger().get_user_by_im_id(1003)).await.unwrap();
    assert_eq!(u.user.im_id, 1003);
}

/// A second server on the same database as `ts`: what `ts` becomes after a restart.
async fn restarted(ts: &common::TestServer) -> common::TestServer {
    let db = ts.dir.path().join("test.sqlite3");
    common::start_server_with(|a| a.db = Some(db)).await
}
