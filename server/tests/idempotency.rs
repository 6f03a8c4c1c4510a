//! Idempotent writes: a request resent with the same `request_uuid` (a client recovering its
//! session after a server restart) is executed once. The initiator gets the same answer both
//! times (same payload, same seq); other participants get the event once. Also across a
//! SIGKILL and restart of the server binary on the same database file.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn a_resent_write_is_executed_once_and_answered_the_same() {
    let ts = start_msg().await;
    let mut a = Chat::login(&ts, "user1").await;
    let mut b = Chat::login(&ts, "user2").await;

    // createConversation twice with one uuid: one conversation, one seq.
    let create = json!({"participants": [{"user_id": U2, "flags": 7}], "title": "Dedup"});
    let cu = uuid::Uuid::new_v4().to_string();
    a.send_as(&cu, "createConversation", create.clone()).await;
    a.send_as(&cu, "createConversation", create.clone()).await;
    let r1 = a.reply(&cu).await;
    let r2 = a.reply(&cu).await;
    assert_eq!(r1["event"], "onCreateConversation", "{r1}");
    assert_eq!(r1, r2, "the repeated request got another answer");
    let conv = r1["payload"]["object"]["uuid"].as_str().unwrap().to_owned();
    assert_eq!(r1["payload"]["seq"], 1);
    assert_eq!(b.expect("onCreateConversation").await["seq"], 1);

    // sendMessage twice (pipelined, so both may share one commit), then once more after the
    // first answer: three answers, identical, one message.
    let mu = uuid::Uuid::new_v4().to_string();
    let send = json!({"text": "once", "conversation": conv, "payload": []});
    a.send_as(&mu, "sendMessage", send.clone()).await;
    a.send_as(&mu, "sendMessage", send.clone()).await;
    let s1 = a.reply(&mu).await;
    let s2 = a.reply(&mu).await;
    a.send_as(&mu, "sendMessage", send.clone()).await;
    let s3 = a.reply(&mu).await;
    assert_eq!(s1["event"], "onSendMessage", "{s1}");
    assert_eq!(s1["payload"]["seq"], 2);
    assert_eq!(s1, s2);
    assert_eq!(s1, s3);
    let pushed = b.expect("onSendMessage").await;
    assert_eq!(
        pushed, s1["payload"],
        "B got another payload than A's answer"
    );

    // editMessage and addParticipants repeated: one seq each; a repeated addParticipants is
    // not refused with 13 (already a participant) but answered as the first time.
    let msg_uuid = s1["payload"]["object"]["uuid"].as_str().unwrap().to_owned();
    let eu = uuid::Uuid::new_v4().to_string();
    let edit = json!({"text": "edited", "conversation": conv, "payload": [], "uuid": msg_uuid});
    a.send_as(&eu, "editMessage", edit.clone()).await;
    a.send_as(&eu, "editMessage", edit).await;
    let e1 = a.reply(&eu).await;
    assert_eq!(e1, a.reply(&eu).await);
    assert_eq!(e1["payload"]["seq"], 3);
    assert_eq!(b.expect("onEditMessage").await["seq"], 3);
    let pu = uuid::Uuid::new_v4().to_string();
    let add = json!({"uuid": conv, "participants": [{"user_id": U3, "flags": 7}]});
    a.send_as(&pu, "addParticipants", add.clone()).await;
    a.send_as(&pu, "addParticipants", add).await;
    let p1 = a.reply(&pu).await;
    assert_eq!(p1["event"], "onEditConversation", "{p1}");
    assert_eq!(p1, a.reply(&pu).await);
    assert_eq!(b.expect("onEditConversation").await["seq"], 4);

    // A refused request is not recorded: the same uuid, sent again once it can succeed, runs.
    let ru = uuid::Uuid::new_v4().to_string();
    let empty = json!({"text": "", "conversation": conv, "payload": []});
    a.send_as(&ru, "sendMessage", empty).await;
    assert_eq!(a.reply(&ru).await["event"], "onError");
    a.send_as(
        &ru,
        "sendMessage",
        json!({"text": "now", "conversation": conv, "payload": []}),
    )
    .await;
    assert_eq!(a.reply(&ru).await["payload"]["seq"], 5);
    assert_eq!(b.expect("onSendMessage").await["seq"], 5);

    // The same uuid from another user is another request.
    b.send_as(
        &mu,
        "sendMessage",
        json!({"text": "mine", "conversation": conv, "payload": []}),
    )
    .await;
    let other = b.reply(&mu).await;
    assert_eq!(other["payload"]["seq"], 6, "{other}");
    assert_eq!(other["payload"]["object"]["text"], "mine");

    b.quiet().await;
    let h = b.history(&conv).await;
    let seqs: Vec<u64> = h
        .iter()
        .map(|e| e["payload"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=6).collect::<Vec<_>>());
    let texts: Vec<&str> = h
        .iter()
        .filter(|e| e["event"] == "onSendMessage")
        .map(|e| e["payload"]["object"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["once", "now", "mine"]);
}

