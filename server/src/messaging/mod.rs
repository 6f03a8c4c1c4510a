//! The Messenger: every messaging action of the Web SDK, one handler per action, each in four
//! steps — validate → authorise → commit → publish.
//!
//! * State-changing actions run on the store's writer thread ([`store`]): validation and
//!   authorisation happen inside the batch transaction (so they see exactly the state they
//!   change), a rejected request rolls back its savepoint (no trace, no `seq`), and events are
//!   published only after the commit.
//! * Reads, `typingMessage` and `setStatus` (nothing to store) run on the read pool and publish
//!   directly.
//! * [`fanout`] delivers: every recipient session has a bounded queue; the initiating session's
//!   copy carries its `request_uuid`.
//! * Every refused request is answered with `onError` carrying the protocol's code, never
//!   silence.

pub mod fanout;
pub mod limits;
pub mod store;

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::oneshot;
use vox_protocol::messaging::{
    Action, ErrorCode, EventName, EventPayload, PresenceMessage, PublicConversations,
    RetransmitRequest, RetransmittedEvent, TypingMessage, UserRef, UserSubscriptions,
};
use vox_protocol::messaging::{Request, UserId};

use fanout::{Hub, Initiator, Publish, SessionTx};
use limits::*;
use store::{
    Caller, ConvRow, MsgStore, Reject, Res, StoreOptions, WriteJob, WriteOp, active_ids, conv_live,
    conv_object, error_frame, events_in, now, participant_row, subscribers_of, subscriptions_of,
    user_by_id, user_by_name, user_object,
};

/// The Messenger service of one server process.
pub struct Messenger {
    pub store: MsgStore,
    pub hub: Arc<Hub>,
    pub rate: RateLimits,
    /// Capacity of each session's event queue.
    pub queue: usize,
}

/// What the connection waits for before it runs a later read of the same session (so a
/// session reads its own writes): fired once the write's events have been queued.
pub type WriteDone = oneshot::Receiver<Result<(), Reject>>;

impl Messenger {
    pub fn open(opts: StoreOptions, rate: RateLimits, queue: usize) -> Result<Messenger, String> {
        let hub = Arc::new(Hub::default());
        Ok(Messenger {
            store: MsgStore::open(opts, hub.clone())?,
            hub,
            rate,
            queue,
        })
    }

    /// The messaging identity of a logged-in user.
    pub async fn caller(&self, user_id: UserId) -> Res<Caller> {
        self.store.read(move |c| store::caller_of(c, user_id)).await
    }

    /// A logged-in session joins the hub.
    pub fn session_opened(&self, user_id: UserId) -> Arc<SessionTx> {
        let tx = SessionTx::new(user_id, self.queue);
        self.hub.register(tx.clone());
        tx
    }

    /// A session ended: leave the hub; if it was the user's last online session, tell the
    /// subscribers the user is offline.
    pub async fn session_closed(&self, s: &Arc<SessionTx>) {
        self.hub.unregister(s);
        s.close();
        if s.online() && !self.hub.is_online(s.user_id) {
            s.set_online(false);
            let user = s.user_id;
            match self.store.read(move |c| subscribers_of(c, user)).await {
                Ok(mut subs) => {
                    subs.push(user);
                    let payload = EventPayload::new(
                        user,
                        Action::SetStatus,
                        PresenceMessage { online: false },
                    )
                    .with_timestamp(now())
                    .to_raw();
                    self.hub.publish(
                        &[Publish::new(EventName::SetStatus, payload, subs, false)],
                        None,
                    );
                }
                Err(e) => tracing::warn!(user, error = ?e, "cannot announce offline status"),
            }
        }
    }

