//! The `version=5` session layer of the server over real sockets.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn tls_handshake_matches_the_observed_transcript() {
    let ts = start().await;
    let cert = ts
        .srv
        .generated_cert
        .clone()
        .expect("dev mode generates a certificate");
    let mut c = RawClient::open_tls(&url(ts.srv.addr, "wss", None), &cert).await;
    c.handshake().await;
    let id = c.conn_id.clone().unwrap();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
}

#[tokio::test]
async fn every_client_msg_is_acked_before_its_reply() {
    let ts = start().await;
    let (mut c, _) = logged_in(&ts, USER1).await;
    // A ping gets an ACK and no reply.
    let seq = c.send_msg(json!({"name": "__ping"})).await;
    assert_eq!(c.frame().await, json!({"type": "ack", "seq": seq}));
    // Cumulative ACK also covers a burst.
    for _ in 0..5 {
        c.send_msg(json!({"name": "__ping"})).await;
    }
    let mut last = 0;
    while last < seq + 5 {
        let f = c.frame().await;
        assert_eq!(f["type"], "ack");
        last = f["seq"].as_u64().unwrap();
    }
    assert_eq!(last, seq + 5);
}

#[tokio::test]
async fn gap_in_client_seq_closes_with_4001() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    c.send_json(json!({"type": "msg", "seq": 2, "payload": {"name": "__ping"}}))
        .await;
    assert_eq!(c.closed().await, Some(4001));
}

#[tokio::test]
async fn duplicate_client_seq_closes_with_4001() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    c.send_msg(json!({"name": "__ping"})).await;
    assert_eq!(c.frame().await, json!({"type": "ack", "seq": 1}));
    c.send_json(json!({"type": "msg", "seq": 1, "payload": {"name": "__ping"}}))
        .await;
    assert_eq!(c.closed().await, Some(4001));
}

#[tokio::test]
async fn malformed_json_closes_with_4002() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    c.send_text("{\"type\":\"msg\",").await;
    assert_eq!(c.closed().await, Some(4002));
}

#[tokio::test]
async fn unknown_frame_type_closes_with_4002() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    c.send_json(json!({"type": "hello", "seq": 1})).await;
    assert_eq!(c.closed().await, Some(4002));
}

#[tokio::test]
async fn binary_frame_closes_with_1003() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    use futures_util::SinkExt;
    c.ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![1u8, 2, 3].into(),
    ))
    .await
    .unwrap();
    assert_eq!(c.closed().await, Some(1003));
}

#[tokio::test]
async fn oversize_message_closes_with_1009() {
    let ts = start_with(|a| a.max_message_bytes = Some(4096)).await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    let big = "x".repeat(5000);
    c.send_msg(json!({"name": "__ping", "params": [big]})).await;
    assert_eq!(c.closed().await, Some(1009));
    // The session survives the dropped transport: a resume works.
    let id = c.conn_id.clone().unwrap();
    let mut r = RawClient::open(&url(ts.plain(), "ws", Some(&id))).await;
    assert_eq!(r.frame().await, json!({"type": "id", "id": id}));
    r.send_json(json!({"type": "lastrx", "seq": 1})).await;
    assert_eq!(
        r.frame().await,
        json!({"type": "lastrx", "seq": 0}),
        "the oversize msg was not accepted"
    );
}

#[tokio::test]
async fn unsupported_version_is_refused() {
    let ts = start().await;
    let mut c = RawClient::open(&format!("ws://{}/platform?version=4", ts.plain())).await;
    assert_eq!(c.frame().await, json!({"type": "error"}));
}

#[tokio::test]
async fn unknown_resume_id_gets_error_frame() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", Some("no-such-connection"))).await;
    assert_eq!(c.frame().await, json!({"type": "error"}));
}

