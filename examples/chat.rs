//! Two users chat through the SDK's public API.
//!
//! ```text
//! cargo run --example chat                                  # starts an embedded dev server
//! cargo run --example chat -- ws://127.0.0.1:8080           # or use a running server
//! cargo run --example chat -- wss://host:8443 /path/ca.pem  # wss with a custom CA
//! ```
//!
//! Alice (user1) and Bob (user2) log in, subscribe to each other's status, Alice creates a
//! conversation, they chat (Bob's socket is dropped in the middle of it and the session resumes),
//! Alice edits and removes a message, Bob types and marks everything read. Each side checks that
//! every event arrived exactly once and in order; the program exits non-zero otherwise.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use vox_messenger::{
    Client, ClientConfig, ClientEvent, ConversationConfig, ConversationParticipant, MessengerEvent,
    MessengerEventType, TlsTrust,
};

const PASSWORD: &str = "secret";
const ALICE: &str = "user1@app.acc.voximplant.com";
const BOB: &str = "user2@app.acc.voximplant.com";
const MESSAGES: usize = 20;

type Log = Arc<Mutex<Vec<String>>>;

fn attach(name: &'static str, client: &Client) -> Log {
    let log: Log = Arc::default();
    let l = log.clone();
    client.on_event(move |e| {
        if matches!(e, ClientEvent::Reconnecting | ClientEvent::Reconnected) {
            println!("[{name}] {e:?}");
            l.lock().unwrap().push(format!("{e:?}"));
        }
    });
    let m = client.messenger();
    for t in [
        MessengerEventType::CreateConversation,
        MessengerEventType::SendMessage,
        MessengerEventType::EditMessage,
        MessengerEventType::RemoveMessage,
        MessengerEventType::Typing,
        MessengerEventType::Read,
        MessengerEventType::SetStatus,
    ] {
        let l = log.clone();
        m.on(t, move |e| {
            let line = match e {
                MessengerEvent::Message(m) => format!(
                    "{:?} #{} from {}: {}",
                    m.event_type,
                    m.sequence,
                    m.initiator,
                    m.message.text()
                ),
                MessengerEvent::Conversation(c) => {
                    format!("{:?} {:?}", c.event_type, c.conversation.data().title)
                }
                MessengerEvent::ConversationService(s) => {
                    format!("{:?} by {} seq {}", s.event_type, s.initiator, s.sequence)
                }
                MessengerEvent::Status(s) => {
                    format!("SetStatus {} online={}", s.initiator, s.is_online)
                }
                other => format!("{other:?}"),
            };
            println!("[{name}] {line}");
            l.lock().unwrap().push(line);
        });
    }
    log
}

async fn wait_for(log: &Log, what: impl Fn(&[String]) -> bool) -> bool {
    for _ in 0..200 {
        if what(&log.lock().unwrap()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Without a server address, run the self-hosted server in this process.
    let _embedded;
    let server = match args.first() {
        Some(s) => s.clone(),
        None => {
            let dir = std::env::temp_dir().join(format!("vox-chat-example-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let serve = vox_messenger_server::config::ServeArgs {
                dev: true,
                listen: Some("127.0.0.1:0".parse()?),
                plain_listen: Some("127.0.0.1:0".parse()?),
                db: Some(dir.join("chat.sqlite3")),
                ..Default::default()
            };
            let config = vox_messenger_server::config::Config::resolve(&serve)?;
            let srv = vox_messenger_server::server::start(config).await?;
            let url = format!("ws://{}", srv.plain_addr.expect("plain listener"));
            println!("embedded server on {url}");
            _embedded = srv;
            url
        }
    };
    let mut config = ClientConfig::new(server);
    if let Some(ca) = args.get(1) {
        config.tls = TlsTrust::CustomCa(std::fs::read_to_string(ca)?);
    }

    let alice = Client::new(config.clone())?;
    let bob = Client::new(config)?;
    let alice_log = attach("alice", &alice);
    let bob_log = attach("bob", &bob);
    for (c, user) in [(&alice, ALICE), (&bob, BOB)] {
        c.connect().await?;
        let auth = c.login(user, PASSWORD).await?;
        println!(
            "logged in as {} ({:?})",
            auth.display_name,
            c.messenger().get_me()
        );
    }
    let (ma, mb) = (alice.messenger(), bob.messenger());
    let alice_id = ma.get_user_by_name(&ma.get_me().unwrap()).await?.user.im_id;
    let bob_id = mb.get_user_by_name(&mb.get_me().unwrap()).await?.user.im_id;

    // Presence: each subscribes to the other and goes online.
    ma.subscribe(&[bob_id]).await?;
    mb.subscribe(&[alice_id]).await?;
    ma.set_status(true).await?;
    mb.set_status(true).await?;

    let conv = ma
        .create_conversation(ConversationConfig {
            participants: vec![ConversationParticipant {
                can_write: true,
                ..ConversationParticipant::new(bob_id)
            }],
            title: "Rust example".into(),
            ..Default::default()
        })
        .await?
        .conversation;
    let bob_conv = mb.get_conversation(conv.uuid()).await?.conversation;

    // Chat, with Bob's connection dropped halfway (the session resumes on a new socket).
    let mut last = None;
    for i in 0..MESSAGES {
        let (c, text) = if i % 2 == 0 {
            (&conv, format!("Alice says {i}"))
        } else {
            (&bob_conv, format!("Bob says {i}"))
        };
        let sent = c.send_message(&text, vec![]).await?;
        if i == MESSAGES / 2 {
            bob.notify_network_changed();
        }
        last = Some(sent);
    }
    let last = last.expect("sent");
    let edited = conv.send_message("typo hree", vec![]).await?;
    edited.message.update("typo here", vec![]).await?;
    edited.message.remove().await?;
    bob_conv.typing().await?;
    bob_conv.mark_as_read(last.sequence).await?;

    // Each side received every chat message once, in order.
    let expected: Vec<String> = (0..MESSAGES)
        .map(|i| {
            if i % 2 == 0 {
                format!("Alice says {i}")
            } else {
                format!("Bob says {i}")
            }
        })
        .collect();
    let mut ok = true;
    for (name, log) in [("alice", &alice_log), ("bob", &bob_log)] {
        let complete = wait_for(log, |l| l.iter().any(|s| s.starts_with("Read"))).await;
        let got: Vec<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("SendMessage") && !l.ends_with("typo hree"))
            .map(|l| l.split(": ").nth(1).unwrap_or("").to_owned())
            .collect();
        let good = complete && got == expected;
        println!(
            "{name}: {} chat messages, in order and once each: {good}",
            got.len()
        );
        ok &= good;
    }
    ok &= bob_log.lock().unwrap().iter().any(|l| l == "Reconnected");
    // Each saw the other come online (subscriptions).
    ok &= alice_log
        .lock()
        .unwrap()
        .iter()
        .any(|l| *l == format!("SetStatus {bob_id} online=true"));
    ok &= bob_log
        .lock()
        .unwrap()
        .iter()
        .any(|l| *l == format!("SetStatus {alice_id} online=true"));
    alice.disconnect().await?;
    bob.disconnect().await?;
    if !ok {
        eprintln!("FAILED: events missing, duplicated or out of order");
        std::process::exit(1);
    }
    println!("done");
    Ok(())
}
