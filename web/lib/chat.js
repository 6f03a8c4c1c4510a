// The chat model of the demo: conversations, messages, typing and read marks, kept up to date
// from the official Web SDK's Messenger. No DOM here; the page listens for `change` events.
//
//   change detail: { what: 'conversations' | 'messages' | 'typing' | 'read' | 'users', uuid? }

const HISTORY = 100; // events fetched per conversation (the server's retransmit limit)
const TYPING_SHOWN_MS = 6_000;

export class Chat extends EventTarget {
  constructor(messenger) {
    super();
    this.messenger = messenger;
    this.Events = window.VoxImplant.Messaging.MessengerEvents;
    this.me = messenger.getMe(); // user@app.acc
    this.myId = undefined;
    /** uuid → { conv: SDK Conversation, messages: Map<uuid, {message, seq, removed}>, typing: Map<userId, until>, loaded } */
    this.conversations = new Map();
    /** IM user id → SDK user object ({userId, userName, displayName, …}) */
    this.users = new Map();
    /** SDK calls not settled yet */
    this.pending = new Set();
    this.stopped = false;
  }

  /** Stops listening (the Messenger is a singleton that outlives a login). */
  stop() {
    this.stopped = true;
    for (const [name, fn] of this.handlers ?? []) this.messenger.off(name, fn);
    this.handlers = [];
  }

  /** Remembers an SDK call until it settles (see idle()). */
  track(promise) {
    if (promise && typeof promise.then === 'function') {
      this.pending.add(promise);
      const done = () => this.pending.delete(promise);
      promise.then(done, done);
    }
    return promise;
  }

  /**
   * Resolves once no SDK call of this chat is outstanding (or after `ms`). The SDK sends
   * messaging requests from a queue, one per 220 ms; disconnecting while one is still queued makes
   * the SDK throw ("Cannot read properties of null (reading 'send')") and the call never settles.
   */
  async idle(ms = 5_000) {
    const deadline = Date.now() + ms;
    while (this.pending.size > 0 && Date.now() < deadline) {
      await Promise.race([
        Promise.allSettled([...this.pending]),
        new Promise((r) => setTimeout(r, deadline - Date.now())),
      ]);
    }
  }

  emit(what, uuid) {
    this.dispatchEvent(new CustomEvent('change', { detail: { what, uuid } }));
  }

  /** Learns who we are, subscribes to live events and loads the conversation list. */
  async start() {
    const E = this.Events;
    const m = this.messenger;
    this.handlers = [
      [E.CreateConversation, (e) => this.upsertConversation(e.conversation)],
      [E.EditConversation, (e) => this.upsertConversation(e.conversation)],
      [E.RemoveConversation, (e) => { this.conversations.delete(e.uuid); this.emit('conversations'); }],
      [E.SendMessage, (e) => this.applyMessage(e)],
      [E.EditMessage, (e) => this.applyMessage(e)],
      [E.RemoveMessage, (e) => this.applyMessage(e)],
      [E.Typing, (e) => this.onTyping(e)],
      [E.Read, (e) => this.onRead(e)],
    ];
    for (const [name, fn] of this.handlers) m.on(name, fn);

    const self = await this.track(m.getUser(this.me));
    this.myId = self.user.userId;
    this.users.set(this.myId, self.user);
    const uuids = self.user.conversationsList ?? [];
    for (let i = 0; i < uuids.length && !this.stopped; i += 30) {
      const got = await this.track(m.getConversations(uuids.slice(i, i + 30)));
      for (const e of got) this.upsertConversation(e.conversation, { quiet: true });
    }
    await this.learnUsers();
    this.emit('conversations');
  }

  /** Fetches the users that appear in conversations and are not known yet. */
  async learnUsers() {
    const missing = new Set();
    for (const { conv } of this.conversations.values()) {
      for (const p of conv.participants) if (!this.users.has(p.userId)) missing.add(p.userId);
    }
    if (missing.size === 0 || this.stopped) return;
    const got = await this.track(this.messenger.getUsersById([...missing].slice(0, 50)));
    for (const e of got) this.users.set(e.user.userId, e.user);
    this.emit('users');
  }

  displayName(userId) {
    return this.users.get(userId)?.displayName ?? `user ${userId}`;
  }

  /** A conversation's name for the list: its title, or the other participants. */
  conversationName(conv) {
    if (conv.title) return conv.title;
    const others = conv.participants.filter((p) => p.userId !== this.myId).map((p) => this.displayName(p.userId));
    return others.join(', ') || '(just me)';
  }