    /// Handle one request of a logged-in session. Writes return a [`WriteDone`].
    pub async fn handle(&self, c: Caller, init: Initiator, req: Request) -> Option<WriteDone> {
        use Request as Q;
        let action = req.action();
        let result: Res<Vec<Publish>> = match req {
            Q::CreateConversation(_)
            | Q::EditConversation(_)
            | Q::JoinConversation(_)
            | Q::LeaveConversation(_)
            | Q::AddParticipants(_)
            | Q::EditParticipants(_)
            | Q::RemoveParticipants(_)
            | Q::SendMessage(_)
            | Q::EditMessage(_)
            | Q::RemoveMessage(_)
            | Q::IsRead(_)
            | Q::EditUser(_)
            | Q::ManageNotification(_)
            | Q::Subscribe(_)
            | Q::Unsubscribe(_) => {
                let (tx, rx) = oneshot::channel();
                self.store
                    .submit(WriteJob {
                        op: WriteOp::Request(req),
                        caller: Some(c),
                        initiator: Some(init),
                        done: Some(tx),
                    })
                    .await;
                return Some(rx);
            }
            Q::GetUser(r) => {
                self.store
                    .read(move |conn| get_users(conn, &c, &[r], action))
                    .await
            }
            Q::GetUsers(r) => {
                if r.users.is_empty() || r.users.len() > MAX_GET_USERS {
                    Err(ErrorCode::ObjectCountInvalid.into())
                } else {
                    self.store
                        .read(move |conn| get_users(conn, &c, &r.users, action))
                        .await
                }
            }
            Q::GetConversation(r) => {
                self.store
                    .read(move |conn| get_conversations(conn, &c, &[r.uuid], action))
                    .await
            }
            Q::GetConversations(r) => {
                if r.uuid.is_empty() || r.uuid.len() > MAX_GET_CONVERSATIONS {
                    Err(ErrorCode::ObjectCountInvalid.into())
                } else {
                    self.store
                        .read(move |conn| get_conversations(conn, &c, &r.uuid, action))
                        .await
                }
            }
            Q::GetPublicConversations(_) => self.store.read(move |conn| get_public(conn, &c)).await,
            Q::GetSubscriptionList(_) => {
                self.store
                    .read(move |conn| {
                        let list = subscriptions_of(conn, c.user_id)?;
                        let p = EventPayload::new(
                            c.user_id,
                            action,
                            UserSubscriptions {
                                subscriptions: list,
                            },
                        )
                        .to_raw();
                        Ok(vec![Publish::reply_only(EventName::GetSubscriptionList, p)])
                    })
                    .await
            }
            Q::RetransmitEvents(r) => self.store.read(move |conn| retransmit(conn, &c, &r)).await,
            Q::TypingMessage(r) => {
                self.store
                    .read(move |conn| {
                        let conv = conv_live(conn, &r.conversation)?;
                        match participant_row(conn, conv.id, c.user_id)? {
                            Some((_, true, _)) => {}
                            _ => return Err(ErrorCode::NotParticipant.into()),
                        }
                        let users = active_ids(conn, conv.id)?;
                        let p = EventPayload::new(
                            c.user_id,
                            action,
                            TypingMessage {
                                conversation: r.conversation,
                            },
                        )
                        .with_timestamp(now())
                        .to_raw();
                        Ok(vec![Publish::new(EventName::Typing, p, users, true)])
                    })
                    .await
            }
            Q::SetStatus(r) => self.set_status(&c, &init, r.online).await,
            Q::RemoveConversation(_) | Q::RemoveEmptyConversation(_) => Err(Reject::new(
                ErrorCode::AccessDenied,
                "Conversations are removed through the server's admin API.",
            )),
            Q::SearchConversations(_) | Q::CreateBot(_) | Q::RemoveBot(_) => Err(Reject::new(
                ErrorCode::UnknownEvent,
                format!("The action {action} is not supported by this server."),
            )),
        };
        match result {
            Ok(p) => self.hub.publish(&p, Some(&init)),
            Err(e) => {
                init.session
                    .push_reply(error_frame(&init.request_uuid, c.user_id, action, &e).into());
            }
        }
        None
    }

    async fn set_status(&self, c: &Caller, init: &Initiator, online: bool) -> Res<Vec<Publish>> {
        let user = c.user_id;
        let was = self.hub.is_online(user);
        init.session.set_online(online);
        let is = self.hub.is_online(user);
        let payload = |online| {
            EventPayload::new(user, Action::SetStatus, PresenceMessage { online })
                .with_timestamp(now())
                .to_raw()
        };
        if was == is {
            return Ok(vec![Publish::reply_only(
                EventName::SetStatus,
                payload(online),
            )]);
        }
        let mut users = self
            .store
            .read(move |conn| subscribers_of(conn, user))
            .await?;
        users.push(user);
        Ok(vec![Publish::new(
            EventName::SetStatus,
            payload(is),
            users,
            true,
        )])
    }

    /// Admin API: remove a conversation; its participants get `onRemoveConversation`.
    pub async fn remove_conversation(&self, uuid: String) -> Res<()> {
        let (tx, rx) = oneshot::channel();
        self.store
            .submit(WriteJob {
                op: WriteOp::RemoveConversation(uuid),
                caller: None,
                initiator: None,
                done: Some(tx),
            })
            .await;
        rx.await.unwrap_or(Err(ErrorCode::Internal.into()))
    }
}

fn get_users(conn: &Connection, c: &Caller, refs: &[UserRef], action: Action) -> Res<Vec<Publish>> {
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        let (row, echo) = match (&r.user_id, &r.user_name) {
            (Some(id), _) => (user_by_id(conn, *id)?, None),
            (None, Some(name)) => (user_by_name(conn, name)?, Some(name.as_str())),
            (None, None) => {
                return Err(Reject::new(
                    ErrorCode::UserValidation,
                    "Give user_id or user_name.",
                ));
            }
        };
        let row = match row {
            Some(u) if store::root_account(conn, u.account_id)? == c.root_account_id => u,
            _ => {
                let who = r.user_id.map_or_else(
                    || r.user_name.clone().unwrap_or_default(),
                    |i| i.to_string(),
                );
                return Err(Reject::new(
                    ErrorCode::UserNotFound,
                    format!("User is not found: {who}."),
                ));
            }
        };
        let user = user_object(conn, &row, row.id == c.user_id, echo)?;
        let p = EventPayload::new(c.user_id, action, user).to_raw();
        out.push(Publish::reply_only(EventName::GetUser, p));
    }
    Ok(out)
}

