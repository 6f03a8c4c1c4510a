// Drives the official Web SDK's Messenger in a page opened by SdkPage (lib/browser.js).
//
// In the page, every MessengerEvents value gets an on() listener that records a plain copy of
// the event in the SdkPage log as { kind: 'event', name: 'm:<EventName>', data }, and keeps the
// latest Conversation and Message object the SDK produced for each uuid, so that Conversation and
// Message methods are called on the SDK's own objects.
import assert from 'node:assert/strict';

/** The page-side code: installed once per page after login. */
function installInPage() {
  if (window.__m) return;
  const convs = new Map();
  const msgs = new Map();
  const isConv = (v) => v && typeof v === 'object' && '_participants' in v && '_uuid' in v;
  const isMsg = (v) => v && typeof v === 'object' && '_sender' in v && '_conversation' in v;
  const json = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  function plainConv(c) {
    return {
      uuid: c.uuid,
      title: c.title,
      direct: c.direct,
      publicJoin: c.publicJoin,
      uberConversation: c.uberConversation,
      customData: json(c.customData),
      participants: json(c.participants),
      createdAt: c.createdAt,
      lastUpdate: c.lastUpdate,
      lastSeq: c.lastSeq,
    };
  }
  function plainMsg(m) {
    return { uuid: m.uuid, conversation: m.conversation, text: m.text, payload: json(m.payload), sender: m.sender };
  }
  /** A JSON-safe copy that turns SDK objects into their public fields and remembers them. */
  function plain(v, depth = 0) {
    if (v === undefined || v === null || typeof v !== 'object') return v;
    if (depth > 8) return null;
    if (isConv(v)) {
      // Keep the newest object per uuid (retransmitted history must not replace it).
      const old = convs.get(v.uuid);
      if (v.uuid && !(old && old.lastSeq > v.lastSeq)) convs.set(v.uuid, v);
      return plainConv(v);
    }
    if (isMsg(v)) {
      if (v.uuid) msgs.set(v.uuid, v);
      return plainMsg(v);
    }
    if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1));
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'function') out[k] = plain(x, depth + 1);
    }
    return out;
  }
  const messenger = window.VoxImplant.getMessenger();
  for (const name of Object.values(window.VoxImplant.Messaging.MessengerEvents)) {
    messenger.on(name, (e) => window.__voxEvent(`m:${name}`, plain(e)));
  }
  window.__m = { convs, msgs, plain, messenger };
}

/**
 * Runs `fn(target, ...args)` in the page where target is the Messenger, a Conversation or a
 * Message, with a page-side timeout. Resolves with { settled, ok, value | error }.
 */
function callInPage({ kind, id, method, args, setup, timeout }) {
  const m = window.__m;
  let target;
  if (kind === 'messenger') target = m.messenger;
  else if (kind === 'conv') target = m.convs.get(id);
  else if (kind === 'msg') target = m.msgs.get(id);
  if (!target) return { settled: true, ok: false, error: { harness: `no ${kind} object ${id} in this page` } };
  if (setup) for (const [k, v] of Object.entries(setup)) target[k] = v;
  let timer;
  const expired = new Promise((r) => { timer = setTimeout(() => r({ settled: false }), timeout); });
  const run = Promise.resolve()
    .then(() => {
      const r = target[method](...args);
      // getConversations with > 30 uuids returns undefined instead of a promise.
      return r === undefined ? { __undefined: true } : r;
    })
    .then(
      (value) => ({ settled: true, ok: true, value: m.plain(value) }),
      (error) => ({
        settled: true,
        ok: false,
        error: error instanceof Error ? { message: error.message } : error === undefined ? { undefined: true } : m.plain(error),
      }),
    );
  return Promise.race([run, expired]).finally(() => clearTimeout(timer));
}

export const CALL_TIMEOUT = 6_000;

/** A logged-in SDK page with the Messenger installed. */
export class Chat {
  /** Opens a page, connects, logs in as `user` ('user1' …) and installs the Messenger hooks. */
  static async open(open, user, password = 'secret') {
    const page = await open();
    assert.equal(await page.expectResolve('connect'), true, 'connect() should resolve true');
    const auth = await page.expectResolve('login', [`${user}@app.acc.voximplant.com`, password]);
    assert.equal(auth.result, true, `${user} logged in`);
    await page.page.evaluate(installInPage);
    const chat = new Chat(page, user);
    chat.me = await page.page.evaluate(() => window.__m.messenger.getMe());
    return chat;
  }

  constructor(page, user) {
    this.page = page;
    this.user = user;
    this.id = undefined;
  }

  mark() {
    return this.page.mark();
  }

  async raw(kind, id, method, args = [], { setup, timeout = CALL_TIMEOUT } = {}) {
    return this.page.page.evaluate(callInPage, { kind, id, method, args, setup, timeout });
  }

