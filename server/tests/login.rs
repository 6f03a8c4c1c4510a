//! Every login variant and failure code, over real sockets.

mod common;
use common::*;
use serde_json::{Value, json};

fn tokens(reply: &Value) -> (String, String) {
    let oauth = &reply["params"][1]["OAuth"];
    (
        oauth["accessToken"].as_str().unwrap().to_owned(),
        oauth["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn fresh(ts: &TestServer) -> RawClient {
    let mut c = RawClient::open(&url(ts.plain(), "ws", None)).await;
    c.handshake().await;
    c
}

#[tokio::test]
async fn md5_login_returns_display_name_and_tokens() {
    let ts = start().await;
    let (_c, reply) = logged_in(&ts, USER1).await;
    assert_eq!(reply["params"][0], "User One");
    let oauth = &reply["params"][1]["OAuth"];
    assert_eq!(oauth["accessExpire"], 172800);
    assert_eq!(oauth["refreshExpire"], 2592000);
    let (at, rt) = tokens(&reply);
    assert_ne!(at, rt);
    assert!(at.len() >= 32 && rt.len() >= 32);
}

#[tokio::test]
async fn sha256_login_and_wrong_algorithm() {
    let ts = start().await;
    let mut c = fresh(&ts).await;
    let r = c
        .rpc("login", json!([USER1, sha256_digest("user1", "secret"), {"receiveCalls": false, "credentialType": "sha256"}]))
        .await;
    assert_eq!(r["name"], "loginSuccessful", "{r}");
    // A SHA-256 digest announced as MD5 is a wrong password.
    let mut c = fresh(&ts).await;
    let r = c
        .rpc(
            "login",
            json!([USER1, sha256_digest("user1", "secret"), {"credentialType": "md5"}]),
        )
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [401]}));
}

#[tokio::test]
async fn login_without_domain_suffix_is_accepted() {
    let ts = start().await;
    let mut c = fresh(&ts).await;
    let r = c
        .rpc(
            "login",
            json!(["user2@app.acc", md5_digest("user2", "secret"), {"credentialType": "md5"}]),
        )
        .await;
    assert_eq!(r["params"][0], "User Two");
}

#[tokio::test]
async fn failure_codes() {
    let ts = start().await;
    let cases = [
        (
            json!([USER1, md5_digest("user1", "wrong"), {"credentialType": "md5"}]),
            401,
        ),
        (
            json!([
                "nobody@app.acc.voximplant.com",
                md5_digest("nobody", "secret"),
                {}
            ]),
            404,
        ),
        (
            json!([
                "user1@otherapp.acc.voximplant.com",
                md5_digest("user1", "secret"),
                {}
            ]),
            404,
        ),
        (json!(["not a login name", "x", {}]), 404),
        (json!([USER1, "", {"accessToken": "at-garbage"}]), 701),
        (json!([USER1, "", {"accessToken": "no-prefix"}]), 701),
    ];
    for (params, code) in cases {
        let mut c = fresh(&ts).await;
        let r = c.rpc("login", params.clone()).await;
        assert_eq!(
            r,
            json!({"name": "loginFailed", "params": [code]}),
            "for {params}"
        );
    }
}

#[tokio::test]
async fn deleted_user_cannot_log_in() {
    let ts = start().await;
    let name = vox_messenger_server::store::UserRef {
        user: "user3".into(),
        app: "app".into(),
        account: "acc".into(),
    };
    ts.srv.shared.store.delete_user(&name).await.unwrap();
    let mut c = fresh(&ts).await;
    let r = c
        .rpc(
            "login",
            json!([
                "user3@app.acc.voximplant.com",
                md5_digest("user3", "secret"),
                {}
            ]),
        )
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [404]}));
}

#[tokio::test]
async fn second_login_on_a_connection_is_invalid_state() {
    let ts = start().await;
    let (mut c, _) = logged_in(&ts, USER1).await;
    let r = c
        .rpc("login", json!([USER1, md5_digest("user1", "secret"), {}]))
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [491]}));
    let r = c.rpc("loginGenerateOneTimeKey", json!([USER1])).await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [491]}));
}

#[tokio::test]
async fn malformed_login_params_get_no_session_and_no_crash() {
    let ts = start().await;
    let mut c = fresh(&ts).await;
    for params in [
        json!([]),
        json!([1, 2, 3]),
        json!("x"),
        json!([USER1, {"a": 1}]),
    ] {
        let seq = c.send_msg(json!({"name": "login", "params": params})).await;
        assert_eq!(c.frame().await, json!({"type": "ack", "seq": seq}));
    }
    // Still usable afterwards.
    let r = c
        .rpc("login", json!([USER1, md5_digest("user1", "secret"), {}]))
        .await;
    assert_eq!(r["name"], "loginSuccessful");
}