  upsertConversation(conv, { quiet = false } = {}) {
    if (!conv?.uuid) return;
    const stillIn = conv.participants.some((p) => p.userId === this.myId);
    if (!stillIn && this.myId !== undefined) {
      this.conversations.delete(conv.uuid); // we left or were removed
    } else {
      const entry = this.conversations.get(conv.uuid);
      if (entry) entry.conv = conv;
      else this.conversations.set(conv.uuid, { conv, messages: new Map(), typing: new Map(), loaded: false });
    }
    if (!quiet) {
      this.emit('conversations', conv.uuid);
      this.learnUsers().catch(() => {});
    }
  }

  /** Loads the latest history of a conversation once. */
  async load(uuid) {
    const entry = this.conversations.get(uuid);
    if (!entry || entry.loaded) return;
    entry.loaded = true;
    const last = entry.conv.lastSeq;
    if (typeof last === 'number' && last > 0 && !this.stopped) {
      const history = await this.track(entry.conv.retransmitEventsTo(last, Math.min(last, HISTORY)));
      for (const e of history.events) if (e.message) this.applyMessage(e, { quiet: true });
    }
    this.emit('messages', uuid);
  }

  applyMessage(e, { quiet = false } = {}) {
    const msg = e.message;
    const entry = this.conversations.get(msg?.conversation);
    if (!entry) return;
    if (typeof e.seq === 'number') entry.conv.updateSeq(e.seq);
    const known = entry.messages.get(msg.uuid);
    if (e.messengerAction === 'removeMessage') {
      if (known) known.removed = true;
    } else if (known) {
      known.message = msg;
    } else {
      entry.messages.set(msg.uuid, { message: msg, seq: e.seq, removed: false });
    }
    entry.typing.delete(msg.sender);
    if (!quiet) this.emit('messages', msg.conversation);
  }

  onTyping(e) {
    const entry = this.conversations.get(e.conversation);
    if (!entry || e.initiator === this.myId) return;
    entry.typing.set(e.initiator, Date.now() + TYPING_SHOWN_MS);
    this.emit('typing', e.conversation);
    setTimeout(() => this.emit('typing', e.conversation), TYPING_SHOWN_MS + 50);
  }

  onRead(e) {
    const entry = this.conversations.get(e.conversation);
    if (!entry) return;
    const p = entry.conv.participants.find((x) => x.userId === e.initiator);
    if (p) p.lastRead = e.seq;
    this.emit('read', e.conversation);
  }

  /** Names of the users typing in a conversation right now. */
  typingNames(uuid) {
    const entry = this.conversations.get(uuid);
    if (!entry) return [];
    const now = Date.now();
    return [...entry.typing].filter(([, until]) => until > now).map(([id]) => this.displayName(id));
  }

  /** The highest seq that every other participant has read (for "read" marks). */
  readByOthers(uuid) {
    const entry = this.conversations.get(uuid);
    const others = entry?.conv.participants.filter((p) => p.userId !== this.myId) ?? [];
    if (others.length === 0) return 0;
    return Math.min(...others.map((p) => p.lastRead ?? 0));
  }

  /** Visible messages of a conversation, oldest first. */
  messages(uuid) {
    const entry = this.conversations.get(uuid);
    if (!entry) return [];
    return [...entry.messages.values()].filter((m) => !m.removed).sort((a, b) => a.seq - b.seq);
  }

  /** Marks everything up to the newest message from someone else as read. */
  async markRead(uuid) {
    const entry = this.conversations.get(uuid);
    if (!entry) return;
    const theirs = this.messages(uuid).filter((m) => m.message.sender !== this.myId);
    const seq = theirs.length ? theirs[theirs.length - 1].seq : 0;
    const mine = entry.conv.participants.find((p) => p.userId === this.myId);
    if (seq > 0 && (mine?.lastRead ?? 0) < seq && !this.stopped) {
      if (mine) mine.lastRead = seq;
      await this.track(entry.conv.markAsRead(seq));
    }
  }

  /** Creates a conversation with users given by name (user@app.acc); one other user and no title → direct. */
  async create(title, userNames) {
    const found = userNames.length ? await this.track(this.messenger.getUsers(userNames)) : [];
    for (const e of found) this.users.set(e.user.userId, e.user);
    const participants = found.map((e) => ({ userId: e.user.userId, canWrite: true, canEdit: true, canRemove: true }));
    const direct = !title && participants.length === 1;
    const created = await this.track(this.messenger.createConversation(participants, title, direct));
    this.upsertConversation(created.conversation);
    return created.conversation.uuid;
  }

  send(uuid, text) {
    return this.track(this.conversations.get(uuid).conv.sendMessage(text));
  }

  typing(uuid) {
    return this.track(this.conversations.get(uuid)?.conv.typing());
  }

  edit(uuid, messageUuid, text) {
    const m = this.conversations.get(uuid).messages.get(messageUuid).message;
    m.text = text;
    return this.track(m.update());
  }

  remove(uuid, messageUuid) {
    return this.track(this.conversations.get(uuid).messages.get(messageUuid).message.remove());
  }
}