#[tokio::test]
async fn resume_retransmits_unacked_frames_and_keeps_seq() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    let id = c.conn_id.clone().unwrap();
    // Log in but never ACK the server's frames: seq 2 (loginSuccessful) stays un-ACKed.
    let reply = c
        .rpc(
            "login",
            json!([USER1, md5_digest("user1", "secret"), {"credentialType": "md5"}]),
        )
        .await;
    assert_eq!(reply["name"], "loginSuccessful");
    // The transport dies without a close frame.
    drop(c);

    let mut r = RawClient::open(&url(ts.plain(), "ws", Some(&id))).await;
    assert_eq!(
        r.frame().await,
        json!({"type": "id", "id": id}),
        "same connection id on resume"
    );
    // We (the client) saw server seq 1 only.
    r.send_json(json!({"type": "lastrx", "seq": 1})).await;
    assert_eq!(
        r.frame().await,
        json!({"type": "lastrx", "seq": 1}),
        "server saw our login (seq 1)"
    );
    let again = r.frame().await;
    assert_eq!(again["type"], "msg");
    assert_eq!(again["seq"], 2);
    assert_eq!(
        again["payload"], reply,
        "the un-ACKed reply is retransmitted verbatim"
    );
    // The client's counter carries on at 2; the server is still logged in on this connection.
    r.next_seq = 2;
    let seq = r
        .send_msg(json!({"name": "login", "params": [USER1, md5_digest("user1", "secret"), {}]}))
        .await;
    assert_eq!(r.frame().await, json!({"type": "ack", "seq": seq}));
    let dup = r.msg().await;
    assert_eq!(dup["seq"], 3);
    assert_eq!(
        dup["payload"],
        json!({"name": "loginFailed", "params": [491]}),
        "already logged in"
    );
}

#[tokio::test]
async fn resume_with_everything_acked_retransmits_nothing() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    let id = c.conn_id.clone().unwrap();
    c.ack(1).await;
    drop(c);
    let mut r = RawClient::open(&url(ts.plain(), "ws", Some(&id))).await;
    assert_eq!(r.frame().await["type"], "id");
    r.send_json(json!({"type": "lastrx", "seq": 1})).await;
    assert_eq!(r.frame().await, json!({"type": "lastrx", "seq": 0}));
    r.next_seq = 1;
    let seq = r.send_msg(json!({"name": "__ping"})).await;
    // Nothing but the ACK: no retransmitted __createConnection in between.
    assert_eq!(r.frame().await, json!({"type": "ack", "seq": seq}));
}

#[tokio::test]
async fn resume_after_window_expires_is_refused() {
    let ts = start_with(|a| a.resume_window_secs = Some(0)).await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    let id = c.conn_id.clone().unwrap();
    drop(c);
    // Wait (event-driven) until the server forgot the connection.
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !ts.srv.shared.connections.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "connection never expired"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut r = RawClient::open(&url(ts.plain(), "ws", Some(&id))).await;
    assert_eq!(r.frame().await, json!({"type": "error"}));
}

#[tokio::test]
async fn client_close_is_acked_and_ends_the_connection() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    let id = c.conn_id.clone().unwrap();
    c.send_json(json!({"type": "close", "seq": 1})).await;
    assert_eq!(c.frame().await, json!({"type": "ack", "seq": 1}));
    c.closed().await;
    let mut r = RawClient::open(&url(ts.plain(), "ws", Some(&id))).await;
    assert_eq!(
        r.frame().await,
        json!({"type": "error"}),
        "a closed connection cannot be resumed"
    );
}

#[tokio::test]
async fn server_shutdown_sends_close_and_waits_for_ack() {
    let ts = start().await;
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    let shared = ts.srv.shared.clone();
    let TestServer { srv, dir: _dir } = ts;
    srv.shutdown().await;
    let close = c.frame().await;
    assert_eq!(close, json!({"type": "close", "seq": 2}));
    c.ack(2).await;
    c.closed().await;
    let _ = shared;
}

#[tokio::test]
async fn client_that_never_acks_is_closed_when_its_buffer_is_full() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let ts = start().await;
    let (c, _) = logged_in(&ts, USER1).await;
    let first = c.next_seq;
    let (mut sink, mut stream) = c.ws.split();
    // Each messaging request gets a reply; we never ACK any of them. Send from another task so
    // that reading and writing cannot deadlock on full socket buffers.
    let sender = tokio::spawn(async move {
        for seq in first..first + 6000 {
            let frame = json!({"type": "msg", "seq": seq, "payload": {"service": "chat", "event": "getUser",
                "payload": {"user_name": "user2@app.acc", "@type": "type/vox.store.IncomingNamespace.GetUser"},
                "request_uuid": "0c4b6c53-9a4f-4b8e-9d7c-6a8f7d1e2f3a"}});
            if sink
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut replies = 0u64;
    let code = loop {
        match tokio::time::timeout(TIMEOUT, stream.next())
            .await
            .expect("server went silent")
        {
            Some(Ok(Message::Text(t))) => {
                if t.as_str().contains(r#""type":"msg""#) {
                    replies += 1;
                }
            }
            Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break None,
        }
    };
    sender.abort();
    assert_eq!(
        code,
        Some(4002),
        "closed with a server error after {replies} un-ACKed replies"
    );
    assert!(
        (4000..6000).contains(&replies),
        "buffer bound near 4096 frames, got {replies}"
    );
}