#[tokio::test]
async fn token_login_works_and_expired_token_fails_with_701() {
    let ts = start().await;
    let (_c, reply) = logged_in(&ts, USER1).await;
    let (at, rt) = tokens(&reply);
    let mut c = fresh(&ts).await;
    let r = c.rpc("login", json!([USER1, "", {"receiveCalls": true, "serverPresenceControl": false, "accessToken": at}])).await;
    assert_eq!(r["name"], "loginSuccessful", "{r}");
    assert_eq!(r["params"][0], "User One");
    // A token of user1 does not open user2's account.
    let mut c = fresh(&ts).await;
    let r = c
        .rpc(
            "login",
            json!(["user2@app.acc.voximplant.com", "", {"accessToken": at}]),
        )
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [701]}));
    // A refresh token is not an access token.
    let mut c = fresh(&ts).await;
    let r = c
        .rpc("login", json!([USER1, "", {"accessToken": rt}]))
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [701]}));

    // With a zero lifetime, tokens are expired as soon as they are issued.
    let ts = start_with(|a| {
        a.access_token_ttl_secs = Some(0);
        a.refresh_token_ttl_secs = Some(0);
    })
    .await;
    let (_c, reply) = logged_in(&ts, USER1).await;
    let (at, rt) = tokens(&reply);
    let mut c = fresh(&ts).await;
    let r = c
        .rpc("login", json!([USER1, "", {"accessToken": at}]))
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [701]}));
    let r = c.rpc("refreshOauthToken", json!([USER1, rt])).await;
    assert_eq!(
        r,
        json!({"name": "refreshOauthTokenFailed", "params": [701]})
    );
}

#[tokio::test]
async fn refresh_rotates_both_tokens_and_is_single_use() {
    let ts = start().await;
    let (mut c, reply) = logged_in(&ts, USER1).await;
    let (at0, rt0) = tokens(&reply);
    let r = c.rpc("refreshOauthToken", json!([USER1, rt0])).await;
    assert_eq!(r["name"], "refreshOauthTokenSuccessful", "{r}");
    let oauth = &r["params"][0]["OAuth"];
    let (at1, rt1) = (
        oauth["accessToken"].as_str().unwrap().to_owned(),
        oauth["refreshToken"].as_str().unwrap().to_owned(),
    );
    assert_ne!(at1, at0);
    assert_ne!(rt1, rt0);
    assert_eq!(oauth["accessExpire"], 172800);
    // The old refresh token is spent.
    let r = c.rpc("refreshOauthToken", json!([USER1, rt0])).await;
    assert_eq!(
        r,
        json!({"name": "refreshOauthTokenFailed", "params": [701]})
    );
    // The object form with a device token works with the new one.
    let r = c
        .rpc(
            "refreshOauthToken",
            json!([USER1, {"refreshToken": rt1, "deviceToken": "device-token-1"}]),
        )
        .await;
    assert_eq!(r["name"], "refreshOauthTokenSuccessful");
    let at2 = r["params"][0]["OAuth"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // The new access token logs in.
    let mut c2 = fresh(&ts).await;
    let r = c2
        .rpc("login", json!([USER1, "", {"accessToken": at2}]))
        .await;
    assert_eq!(r["name"], "loginSuccessful");
    // Refresh for a different user with user1's token fails.
    let r = c
        .rpc(
            "refreshOauthToken",
            json!(["user2@app.acc.voximplant.com", rt1]),
        )
        .await;
    assert_eq!(
        r,
        json!({"name": "refreshOauthTokenFailed", "params": [701]})
    );
}

#[tokio::test]
async fn concurrent_refresh_with_one_token_has_one_winner() {
    let ts = start().await;
    let (_c, reply) = logged_in(&ts, USER1).await;
    let (_, rt) = tokens(&reply);
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(fresh(&ts).await);
    }
    let futures = clients.iter_mut().map(|c| {
        let rt = rt.clone();
        async move { c.rpc("refreshOauthToken", json!([USER1, rt])).await }
    });
    let results = futures_util::future::join_all(futures).await;
    let wins = results
        .iter()
        .filter(|r| r["name"] == "refreshOauthTokenSuccessful")
        .count();
    assert_eq!(wins, 1, "{results:?}");
}