/// A conversation the caller may read: is or was a participant, or it is public and visible.
fn readable(conn: &Connection, c: &Caller, uuid: &str) -> Res<(ConvRow, Option<bool>)> {
    let conv = conv_live(conn, uuid)?;
    let row = participant_row(conn, conv.id, c.user_id)?;
    let public = conv.public_join
        && !conv.direct
        && (conv.account_id == c.account_id || conv.account_id == c.root_account_id);
    match row {
        Some((_, active, _)) => Ok((conv, Some(active))),
        None if public => Ok((conv, None)),
        None => Err(ErrorCode::AccessDenied.into()),
    }
}

fn get_conversations(
    conn: &Connection,
    c: &Caller,
    uuids: &[String],
    action: Action,
) -> Res<Vec<Publish>> {
    let mut out = Vec::with_capacity(uuids.len());
    let mut seen: Vec<&str> = Vec::new();
    for u in uuids {
        if seen.contains(&u.as_str()) {
            continue;
        }
        seen.push(u);
        let (conv, _) = readable(conn, c, u)?;
        let p = EventPayload::new(c.user_id, action, conv_object(conn, &conv)?)
            .with_seq(conv.last_seq)
            .with_timestamp(now())
            .to_raw();
        out.push(Publish::reply_only(EventName::GetConversation, p));
    }
    Ok(out)
}

fn get_public(conn: &Connection, c: &Caller) -> Res<Vec<Publish>> {
    let mut st = conn.prepare_cached(
        "SELECT uuid FROM conversations WHERE public_join = 1 AND removed = 0 AND direct = 0 \
         AND (account_id = ?1 OR account_id = ?2) ORDER BY id",
    )?;
    let uuids = st
        .query_map([c.account_id, c.root_account_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let p = EventPayload::new(
        c.user_id,
        Action::GetPublicConversations,
        PublicConversations { uuid: uuids },
    )
    .to_raw();
    Ok(vec![Publish::reply_only(
        EventName::GetPublicConversations,
        p,
    )])
}

fn retransmit(conn: &Connection, c: &Caller, r: &RetransmitRequest) -> Res<Vec<Publish>> {
    match r.selector_count() {
        3 => return Err(ErrorCode::RetransmitAllThreeParams.into()),
        0 | 1 => return Err(ErrorCode::RetransmitTooFewParams.into()),
        _ => {}
    }
    let too_many = || {
        Reject::new(
            ErrorCode::ObjectCountTooLarge,
            format!("At most {MAX_RETRANSMIT} events can be retransmitted per request."),
        )
    };
    let (from, to) = match (r.events_from, r.events_to, r.count) {
        (Some(f), Some(t), None) => {
            if f > t {
                return Err(ErrorCode::FromGreaterThanTo.into());
            }
            if t - f >= MAX_RETRANSMIT {
                return Err(too_many());
            }
            (f, t)
        }
        (Some(f), None, Some(n)) | (None, Some(f), Some(n)) if n == 0 => {
            let _ = f;
            return Err(ErrorCode::ObjectCountInvalid.into());
        }
        (Some(f), None, Some(n)) => {
            if n > MAX_RETRANSMIT {
                return Err(too_many());
            }
            (f, f.saturating_add(n - 1))
        }
        (None, Some(t), Some(n)) => {
            if n > MAX_RETRANSMIT {
                return Err(too_many());
            }
            (t.saturating_sub(n - 1), t)
        }
        _ => return Err(ErrorCode::RetransmitTooFewParams.into()),
    };
    let conv = conv_live(conn, &r.conversation)?;
    let active = match participant_row(conn, conv.id, c.user_id)? {
        Some((_, active, _)) => active,
        None => return Err(ErrorCode::AccessDenied.into()),
    };
    let (from, to) = (from.max(1), to.min(conv.last_seq));
    let limit = (conv.uber || !active).then_some(c.user_id);
    let rows = if from <= to {
        events_in(conn, conv.id, from, to, limit)?
    } else {
        Vec::new()
    };
    if rows.is_empty() {
        let p = EventPayload::retransmit_empty(c.user_id).to_raw();
        return Ok(vec![Publish::reply_only(EventName::RetransmitEvents, p)]);
    }
    let count = rows.len() as u64;
    let (first, last) = (rows[0].0, rows[rows.len() - 1].0);
    let mut out = Vec::with_capacity(rows.len());
    for (_, event, payload) in rows {
        let name = EventName::from_name(&event).ok_or(Reject::from(ErrorCode::Internal))?;
        let value: serde_json::Value =
            serde_json::from_str(&payload).map_err(|_| Reject::from(ErrorCode::Internal))?;
        let inner =
            EventPayload::from_value(name, value).map_err(|_| Reject::from(ErrorCode::Internal))?;
        let mut p =
            EventPayload::retransmit(c.user_id, count, RetransmittedEvent::new(name, inner));
        p.from_seq = Some(first);
        p.to_seq = Some(last);
        out.push(Publish::reply_only(EventName::RetransmitEvents, p.to_raw()));
    }
    Ok(out)
}