  /** Calls and expects the promise to resolve; returns the resolved value (SDK objects made plain). */
  async ok(kind, id, method, args, opts) {
    const r = await this.raw(kind, id, method, args, opts);
    const what = `${this.user}: ${kind === 'messenger' ? 'Messenger' : kind === 'conv' ? 'Conversation' : 'Message'}.${method}(${short(args)})`;
    if (!r.settled) throw new Error(`${what} did not settle within ${opts?.timeout ?? CALL_TIMEOUT} ms\n${this.tail()}`);
    if (!r.ok) throw new Error(`${what} rejected with ${JSON.stringify(r.error)}\n${this.tail()}`);
    return r.value;
  }

  /** Calls and expects a rejection with `code` (a number or a list of acceptable numbers). */
  async fails(code, kind, id, method, args, opts) {
    const r = await this.raw(kind, id, method, args, opts);
    const what = `${this.user}: ${kind === 'messenger' ? 'Messenger' : kind === 'conv' ? 'Conversation' : 'Message'}.${method}(${short(args)})`;
    if (!r.settled) throw new Error(`${what} did not settle within ${opts?.timeout ?? CALL_TIMEOUT} ms (expected rejection ${code})\n${this.tail()}`);
    if (r.ok) throw new Error(`${what} resolved with ${short([r.value])} but should reject with code ${code}\n${this.tail()}`);
    const codes = Array.isArray(code) ? code : [code];
    if (!codes.includes(r.error?.code)) {
      throw new Error(`${what} rejected with ${JSON.stringify(r.error)}, expected code ${codes.join(' or ')}\n${this.tail()}`);
    }
    return r.error;
  }

  // Shorthands.
  m(method, ...args) { return this.ok('messenger', null, method, args); }
  conv(uuid, method, ...args) { return this.ok('conv', uuid, method, args); }
  msg(uuid, method, ...args) { return this.ok('msg', uuid, method, args); }

  /** Waits for a Messenger event `name` (e.g. 'SendMessage') matching `pred`, recorded after `since`. */
  async event(name, pred = () => true, { since = 0, timeout = CALL_TIMEOUT, what } = {}) {
    const e = await this.page.waitFor(
      (x) => x.kind === 'event' && x.name === `m:${name}` && pred(x.data),
      { since, timeout, what: `${this.user}: Messenger event ${name}${what ? ` (${what})` : ''}` },
    );
    return e.data;
  }

  /** Every recorded Messenger event `name` after `since`. */
  events(name, since = 0) {
    return this.page.log.slice(since).filter((x) => x.kind === 'event' && x.name === `m:${name}`).map((x) => x.data);
  }

  /** Messaging frames ({event, payload, request_uuid}) received or sent after `since`. */
  frames(dir, since = 0) {
    return this.page.log.slice(since).filter((e) => e.kind === dir && e.frame?.payload?.service).map((e) => e.frame.payload);
  }

  /**
   * Asserts that nothing this page received mentions `text` (e.g. a conversation uuid it must not
   * hear about). A request round trip first lets anything the server already sent arrive.
   */
  async assertNeverReceived(text, what) {
    await this.m('getSubscriptionList');
    const leaked = this.page.log.filter((e) => e.kind === 'recv' && e.raw.includes(text));
    assert.deepEqual(leaked.map((e) => e.raw.slice(0, 300)), [], `${this.user} must not receive ${what}`);
  }

  /** Builds a Conversation object from a cache record in the page (for calls on conversations the user cannot fetch). */
  async adoptConversation(uuid) {
    await this.page.page.evaluate((uuid) => {
      const c = window.__m.messenger.createConversationFromCache({ uuid, title: '', participants: [] });
      window.__m.convs.set(uuid, c);
    }, uuid);
  }

  /** Builds a Message object from a cache record in the page. */
  async adoptMessage(record) {
    await this.page.page.evaluate((r) => {
      window.__m.msgs.set(r.uuid, window.__m.messenger.createMessageFromCache(r));
    }, record);
  }

  /** Local state of the SDK's Conversation object for `uuid`. */
  localConv(uuid) {
    return this.page.page.evaluate((uuid) => {
      const c = window.__m.convs.get(uuid);
      return c ? window.__m.plain(c) : null;
    }, uuid);
  }

  tail(n = 14) {
    return `last wire/events of ${this.user}:\n${this.page.describeTail(n)}`;
  }
}

function short(args) {
  const s = JSON.stringify(args ?? []);
  return s.length > 120 ? `${s.slice(1, 118)}…` : s.slice(1, -1);
}

/** The participant entry for `userId` in a plain conversation. */
export function participant(conv, userId) {
  return conv?.participants?.find((p) => p.userId === userId);
}

/** Asserts the permission booleans of a participant (isOwner, canWrite, …). */
export function assertPerms(p, expected, what) {
  assert.ok(p, `${what}: participant missing`);
  for (const [k, v] of Object.entries(expected)) assert.equal(p[k], v, `${what}: ${k}`);
}
