//! Crash durability: the server binary is SIGKILLed right after acknowledging writes; after a
//! restart on the same database every acknowledged event is there, with its seq, and the
//! conversation's sequence has no gap.

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[tokio::test]
async fn acknowledged_events_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite3");
    let (mut child, addr) = spawn_server_binary(&db);
    let mut a = Chat::login_at(addr, "user1").await;
    let (conv, _) = a
        .create(json!({"participants": [{"user_id": U2, "flags": 7}], "title": "Crash"}))
        .await;
    // Acknowledged events: seq -> (event, message uuid, text).
    let mut acked: BTreeMap<u64, (String, String, Option<String>)> = BTreeMap::new();
    acked.insert(1, ("onCreateConversation".into(), conv.clone(), None));
    // A few edits and removals among the sends.
    let first = a.say(&conv, "first").await;
    let first_uuid = first["object"]["uuid"].as_str().unwrap().to_owned();
    acked.insert(
        2,
        (
            "onSendMessage".into(),
            first_uuid.clone(),
            Some("first".into()),
        ),
    );
    let e = a
        .call_ok("editMessage", json!({"text": "first, edited", "conversation": conv, "payload": [], "uuid": first_uuid}), "onEditMessage")
        .await;
    acked.insert(
        3,
        (
            "onEditMessage".into(),
            first_uuid.clone(),
            Some("first, edited".into()),
        ),
    );
    assert_eq!(e["seq"], 3);
    // 400 pipelined sends; kill the server as soon as 300 are acknowledged, with the rest in
    // flight.
    let mut pending = Vec::new();
    for i in 0..400 {
        let text = format!("msg {i}");
        let u = a
            .send(
                "sendMessage",
                json!({"text": text, "conversation": conv, "payload": [{"i": i}]}),
            )
            .await;
        pending.push((u, text));
    }
    for (u, text) in pending.iter().take(300) {
        let r = a.reply(u).await;
        assert_eq!(r["event"], "onSendMessage", "{r}");
        let p = &r["payload"];
        let seq = p["seq"].as_u64().unwrap();
        assert_eq!(&p["object"]["text"], text);
        acked.insert(
            seq,
            (
                "onSendMessage".into(),
                p["object"]["uuid"].as_str().unwrap().to_owned(),
                Some(text.clone()),
            ),
        );
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    drop(a);

    let (mut child, addr) = spawn_server_binary(&db);
    let mut b = Chat::login_at(addr, "user2").await;
    let last = b.last_seq(&conv).await;
    let max_acked = *acked.keys().last().unwrap();
    assert!(
        last >= max_acked,
        "last seq {last} < acknowledged {max_acked}"
    );
    // Read the whole history back: gap-free 1..=last.
    let mut history: BTreeMap<u64, Value> = BTreeMap::new();
    for inner in b.history(&conv).await {
        let seq = inner["payload"]["seq"].as_u64().unwrap();
        assert!(history.insert(seq, inner).is_none(), "seq {seq} twice");
    }
    let seqs: Vec<u64> = history.keys().copied().collect();
    assert_eq!(
        seqs,
        (1..=last).collect::<Vec<_>>(),
        "the sequence has a gap"
    );
    for (seq, (event, uuid, text)) in &acked {
        let h = &history[seq];
        assert_eq!(&h["event"], event, "seq {seq}");
        assert_eq!(&h["payload"]["object"]["uuid"], uuid, "seq {seq}");
        if let Some(t) = text {
            assert_eq!(&h["payload"]["object"]["text"], t, "seq {seq}");
        }
    }
    // And the store keeps working where it stopped.
    let mut a = Chat::login_at(addr, "user1").await;
    assert_eq!(a.say(&conv, "after the crash").await["seq"], last + 1);
    child.kill().unwrap();
    child.wait().unwrap();
}