/// `--request-log-secs` bounds how long a write is remembered: resent within it, the write is
/// answered the same; resent after it, it is a new request (and its old row has left the
/// table).
#[tokio::test]
async fn a_write_resent_after_the_request_log_forgot_it_runs_again() {
    let ts = start_msg_with(|a| {
        a.request_log_secs = Some(1);
    })
    .await;
    let mut a = Chat::login(&ts, "user1").await;
    let (conv, _) = a
        .create(json!({"participants": [{"user_id": U2, "flags": 7}], "title": "Forget"}))
        .await;
    let mu = uuid::Uuid::new_v4().to_string();
    let send = json!({"text": "again", "conversation": conv, "payload": []});
    a.send_as(&mu, "sendMessage", send.clone()).await;
    let first = a.reply(&mu).await;
    assert_eq!(first["payload"]["seq"], 2, "{first}");
    a.send_as(&mu, "sendMessage", send.clone()).await;
    assert_eq!(a.reply(&mu).await, first, "resent within the window");

    // The log counts whole seconds: a little over two of them puts the write past one second
    // of age whatever the clock's phase. (Waiting for time to pass is the point here.)
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    a.send_as(&mu, "sendMessage", send).await;
    let later = a.reply(&mu).await;
    assert_eq!(
        later["payload"]["seq"], 3,
        "forgotten, so run again: {later}"
    );
    assert_ne!(
        later["payload"]["object"]["uuid"],
        first["payload"]["object"]["uuid"]
    );

    let db = rusqlite::Connection::open(ts.dir.path().join("test.sqlite3")).unwrap();
    let rows: Vec<i64> = db
        .prepare("SELECT first_seq FROM request_log WHERE request_uuid = ?1")
        .unwrap()
        .query_map([&mu], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [3], "the expired row is pruned, the new one kept");
    a.quiet().await;
    let texts: Vec<String> = a
        .history(&conv)
        .await
        .iter()
        .filter(|e| e["event"] == "onSendMessage")
        .map(|e| e["payload"]["object"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["again", "again"]);
}

#[tokio::test]
async fn a_resent_write_is_answered_from_the_log_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dedup.sqlite3");
    let (mut child, addr) = spawn_server_binary(&db);
    let mut a = Chat::login_at(addr, "user1").await;
    let (conv, _) = a
        .create(json!({"participants": [{"user_id": U2, "flags": 7}], "title": "Restart"}))
        .await;
    let mu = uuid::Uuid::new_v4().to_string();
    let send = json!({"text": "before the kill", "conversation": conv, "payload": []});
    a.send_as(&mu, "sendMessage", send.clone()).await;
    let first = a.reply(&mu).await;
    assert_eq!(first["payload"]["seq"], 2, "{first}");
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    drop(a);

    let (mut child, addr) = spawn_server_binary(&db);
    let mut b = Chat::login_at(addr, "user2").await;
    let mut a = Chat::login_at(addr, "user1").await;
    a.send_as(&mu, "sendMessage", send).await;
    let again = a.reply(&mu).await;
    assert_eq!(first, again, "the resent request was answered differently");
    // B is online and gets nothing for the resend: its next event is the next message.
    let next = a.say(&conv, "after the restart").await;
    assert_eq!(next["seq"], 3);
    let pushed = b.expect("onSendMessage").await;
    assert_eq!(pushed["seq"], 3, "B got {pushed}");
    b.quiet().await;
    let h = b.history(&conv).await;
    let texts: Vec<&str> = h
        .iter()
        .filter(|e| e["event"] == "onSendMessage")
        .map(|e| e["payload"]["object"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["before the kill", "after the restart"]);
    child.kill().unwrap();
    child.wait().unwrap();
}