#[tokio::test]
async fn one_time_key_login_is_single_use_and_newest_wins() {
    let ts = start().await;
    let digest = md5_digest("user1", "secret");
    let mut c = fresh(&ts).await;
    let r = c.rpc("loginGenerateOneTimeKey", json!([USER1])).await;
    assert_eq!(r["name"], "loginFailed");
    assert_eq!(r["params"][0], 302);
    let key1 = r["params"][1].as_str().unwrap().to_owned();
    // A newer key voids the older one.
    let r = c.rpc("loginGenerateOneTimeKey", json!([USER1])).await;
    let key2 = r["params"][1].as_str().unwrap().to_owned();
    assert_ne!(key1, key2);
    let old_hash = vox_protocol::auth::one_time_key_hash_from_digest(&key1, &digest);
    let r = c
        .rpc(
            "loginUsingOneTimeKey",
            json!([USER1, old_hash, {"receiveCalls": true}]),
        )
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [401]}));
    // The failed attempt consumed key2 as well (single use): request another.
    let r = c.rpc("loginGenerateOneTimeKey", json!([USER1])).await;
    let key3 = r["params"][1].as_str().unwrap().to_owned();
    let hash = vox_protocol::auth::one_time_key_hash(&key3, "user1", "secret");
    let r = c.rpc("loginUsingOneTimeKey", json!([USER1, hash.clone(), {"receiveCalls": true, "deviceToken": "device-token-1", "serverPresenceControl": false}])).await;
    assert_eq!(r["name"], "loginSuccessful", "{r}");
    assert!(r["params"][1]["OAuth"]["accessToken"].is_string());
    // Reuse of the same hash on another connection fails.
    let mut c2 = fresh(&ts).await;
    let r = c2
        .rpc("loginUsingOneTimeKey", json!([USER1, hash, {}]))
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [401]}));
    // Unknown user.
    let r = c2
        .rpc(
            "loginGenerateOneTimeKey",
            json!(["ghost@app.acc.voximplant.com"]),
        )
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [404]}));
}

#[tokio::test]
async fn expired_one_time_key_fails() {
    let ts = start_with(|a| a.one_time_key_ttl_secs = Some(0)).await;
    let mut c = fresh(&ts).await;
    let r = c.rpc("loginGenerateOneTimeKey", json!([USER1])).await;
    let key = r["params"][1].as_str().unwrap().to_owned();
    let hash = vox_protocol::auth::one_time_key_hash(&key, "user1", "secret");
    let r = c
        .rpc("loginUsingOneTimeKey", json!([USER1, hash, {}]))
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [401]}));
}

#[tokio::test]
async fn login_stage2_is_invalid_state() {
    let ts = start().await;
    let mut c = fresh(&ts).await;
    let r = c.rpc("loginStage2", json!([USER1, "123456", {}])).await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [491]}));
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_user_and_per_peer() {
    let ts = start_with(|a| {
        a.login_failures_per_user = Some(3);
        a.login_failures_per_peer = Some(5);
        a.login_lockout_secs = Some(3600);
    })
    .await;
    let mut c = fresh(&ts).await;
    for _ in 0..3 {
        let r = c
            .rpc("login", json!([USER1, md5_digest("user1", "guess"), {}]))
            .await;
        assert_eq!(r, json!({"name": "loginFailed", "params": [401]}));
    }
    // Locked: even the right password is refused, without being checked.
    let r = c
        .rpc("login", json!([USER1, md5_digest("user1", "secret"), {}]))
        .await;
    assert_eq!(r, json!({"name": "loginFailed", "params": [401]}));
    // Another user from the same peer still works (per-peer budget 5 not reached: 4 failures).
    let r = c
        .rpc(
            "login",
            json!([
                "user2@app.acc.voximplant.com",
                md5_digest("user2", "secret"),
                {}
            ]),
        )
        .await;
    assert_eq!(r["name"], "loginSuccessful");
    // Two more failures on other names exhaust the peer budget.
    let mut c = fresh(&ts).await;
    for _ in 0..2 {
        let r = c
            .rpc(
                "login",
                json!([
                    "user3@app.acc.voximplant.com",
                    md5_digest("user3", "guess"),
                    {}
                ]),
            )
            .await;
        assert_eq!(r["params"][0], 401);
    }
    let r = c
        .rpc(
            "login",
            json!([
                "user3@app.acc.voximplant.com",
                md5_digest("user3", "secret"),
                {}
            ]),
        )
        .await;
    assert_eq!(
        r,
        json!({"name": "loginFailed", "params": [401]}),
        "peer is locked out"
    );
}

#[tokio::test]
async fn messaging_before_login_is_not_authorized() {
    let ts = start().await;
    let mut c = fresh(&ts).await;
    let seq = c.send_msg(json!({"service": "chat", "event": "getUser", "payload": {"user_name": "user1@app.acc", "@type": "type/vox.store.IncomingNamespace.GetUser"}, "request_uuid": "5dac8631-41f6-46e2-9a2e-2bfaf6ea29f1"})).await;
    assert_eq!(c.frame().await, json!({"type": "ack", "seq": seq}));
    let m = c.msg().await;
    assert_eq!(m["payload"]["event"], "onError");
    assert_eq!(m["payload"]["payload"]["code"], 3);
    assert_eq!(
        m["payload"]["request_uuid"],
        "5dac8631-41f6-46e2-9a2e-2bfaf6ea29f1"
    );
}
