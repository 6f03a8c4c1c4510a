// Conformance: the Messenger of the unmodified official Voximplant Web SDK 4.13.1-3005, in
// headless Chromium, against the real vox-messenger-server binary. Two or three logged-in pages
// (user1, user2, user3 of `serve --dev`) call every Messenger, Conversation and Message method and
// check what the application sees: resolved values, rejection codes, and the events each page gets
// from the other's actions. Every wait is for an event or a settled promise, with a timeout.
//
// Expected error codes where the protocol notes infer them (../shared/protocol/
// voximplant-docs-facts.md §3): non-participant → 19, missing permission or no access → 12,
// unknown conversation → 8, unknown user → 25, removed message → 11.
//
// Run: npm test   (env: VOX_SERVER_BIN, VOX_SERVER_LOG=1, VOX_BROWSER_LOG=1; see README.md)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, admin, repoRoot } from '../lib/server.js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, SdkPage } from '../lib/browser.js';
import { Chat, participant, assertPerms } from '../lib/messenger.js';
import { startProxy } from '../lib/proxy.js';

let server;
let browser;
const openPages = new Set();
const results = [];
const scenarios = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  for (const p of openPages) await p.close();
  if (browser) await browser.close();
  if (server) await server.stop();
  const passed = results.filter((r) => r.ok).length;
  const lines = scenarios.map((name) => {
    const r = results.find((x) => x.name === name);
    if (!r) return `  ----  ${name}  (not run: filtered out, or the set-up failed)`;
    return `  ${r.ok ? 'PASS' : 'FAIL'}  ${name}  (${r.ms} ms)${r.ok ? '' : `\n        ${r.reason}`}`;
  });
  console.log(
    `\nWeb SDK messaging conformance summary\n${lines.join('\n')}\n` +
      `messaging conformance: ${passed} passed, ${results.length - passed} failed, ${scenarios.length - results.length} not run`,
  );
});

/** IM user ids, learnt once through getMyId(). */
const ids = {};

/**
 * A scenario with helpers: login(user) opens a page logged in as that user (user1…user3) with the
 * Messenger installed, and learns the user's IM id through getMyId().
 */
function scenario(name, fn, { timeout = 90_000 } = {}) {
  scenarios.push(name);
  test(name, { timeout }, async () => {
    const started = Date.now();
    const pages = [];
    const open = async (opts = {}) => {
      const p = await SdkPage.open(browser, { pageOrigin: server.wss, serverIp: server.wss, ...opts });
      pages.push(p);
      openPages.add(p);
      return p;
    };
    const login = async (user) => {
      const chat = await Chat.open(open, user);
      const id = await chat.m('getMyId');
      assert.equal(typeof id, 'number', `${user}: getMyId() resolves a number`);
      assert.ok(id > 0, `${user}: getMyId() > 0`);
      if (ids[user] !== undefined) assert.equal(id, ids[user], `${user}: the IM id is stable`);
      ids[user] = id;
      chat.id = id;
      return chat;
    };
    try {
      await fn({ login, open });
      results.push({ name, ok: true, ms: Date.now() - started });
    } catch (err) {
      results.push({ name, ok: false, ms: Date.now() - started, reason: String(err.message).split('\n')[0] });
      if (err && typeof err.message === 'string' && !err.message.includes('last wire/events')) {
        pages.forEach((p, i) => {
          err.message += `\nwire and SDK events of page ${i + 1}:\n${p.describeTail(24)}`;
        });
      }
      throw err;
    } finally {
      for (const p of pages) {
        openPages.delete(p);
        await p.close();
      }
    }
  });
}

const now = () => Date.now();
function assertRecentMs(ts, what) {
  assert.equal(typeof ts, 'number', `${what}: timestamp should be a number (ms)`);
  assert.ok(Math.abs(ts - now()) < 120_000, `${what}: timestamp ${ts} should be milliseconds near now (${now()})`);
}

/** Creates a group conversation as `owner` with `others` (Chat objects) as default participants. */
async function group(owner, others, { title = 'group', perms = {}, publicJoin = false, uber = false, customData } = {}) {
  const since = others.map((o) => o.mark());
  const created = await owner.m(
    'createConversation',
    others.map((o) => ({ userId: o.id, ...(perms[o.user] ?? {}) })),
    title, false, publicJoin, uber, customData,
  );
  const uuid = created.conversation.uuid;
  // Each participant gets the conversation: it is also how their page learns the Conversation object.
  await Promise.all(others.map((o, i) => o.event('CreateConversation', (e) => e.conversation?.uuid === uuid, { since: since[i] })));
  return { uuid, created };
}

// ---------------------------------------------------------------------------------------------
// Users

scenario('users: getMe, getMyId, getUser, getUserById, getUsers, getUsersById, unknown user', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  await login('user3');
  assert.equal(a.me, 'user1@app.acc', 'getMe() is the login name cut to user@app.acc');
  assert.notEqual(a.id, b.id, 'users have different IM ids');

  const byName = await a.m('getUser', 'user2@app.acc');
  assert.equal(byName.user.userId, ids.user2, 'getUser(name).user.userId');
  assert.equal(byName.user.userName, 'user2@app.acc', 'getUser(name).user.userName');
  assert.equal(byName.user.displayName, 'User Two', 'getUser(name).user.displayName');
  assert.equal(byName.messengerAction, 'getUser', 'messengerAction');
  assert.equal(byName.initiator, ids.user1, 'initiator is the requesting user');

  const byId = await a.m('getUserById', ids.user2);
  assert.equal(byId.user.userName, 'user2@app.acc', 'getUserById().user.userName');
  assert.equal(byId.user.userId, ids.user2);

  const many = await a.m('getUsers', ['user2@app.acc', 'user3@app.acc', 'user1@app.acc']);
  assert.deepEqual(many.map((e) => e.user.userName), ['user2@app.acc', 'user3@app.acc', 'user1@app.acc']);
  assert.deepEqual(many.map((e) => e.user.userId), [ids.user2, ids.user3, ids.user1]);

  const manyById = await a.m('getUsersById', [ids.user3, ids.user2]);
  assert.deepEqual(manyById.map((e) => e.user.userName), ['user3@app.acc', 'user2@app.acc']);

  // Own user: the conversation list and notifications are visible to the user themself.
  const self = await a.m('getUser', 'user1@app.acc');
  assert.ok(Array.isArray(self.user.conversationsList), 'own user: conversationsList is an array');

  await a.fails(25, 'messenger', null, 'getUser', ['nobody@app.acc']);
  await a.fails(25, 'messenger', null, 'getUserById', [987654]);
  // More than 50 users in one request is refused by the server (21 or 22).
  const tooMany = Array.from({ length: 51 }, (_, i) => ids.user1 + i);
  await a.fails([21, 22], 'messenger', null, 'getUsersById', [tooMany]);
});

scenario('editUser: public custom data reaches subscribers, private custom data only its owner', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3'); // not subscribed to user2

  const sub = await a.m('subscribe', [b.id]);
  assert.deepEqual(sub.users, [b.id], 'subscribe resolves with the subscribed ids');
  assert.equal(sub.messengerAction, 'subscribe');

  const sinceA = a.mark();
  const color = `blue-${now()}`;
  const edited = await b.m('editUser', { color }, { secret: 42 });
  assert.equal(edited.messengerAction, 'editUser');
  assert.equal(edited.initiator, b.id);
  assert.deepEqual(edited.user.customData, { color }, 'own EditUser: customData');
  assert.deepEqual(edited.user.privateCustomData, { secret: 42 }, 'own EditUser: privateCustomData');
  assertRecentMs(edited.timestamp, 'EditUser');

  const seen = await a.event('EditUser', (e) => e.initiator === b.id, { since: sinceA, what: "user2's edit" });
  assert.deepEqual(seen.user.customData, { color }, "subscriber sees user2's customData");
  assert.ok(
    seen.user.privateCustomData === undefined || seen.user.privateCustomData === null ||
      Object.keys(seen.user.privateCustomData).length === 0,
    `subscriber must not see user2's private custom data, got ${JSON.stringify(seen.user.privateCustomData)}`,
  );

  await c.assertNeverReceived(color, "user2's EditUser (user3 is not subscribed)");

  const other = await a.m('getUserById', b.id);
  assert.deepEqual(other.user.customData, { color });
  assert.ok(
    other.user.privateCustomData === undefined || other.user.privateCustomData === null ||
      Object.keys(other.user.privateCustomData).length === 0,
    `getUserById must not return another user's private custom data, got ${JSON.stringify(other.user.privateCustomData)}`,
  );
  const own = await b.m('getUser', 'user2@app.acc');
  assert.deepEqual(own.user.privateCustomData, { secret: 42 }, 'the owner reads their private custom data');

  // An absent field is left unchanged, {} clears it.
  const cleared = await b.m('editUser', undefined, {});
  assert.deepEqual(cleared.user.customData, { color }, 'customData unchanged when absent');
  assert.ok(
    cleared.user.privateCustomData === undefined || Object.keys(cleared.user.privateCustomData).length === 0,
    `{} clears privateCustomData, got ${JSON.stringify(cleared.user.privateCustomData)}`,
  );

  await a.m('unsubscribe', [b.id]);
});

scenario('setStatus and subscriptions: a subscriber sees the status; list, unsubscribe, unsubscribe all', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3');
  await a.m('unsubscribe', [b.id], true); // start from an empty list

  const sub = await a.m('subscribe', [b.id, c.id]);
  assert.deepEqual([...sub.users].sort(), [b.id, c.id].sort(), 'subscribe resolves with the ids');
  let list = await a.m('getSubscriptionList');
  assert.deepEqual([...list.users].sort(), [b.id, c.id].sort(), 'getSubscriptionList after subscribe');

  let since = a.mark();
  const online = await b.m('setStatus', true);
  assert.equal(online.online, true, 'own SetStatus: online');
  assert.equal(online.initiator, b.id, 'own SetStatus: initiator');
  assert.equal(online.messengerAction, 'setStatus');
  const seenOnline = await a.event('SetStatus', (e) => e.initiator === b.id && e.online === true, { since, what: 'user2 online' });
  assertRecentMs(seenOnline.timestamp, 'SetStatus');

  since = a.mark();
  await b.m('setStatus', false);
  await a.event('SetStatus', (e) => e.initiator === b.id && e.online === false, { since, what: 'user2 offline' });

  const unsub = await a.m('unsubscribe', [c.id]);
  assert.deepEqual(unsub.users, [c.id], 'unsubscribe resolves with the removed ids');
  list = await a.m('getSubscriptionList');
  assert.deepEqual(list.users, [b.id], 'getSubscriptionList after unsubscribe');

  await a.m('unsubscribe', [b.id], true);
  list = await a.m('getSubscriptionList');
  assert.deepEqual(list.users, [], 'getSubscriptionList after unsubscribe(all)');
});

scenario('presence: when the last session of a subscribed user ends, the subscriber sees it offline', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  await a.m('subscribe', [b.id]);
  let since = a.mark();
  await b.m('setStatus', true);
  await a.event('SetStatus', (e) => e.initiator === b.id && e.online === true, { since });
  since = a.mark();
  await b.page.expectResolve('disconnect', [], { timeout: 10_000 });
  const off = await a.event('SetStatus', (e) => e.initiator === b.id, { since, what: 'user2 offline after its only session ended' });
  assert.equal(off.online, false);
  await a.m('unsubscribe', [b.id]);
});

scenario('manageNotification resolves with EditUser carrying the notification events', async ({ login }) => {
  const a = await login('user1');
  const r = await a.m('manageNotification', ['SendMessage', 'EditMessage']);
  assert.equal(r.messengerAction, 'manageNotification');
  assert.equal(r.user.userId, a.id);
  assert.deepEqual([...r.user.notificationEvents].sort(), ['EditMessage', 'SendMessage']);
  const r2 = await a.m('manageNotification', ['SendMessage']);
  assert.deepEqual(r2.user.notificationEvents, ['SendMessage']);
  const self = await a.m('getUser', 'user1@app.acc');
  assert.deepEqual(self.user.notificationEvents, ['SendMessage'], 'getUser shows the stored notification events');
});

// ---------------------------------------------------------------------------------------------
// Conversations

scenario('createConversation with participants, permissions, title and custom data: every participant gets it', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3');
  const sinceB = b.mark();
  const sinceC = c.mark();
  const created = await a.m(
    'createConversation',
    [{ userId: b.id, canWrite: true, canEdit: true, canRemove: true }, { userId: c.id, canManageParticipants: true }],
    'Team', false, false, false, { topic: 'conformance' },
  );
  const conv = created.conversation;
  assert.equal(created.messengerAction, 'createConversation');
  assert.equal(created.initiator, a.id);
  assert.equal(created.seq, 1, 'the creation is event 1 of the conversation');
  assertRecentMs(created.timestamp, 'CreateConversation');
  assert.equal(typeof conv.uuid, 'string');
  assert.ok(conv.uuid.length > 0);
  assert.equal(conv.title, 'Team');
  assert.equal(conv.direct, false);
  assert.equal(conv.publicJoin, false);
  assert.equal(conv.uberConversation, false);
  assert.deepEqual(conv.customData, { topic: 'conformance' });
  assert.equal(conv.lastSeq, 1);
  assert.equal(typeof conv.createdAt, 'number', 'createdAt');
  assert.equal(conv.participants.length, 3, 'creator plus two participants');
  assertPerms(participant(conv, a.id), { isOwner: true, canWrite: true, canEdit: true, canRemove: true, canManageParticipants: true, canEditAll: true, canRemoveAll: true }, 'creator');
  assertPerms(participant(conv, b.id), { isOwner: false, canWrite: true, canEdit: true, canRemove: true, canManageParticipants: false, canEditAll: false, canRemoveAll: false }, 'user2');
  assertPerms(participant(conv, c.id), { isOwner: false, canWrite: false, canManageParticipants: true }, 'user3');
  assert.equal(participant(conv, b.id).lastRead, 0, 'lastRead starts at 0');

  for (const [who, since] of [[b, sinceB], [c, sinceC]]) {
    const e = await who.event('CreateConversation', (x) => x.conversation?.uuid === conv.uuid, { since });
    assert.equal(e.initiator, a.id, `${who.user}: initiator`);
    assert.equal(e.seq, 1, `${who.user}: seq`);
    assert.equal(e.conversation.title, 'Team');
    assert.deepEqual(e.conversation.customData, { topic: 'conformance' });
    assert.equal(e.conversation.participants.length, 3);
  }

  // A conversation without participant permissions gets the SDK's default 7 (write, edit, remove own).
  const plain = await a.m('createConversation', [{ userId: b.id }]);
  assertPerms(participant(plain.conversation, b.id), { canWrite: true, canEdit: true, canRemove: true, isOwner: false }, 'default flags');
  assert.equal(plain.conversation.title, '');

  // Both show up in the users' conversation lists.
  const self = await b.m('getUser', 'user2@app.acc');
  assert.ok(self.user.conversationsList.includes(conv.uuid), 'conversationsList of a participant');
  assert.ok(self.user.conversationsList.includes(plain.conversation.uuid));
});

scenario('direct conversation: one per pair, never public or uber, no add/remove/join/leave', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3');
  const first = await a.m('createConversation', [{ userId: b.id }], '', true);
  assert.equal(first.conversation.direct, true);
  assert.equal(first.conversation.participants.length, 2);
  const again = await a.m('createConversation', [{ userId: b.id }], 'again', true);
  assert.equal(again.conversation.uuid, first.conversation.uuid, 'a second direct conversation with the same user returns the existing one');
  const fromB = await b.m('createConversation', [{ userId: a.id }], '', true);
  assert.equal(fromB.conversation.uuid, first.conversation.uuid, 'the same pair from the other side');

  await a.fails(34, 'messenger', null, 'createConversation', [[{ userId: c.id }], '', true, true]);
  await a.fails(34, 'messenger', null, 'createConversation', [[{ userId: c.id }], '', true, false, true]);
  await a.fails(35, 'messenger', null, 'createConversation', [[{ userId: b.id }, { userId: c.id }], '', true]);

  const uuid = first.conversation.uuid;
  await a.fails(37, 'conv', uuid, 'addParticipants', [[{ userId: c.id }]]);
  await a.fails(38, 'conv', uuid, 'removeParticipants', [[{ userId: b.id }]]);
  await c.fails(39, 'messenger', null, 'joinConversation', [uuid]);
  await a.fails(40, 'messenger', null, 'leaveConversation', [uuid]);
});

scenario('getConversation, getConversations, getPublicConversations and access rules', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3');
  const pub = await a.m('createConversation', [{ userId: b.id }], 'public room', false, true);
  const priv = await a.m('createConversation', [{ userId: b.id }], 'private room');
  const pubId = pub.conversation.uuid;
  const privId = priv.conversation.uuid;
  await a.conv(privId, 'sendMessage', 'one');

  const got = await b.m('getConversation', privId);
  assert.equal(got.conversation.uuid, privId);
  assert.equal(got.conversation.title, 'private room');
  assert.equal(got.seq, 2, 'getConversation carries the last event seq');
  assert.equal(got.conversation.lastSeq, 2, 'Conversation.lastSeq from getConversation');
  assert.equal(got.conversation.participants.length, 2);

  const both = await b.m('getConversations', [pubId, privId]);
  assert.deepEqual(both.map((e) => e.conversation.uuid), [pubId, privId]);
  assert.equal(both[0].conversation.publicJoin, true);

  await b.fails(8, 'messenger', null, 'getConversations', [[pubId, '00000000-0000-4000-8000-000000000001']]);
  await c.fails(12, 'messenger', null, 'getConversation', [privId]);
  const visible = await c.m('getConversation', pubId);
  assert.equal(visible.conversation.uuid, pubId, 'a public conversation is readable by a non-participant');
  await a.fails(8, 'messenger', null, 'getConversation', ['00000000-0000-4000-8000-000000000000']);

  const list = await c.m('getPublicConversations');
  assert.equal(list.messengerAction, 'getPublicConversations');
  assert.ok(Array.isArray(list.conversations), 'conversations is an array of uuids');
  assert.ok(list.conversations.includes(pubId), 'the public conversation is listed');
  assert.ok(!list.conversations.includes(privId), 'a private conversation is not listed');
});

scenario('joinConversation and leaveConversation: the other participant sees both', async ({ login }) => {
  const a = await login('user1');
  const c = await login('user3');
  const pub = await a.m('createConversation', [{ userId: (await login('user2')).id }], 'open', false, true);
  const uuid = pub.conversation.uuid;

  let since = a.mark();
  const joined = await c.m('joinConversation', uuid);
  assert.equal(joined.messengerAction, 'joinConversation');
  assert.equal(joined.conversation.uuid, uuid);
  assert.ok(participant(joined.conversation, c.id), 'the joiner is a participant');
  assert.equal(joined.seq, 2, 'join is event 2');
  const seenJoin = await a.event('EditConversation', (e) => e.conversation?.uuid === uuid && e.messengerAction === 'joinConversation', { since });
  assert.equal(seenJoin.initiator, c.id);
  assert.ok(participant(seenJoin.conversation, c.id));

  await c.fails(13, 'messenger', null, 'joinConversation', [uuid]);
  let self = await c.m('getUser', 'user3@app.acc');
  assert.ok(self.user.conversationsList.includes(uuid), 'joined conversation in conversationsList');

  since = a.mark();
  const left = await c.m('leaveConversation', uuid);
  assert.equal(left.messengerAction, 'leaveConversation');
  assert.ok(!participant(left.conversation, c.id), 'the leaver is no longer a participant');
  const seenLeave = await a.event('EditConversation', (e) => e.conversation?.uuid === uuid && e.messengerAction === 'leaveConversation', { since });
  assert.equal(seenLeave.initiator, c.id);
  assert.equal(seenLeave.seq, 3);
  self = await c.m('getUser', 'user3@app.acc');
  assert.ok(!self.user.conversationsList.includes(uuid), 'left conversation not in conversationsList');

  await c.fails(19, 'messenger', null, 'leaveConversation', [uuid]);
  const closed = await a.m('createConversation', [{ userId: ids.user2 }], 'closed');
  await c.fails(15, 'messenger', null, 'joinConversation', [closed.conversation.uuid]);
});

scenario('conversation edits: setTitle, setCustomData, setPublicJoin, update reach the participant; a non-owner is refused', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const { uuid } = await group(a, [b], { title: 'before' });

  const steps = [
    ['setTitle', ['after'], (cv) => assert.equal(cv.title, 'after')],
    ['setCustomData', [{ color: 'red', n: 1 }], (cv) => assert.deepEqual(cv.customData, { color: 'red', n: 1 })],
    ['setPublicJoin', [true], (cv) => assert.equal(cv.publicJoin, true)],
  ];
  let seq = 1;
  for (const [method, args, check] of steps) {
    const since = b.mark();
    const r = await a.conv(uuid, method, ...args);
    seq += 1;
    assert.equal(r.messengerAction, 'editConversation', `${method}: messengerAction`);
    assert.equal(r.seq, seq, `${method}: seq`);
    check(r.conversation);
    const seen = await b.event('EditConversation', (e) => e.conversation?.uuid === uuid && e.seq === seq, { since, what: method });
    assert.equal(seen.initiator, a.id);
    check(seen.conversation);
  }
  // The edit replaces every editable field at once: title, public join and custom data persist.
  const since = b.mark();
  const r = await a.ok('conv', uuid, 'update', [], { setup: { title: 'updated' } });
  assert.equal(r.conversation.title, 'updated');
  assert.deepEqual(r.conversation.customData, { color: 'red', n: 1 });
  assert.equal(r.conversation.publicJoin, true);
  await b.event('EditConversation', (e) => e.conversation?.title === 'updated', { since });

  // user2 is not an owner: the edit is refused and the SDK restores the local title.
  await b.fails(12, 'conv', uuid, 'setTitle', ['hijacked']);
  assert.equal((await b.localConv(uuid)).title, 'updated', 'the SDK reverted the refused title');
  const fresh = await b.m('getConversation', uuid);
  assert.equal(fresh.conversation.title, 'updated', 'the refused edit left no trace');
  assert.equal(fresh.seq, seq + 1, 'a refused edit consumes no seq');

  // Titles are limited (50 characters in Voximplant's IM API); refused by the server, not a timeout.
  const longTitle = await a.raw('conv', uuid, 'setTitle', ['t'.repeat(51)]);
  assert.ok(longTitle.settled && !longTitle.ok && typeof longTitle.error?.code === 'number' && longTitle.error.code !== 10002,
    `a 51-character title must be refused by the server, got ${JSON.stringify(longTitle).slice(0, 200)}`);
  // Conversation custom data is limited to 5 KB.
  const big = { blob: 'x'.repeat(6 * 1024) };
  const refused = await a.raw('conv', uuid, 'setCustomData', [big]);
  assert.ok(refused.settled && !refused.ok, `6 KB custom data must be refused, got ${JSON.stringify(refused).slice(0, 200)}`);
  assert.equal(typeof refused.error?.code, 'number', 'refused with a messenger error code');
  assert.notEqual(refused.error.code, 10002, 'refused by the server, not a timeout');
});

scenario('participants: add, edit, remove; added and removed users get the event; permissions enforced', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3');
  const { uuid } = await group(a, [b]);

  let sinceB = b.mark();
  let sinceC = c.mark();
  const added = await a.conv(uuid, 'addParticipants', [{ userId: c.id, canWrite: true }]);
  assert.equal(added.messengerAction, 'addParticipants');
  assert.equal(added.seq, 2);
  assertPerms(participant(added.conversation, c.id), { canWrite: true, canEdit: false, isOwner: false }, 'added user3');
  await b.event('EditConversation', (e) => e.conversation?.uuid === uuid && e.messengerAction === 'addParticipants', { since: sinceB });
  const toC = await c.event('EditConversation', (e) => e.conversation?.uuid === uuid && e.messengerAction === 'addParticipants', { since: sinceC, what: 'the added user is told' });
  assert.ok(participant(toC.conversation, c.id));

  await a.fails(13, 'conv', uuid, 'addParticipants', [[{ userId: c.id }]]);
  // user2 has no canManageParticipants. (user4 exists but is in no conversation.)
  const made = await admin(server, 'POST', '/v1/users', { user: 'user4@app.acc', password: 'secret', display_name: 'User Four' });
  assert.ok([201, 409].includes(made.status), `admin API created user4: ${JSON.stringify(made)}`);
  const user4 = (await a.m('getUser', 'user4@app.acc')).user.userId;
  await b.fails(12, 'conv', uuid, 'addParticipants', [[{ userId: user4 }]]);
  await b.fails(12, 'conv', uuid, 'removeParticipants', [[{ userId: c.id }]]);

  sinceB = b.mark();
  const edited = await a.conv(uuid, 'editParticipants', [{ userId: b.id, canWrite: true, canEdit: true, canRemove: true, canManageParticipants: true }]);
  assert.equal(edited.messengerAction, 'editParticipants');
  assert.equal(edited.seq, 3);
  assert.equal(edited.conversation.participants.length, 3, 'editParticipants neither adds nor removes');
  const seenEdit = await b.event('EditConversation', (e) => e.messengerAction === 'editParticipants' && e.conversation?.uuid === uuid, { since: sinceB });
  assertPerms(participant(seenEdit.conversation, b.id), { canManageParticipants: true, canWrite: true, isOwner: false }, 'user2 after edit');

  // Now user2 may manage participants: user2 removes user3, who is told.
  sinceC = c.mark();
  const sinceA = a.mark();
  const removed = await b.conv(uuid, 'removeParticipants', [{ userId: c.id }]);
  assert.equal(removed.messengerAction, 'removeParticipants');
  assert.equal(removed.seq, 4);
  assert.ok(!participant(removed.conversation, c.id), 'user3 removed');
  await a.event('EditConversation', (e) => e.messengerAction === 'removeParticipants' && e.initiator === b.id, { since: sinceA });
  const toRemoved = await c.event('EditConversation', (e) => e.messengerAction === 'removeParticipants' && e.conversation?.uuid === uuid, { since: sinceC, what: 'the removed user is told' });
  assert.ok(!participant(toRemoved.conversation, c.id));

  await a.fails(19, 'conv', uuid, 'removeParticipants', [[{ userId: c.id }]]);
  // A removed user can no longer write (which code: see the 'non-participant' scenario).
  await c.fails([12, 19], 'conv', uuid, 'sendMessage', ['still here?']);
});

scenario('ownership: an owner grants ownership with editParticipants; only owners grant it', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3');
  const { uuid } = await group(a, [b, c], { perms: { user3: { canWrite: true, canManageParticipants: true } } });
  // user3 may manage participants but is no owner: it cannot make anyone an owner.
  await c.fails(12, 'conv', uuid, 'editParticipants', [[{ userId: b.id, isOwner: true, canManageParticipants: true }]]);
  await c.fails(12, 'conv', uuid, 'setTitle', ['not an owner']);

  const sinceB = b.mark();
  const granted = await a.conv(uuid, 'editParticipants', [{ userId: b.id, isOwner: true, canWrite: true, canManageParticipants: true }]);
  assertPerms(participant(granted.conversation, b.id), { isOwner: true, canManageParticipants: true, canWrite: true, canEdit: false }, 'user2 as owner');
  await b.event('EditConversation', (e) => e.conversation?.uuid === uuid && participant(e.conversation, b.id)?.isOwner === true, { since: sinceB });
  const renamed = await b.conv(uuid, 'setTitle', 'renamed by the new owner');
  assert.equal(renamed.conversation.title, 'renamed by the new owner');
  assert.equal(renamed.initiator, b.id);
});

// ---------------------------------------------------------------------------------------------
// Messages

scenario('messages: send, edit, remove; the other participant and the sender\'s second session see each', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const a2 = await login('user1'); // a second session of user1
  const outsider = await login('user3');
  const { uuid } = await group(a, [b]);

  let sinceB = b.mark();
  let sinceA2 = a2.mark();
  const sent = await a.conv(uuid, 'sendMessage', 'hello', [{ kind: 'greeting', n: 1 }]);
  assert.equal(sent.messengerAction, 'sendMessage');
  assert.equal(sent.initiator, a.id);
  assert.equal(sent.seq, 2);
  assertRecentMs(sent.timestamp, 'SendMessage');
  const m = sent.message;
  assert.equal(typeof m.uuid, 'string');
  assert.ok(m.uuid.length > 0, 'the server assigns a message uuid');
  assert.equal(m.conversation, uuid);
  assert.equal(m.text, 'hello');
  assert.deepEqual(m.payload, [{ kind: 'greeting', n: 1 }]);
  assert.equal(m.sender, a.id);
  for (const [who, since] of [[b, sinceB], [a2, sinceA2]]) {
    const e = await who.event('SendMessage', (x) => x.message?.uuid === m.uuid, { since });
    assert.equal(e.message.text, 'hello', `${who.user}: text`);
    assert.deepEqual(e.message.payload, [{ kind: 'greeting', n: 1 }]);
    assert.equal(e.message.sender, a.id);
    assert.equal(e.seq, 2);
  }

  // The reply, and a payload-only message.
  const sinceA = a.mark();
  const reply = await b.conv(uuid, 'sendMessage', 'hi!');
  assert.equal(reply.seq, 3);
  assert.deepEqual(reply.message.payload, []);
  await a.event('SendMessage', (x) => x.message?.uuid === reply.message.uuid && x.message.sender === b.id, { since: sinceA });
  const onlyPayload = await b.conv(uuid, 'sendMessage', '', [{ sticker: 7 }]);
  assert.equal(onlyPayload.seq, 4);
  assert.deepEqual(onlyPayload.message.payload, [{ sticker: 7 }]);

  sinceB = b.mark();
  const edited = await a.ok('msg', m.uuid, 'update', [], { setup: { text: 'hello (edited)', payload: [{ kind: 'greeting', n: 2 }] } });
  assert.equal(edited.messengerAction, 'editMessage');
  assert.equal(edited.seq, 5);
  assert.equal(edited.message.uuid, m.uuid);
  assert.equal(edited.message.text, 'hello (edited)');
  assert.deepEqual(edited.message.payload, [{ kind: 'greeting', n: 2 }]);
  const seenEdit = await b.event('EditMessage', (x) => x.message?.uuid === m.uuid, { since: sinceB });
  assert.equal(seenEdit.message.text, 'hello (edited)');
  assert.equal(seenEdit.initiator, a.id);
  assert.equal(seenEdit.seq, 5);

  sinceB = b.mark();
  sinceA2 = a2.mark();
  const removed = await a.msg(m.uuid, 'remove');
  assert.equal(removed.messengerAction, 'removeMessage');
  assert.equal(removed.seq, 6);
  assert.equal(removed.message.uuid, m.uuid);
  assert.equal(removed.message.conversation, uuid);
  await b.event('RemoveMessage', (x) => x.message?.uuid === m.uuid && x.seq === 6, { since: sinceB });
  await a2.event('RemoveMessage', (x) => x.message?.uuid === m.uuid, { since: sinceA2 });

  await a.fails(11, 'msg', m.uuid, 'remove', []);
  await a.fails(11, 'msg', m.uuid, 'update', [], { setup: { text: 'zombie' } });
  await a.fails(23, 'conv', uuid, 'sendMessage', ['x'.repeat(5001)]);
  const ok5000 = await a.conv(uuid, 'sendMessage', 'y'.repeat(5000));
  assert.equal(ok5000.message.text.length, 5000, '5000 characters are allowed');
  const conv = await b.m('getConversation', uuid);
  assert.equal(conv.seq, 7, 'refused requests consumed no seq');
  await b.conv(uuid, 'typing');
  await b.conv(uuid, 'markAsRead', 7);
  await a.event('Read', (e) => e.conversation === uuid && e.initiator === b.id);
  await outsider.assertNeverReceived(uuid, 'events of a conversation it is not in');
});

scenario('message permissions: write, edit/remove own vs all, non-participant', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3');
  // user2: write, edit and remove own messages; user3: may only edit (no write).
  const { uuid } = await group(a, [b, c], {
    perms: { user2: { canWrite: true, canEdit: true, canRemove: true }, user3: { canEdit: true } },
  });
  const fromA = await a.conv(uuid, 'sendMessage', 'owner speaks');
  await b.event('SendMessage', (x) => x.message?.uuid === fromA.message.uuid);
  const fromB = await b.conv(uuid, 'sendMessage', 'member speaks');

  await c.fails(12, 'conv', uuid, 'sendMessage', ['no write permission']);
  await b.fails(12, 'msg', fromA.message.uuid, 'update', [], { setup: { text: 'not mine' } });
  await b.fails(12, 'msg', fromA.message.uuid, 'remove', []);

  // The creator has canEditAll / canRemoveAll.
  const sinceB = b.mark();
  const byOwner = await a.ok('msg', fromB.message.uuid, 'update', [], { setup: { text: 'moderated' } });
  assert.equal(byOwner.message.text, 'moderated');
  assert.equal(byOwner.initiator, a.id, 'the editor is the initiator');
  await b.event('EditMessage', (x) => x.message?.uuid === fromB.message.uuid && x.message.text === 'moderated', { since: sinceB });
  const ownEdit = await b.ok('msg', fromB.message.uuid, 'update', [], { setup: { text: 'mine again' } });
  assert.equal(ownEdit.message.text, 'mine again');
  await b.msg(fromB.message.uuid, 'remove');

  // A user who never was a participant: no access at all.
  const { uuid: closed } = await group(a, [b], { title: 'a and b only' });
  await c.adoptConversation(closed);
  await c.fails([12, 19], 'conv', closed, 'sendMessage', ['let me in']); // the code: next scenario
  await c.fails([12, 19], 'conv', closed, 'typing', []);
  await c.fails([12, 19], 'conv', closed, 'markAsRead', [1]);
  // user3 is a participant of the first conversation without canRemove/canRemoveAll.
  await c.fails(12, 'msg', fromA.message.uuid, 'remove', []);
});

// The notes infer 19 ("User is not in the participants list") for a write by a user who is not a
// participant, and keep 12 for reads without access (voximplant-docs-facts.md §3, I-109).
scenario('non-participant: sendMessage by a removed user and by an outsider is refused with 19', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const c = await login('user3');
  const { uuid } = await group(a, [b, c]);
  await a.conv(uuid, 'removeParticipants', [{ userId: c.id }]);
  await c.fails(19, 'conv', uuid, 'sendMessage', ['removed, still writing']);
  const { uuid: closed } = await group(a, [b], { title: 'a and b only' });
  await c.adoptConversation(closed);
  await c.fails(19, 'conv', closed, 'sendMessage', ['never invited']);
});

scenario('typing and read marks reach the other participant', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const { uuid } = await group(a, [b]);
  const sent = await a.conv(uuid, 'sendMessage', 'read me');
  await b.event('SendMessage', (x) => x.message?.uuid === sent.message.uuid);

  let sinceA = a.mark();
  const typing = await b.conv(uuid, 'typing');
  assert.equal(typing.conversation, uuid);
  assert.equal(typing.initiator, b.id);
  assert.equal(typing.messengerAction, 'typingMessage');
  const seenTyping = await a.event('Typing', (e) => e.conversation === uuid && e.initiator === b.id, { since: sinceA });
  assert.equal(seenTyping.messengerAction, 'typingMessage');
  // Within 10 s the SDK answers false itself and sends nothing.
  const before = b.frames('sent').length;
  assert.equal(await b.conv(uuid, 'typing'), false, 'a second typing() within 10 s resolves false');
  assert.equal(b.frames('sent').length, before, 'and sends no frame');

  sinceA = a.mark();
  const read = await b.conv(uuid, 'markAsRead', sent.seq);
  assert.equal(read.conversation, uuid);
  assert.equal(read.seq, sent.seq);
  assert.equal(read.initiator, b.id);
  assert.equal(read.messengerAction, 'isRead');
  const seenRead = await a.event('Read', (e) => e.conversation === uuid && e.initiator === b.id, { since: sinceA });
  assert.equal(seenRead.seq, sent.seq);

  const conv = await a.m('getConversation', uuid);
  assert.equal(participant(conv.conversation, b.id).lastRead, sent.seq, "user2's lastRead");
  assert.equal(conv.seq, sent.seq, 'typing and isRead consume no seq');
  await b.fails(24, 'conv', uuid, 'markAsRead', [sent.seq + 10]);
});

scenario('retransmitEvents: from/to, from+count, to+count, empty range, limits', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const { uuid } = await group(a, [b], { title: 'history' });
  const m2 = await a.conv(uuid, 'sendMessage', 'm2');
  await b.conv(uuid, 'sendMessage', 'm3');
  await a.conv(uuid, 'sendMessage', 'm4');
  await a.ok('msg', m2.message.uuid, 'update', [], { setup: { text: 'm2 edited' } }); // seq 5
  await a.conv(uuid, 'setTitle', 'history 2'); // seq 6
  await b.event('EditConversation', (e) => e.conversation?.uuid === uuid && e.seq === 6);

  const seqOf = (r) => r.events.map((e) => e.seq);
  const all = await b.conv(uuid, 'retransmitEvents', 1, 6);
  assert.equal(all.messengerAction, 'retransmitEvents');
  assert.deepEqual(seqOf(all), [1, 2, 3, 4, 5, 6], 'retransmitEvents(1, 6)');
  assert.equal(all.events[0].messengerAction, 'createConversation');
  assert.equal(all.events[0].conversation.uuid, uuid, 'event 1 is the conversation');
  assert.equal(all.events[1].message.text, 'm2', 'event 2 as it was sent');
  assert.equal(all.events[1].message.sender, a.id);
  assert.equal(all.events[2].message.sender, b.id);
  assert.equal(all.events[4].messengerAction, 'editMessage');
  assert.equal(all.events[4].message.text, 'm2 edited');
  assert.equal(all.events[5].messengerAction, 'editConversation');
  assert.equal(all.events[5].conversation.title, 'history 2');

  assert.deepEqual(seqOf(await b.conv(uuid, 'retransmitEventsFrom', 2, 3)), [2, 3, 4], 'retransmitEventsFrom(2, 3)');
  assert.deepEqual(seqOf(await b.conv(uuid, 'retransmitEventsTo', 6, 2)), [5, 6], 'retransmitEventsTo(6, 2)');
  assert.deepEqual(seqOf(await b.conv(uuid, 'retransmitEventsFrom', 5, 10)), [5, 6], 'fewer than count available');
  assert.deepEqual(seqOf(await b.conv(uuid, 'retransmitEventsFrom', 7, 10)), [], 'nothing after the last seq');
  // Client-side check of the SDK: from > to rejects locally with 28.
  await b.fails(28, 'conv', uuid, 'retransmitEvents', [5, 2]);
  // More than 100 events per call is refused by the server.
  await b.fails([21, 22], 'conv', uuid, 'retransmitEventsFrom', [1, 101]);
  await b.fails([21, 22], 'conv', uuid, 'retransmitEvents', [1, 101]);
});

scenario('uber conversation: a user who left does not get what was posted after', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const created = await a.m('createConversation', [{ userId: b.id }], 'uber', false, true, true);
  assert.equal(created.conversation.uberConversation, true);
  const uuid = created.conversation.uuid;
  await b.event('CreateConversation', (e) => e.conversation?.uuid === uuid);
  await a.conv(uuid, 'sendMessage', 'before leaving'); // seq 2
  await b.m('leaveConversation', uuid); // seq 3
  await a.conv(uuid, 'sendMessage', 'after leaving'); // seq 4
  const history = await b.conv(uuid, 'retransmitEvents', 1, 4);
  const texts = history.events.filter((e) => e.message).map((e) => e.message.text);
  assert.ok(texts.includes('before leaving'), `history before leaving is kept: ${JSON.stringify(texts)}`);
  assert.ok(!texts.includes('after leaving'), `posts after leaving are hidden: ${JSON.stringify(texts)}`);
});

scenario('removeConversation through the admin API: participants get RemoveConversation, then 16', async ({ login }) => {
  const a = await login('user1');
  const b = await login('user2');
  const { uuid } = await group(a, [b], { title: 'doomed' });
  await a.conv(uuid, 'sendMessage', 'last words');
  const sinceA = a.mark();
  const sinceB = b.mark();
  const res = await admin(server, 'DELETE', `/v1/conversations/${uuid}`);
  assert.equal(res.status, 204, `DELETE /v1/conversations/{uuid}: ${JSON.stringify(res)}`);
  for (const [who, since] of [[a, sinceA], [b, sinceB]]) {
    const e = await who.event('RemoveConversation', (x) => x.uuid === uuid, { since, what: 'the removal' });
    assert.equal(e.messengerAction, 'removeConversation', `${who.user}: messengerAction`);
  }
  await b.fails(16, 'messenger', null, 'getConversation', [uuid]);
  await a.fails(16, 'conv', uuid, 'sendMessage', ['anyone?']);
  const self = await b.m('getUser', 'user2@app.acc');
  assert.ok(!self.user.conversationsList.includes(uuid), 'a removed conversation leaves conversationsList');
  const again = await admin(server, 'DELETE', `/v1/conversations/${uuid}`);
  assert.equal(again.status, 410, 'removing twice');
});

scenario('transport drop: an event lost in flight reaches the participant after the SDK resumes, once', async ({ login, open }) => {
  const proxy = await startProxy(server.wss);
  try {
    const a = await login('user1');
    const b = await Chat.open(() => open({ serverIp: proxy.address }), 'user2');
    b.id = await b.m('getMyId');
    const { uuid } = await group(a, [b]);

    const since = b.mark();
    const swallowed = proxy.swallowServerBytes({ minBytes: 100 });
    const sent = await a.conv(uuid, 'sendMessage', 'while your network was down');
    await swallowed; // user2's copy left the server but never reached the SDK
    proxy.dropAll();
    await b.page.waitForEvent('Reconnected', { since, timeout: 15_000 });
    const got = await b.event('SendMessage', (e) => e.message?.uuid === sent.message.uuid, { since, timeout: 10_000, what: 'the lost event, resent after the resume' });
    assert.equal(got.seq, sent.seq);
    assert.equal(got.message.text, 'while your network was down');

    // The resumed session works both ways, and the lost event was delivered exactly once.
    const sinceA = a.mark();
    const reply = await b.conv(uuid, 'sendMessage', 'back online');
    await a.event('SendMessage', (e) => e.message?.uuid === reply.message.uuid, { since: sinceA });
    assert.equal(b.events('SendMessage', since).filter((e) => e.message?.uuid === sent.message.uuid).length, 1, 'delivered once');
  } finally {
    await proxy.close();
  }
});

scenario('rate limits: requests beyond the per-second and per-minute limits are refused with 32 and 33, the session lives on', async ({ open }) => {
  /** Runs `body(chat)` with user1 logged in to a server of its own started with `env`. */
  const limited = async (env, body) => {
    const srv = await startServer({ env });
    try {
      const a = await Chat.open(() => open({ pageOrigin: srv.wss, serverIp: srv.wss }), 'user1');
      const user2 = (await a.m('getUser', 'user2@app.acc')).user.userId;
      const { conversation } = await a.m('createConversation', [{ userId: user2 }], 'limited');
      await body(a, conversation.uuid);
      assert.equal(await a.page.state(), 'LOGGED_IN', 'the session survives refused requests');
    } finally {
      await srv.stop();
    }
  };

  await limited({ VOX_MSG_RATE_PER_SECOND: '2', VOX_MSG_RATE_PER_MINUTE: '0' }, async (a, uuid) => {
    // The SDK sends one request per 220 ms: six at once span about 1.1 s.
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => a.raw('conv', uuid, 'sendMessage', [`burst ${i}`])));
    assert.ok(burst.every((r) => r.settled), `every request of the burst settles: ${JSON.stringify(burst)}`);
    const refused = burst.filter((r) => !r.ok);
    assert.ok(refused.length >= 1, 'more than 2 requests per second: some are refused');
    for (const r of refused) assert.equal(r.error?.code, 32, `refused with 32: ${JSON.stringify(r.error)}`);
    // Once the second is over, requests pass again (retry until accepted, bounded).
    let later;
    for (const deadline = Date.now() + 5_000; Date.now() < deadline;) {
      later = await a.raw('conv', uuid, 'sendMessage', ['after the burst']);
      if (later.ok || later.error?.code !== 32) break;
    }
    assert.equal(later?.ok, true, `a request after the burst is accepted: ${JSON.stringify(later)}`);
    const seqs = [...burst.filter((r) => r.ok).map((r) => r.value.seq), later.value.seq];
    assert.deepEqual(seqs, seqs.map((_, i) => 2 + i), `refused requests consumed no seq: ${seqs}`);
  });

  await limited({ VOX_MSG_RATE_PER_SECOND: '0', VOX_MSG_RATE_PER_MINUTE: '4' }, async (a, uuid) => {
    // getUser and createConversation were requests 1 and 2.
    await a.conv(uuid, 'sendMessage', 'three');
    await a.conv(uuid, 'sendMessage', 'four');
    await a.fails(33, 'conv', uuid, 'sendMessage', ['five']);
  });
});

// ---------------------------------------------------------------------------------------------
// The demo page

/**
 * Opens the demo page (web/, the real UI on the official Web SDK) in a new browser context, logs
 * in as `user` through the form and waits for the chat card. Script errors are collected in
 * `page.errors`.
 */
async function openDemoPage(contexts, user) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  contexts.push(context);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  const res = await page.goto(`https://${server.wss}/`);
  assert.equal(res?.status(), 200, 'GET / serves the demo page');
  await page.fill('#username', `${user}@app.acc.voximplant.com`);
  await page.fill('#password', 'secret');
  await page.click('#login');
  await page.waitForSelector('#state[data-state="LOGGED_IN"]', { timeout: 8_000 });
  await page.waitForSelector('#chat-card:not([hidden])', { timeout: 8_000 });
  return page;
}

scenario('the demo page: two users chat through the UI (create, send, typing, read mark, edit, remove)', async () => {
  const contexts = [];
  try {
    const openDemo = (user) => openDemoPage(contexts, user);
    const visible = { timeout: 8_000 };
    const one = await openDemo('user1');
    const two = await openDemo('user2');
    const title = `Demo ${Date.now()}`;

    await one.fill('#new-users', 'user2@app.acc');
    await one.fill('#new-title', title);
    await one.click('#create');
    await one.locator('#chat-title', { hasText: title }).waitFor(visible);
    assert.equal(await one.textContent('#chat-error'), '', 'no error after creating');

    // user2's list shows the new conversation live.
    await two.locator('#conversations button', { hasText: title }).click(visible);
    await two.locator('#chat-title', { hasText: title }).waitFor(visible);

    // Typing: user2 sees it while user1 writes.
    await one.fill('#message-input', 'hello from one');
    await two.locator('#typing', { hasText: 'User One is typing' }).waitFor(visible);
    await one.click('#send');
    const received = two.locator('#messages li', { hasText: 'hello from one' });
    await received.waitFor(visible);
    assert.equal(await received.locator('.who').textContent(), 'User One');
    await one.locator('#messages li.mine', { hasText: 'hello from one' }).waitFor(visible);
    // user2 has the conversation open, so it marks the message read; user1 sees the mark.
    await one.locator('#messages li.mine .read', { hasText: 'read' }).waitFor(visible);

    // Edit and remove through the UI.
    await one.locator('#messages li.mine', { hasText: 'hello from one' }).locator('button.edit').click();
    await one.fill('#message-input', 'hello, edited');
    await one.click('#send');
    await two.locator('#messages li', { hasText: 'hello, edited' }).waitFor(visible);
    assert.equal(await two.locator('#messages li', { hasText: 'hello from one' }).count(), 0, 'the old text is gone');

    await two.fill('#message-input', 'reply from two');
    await two.click('#send');
    await one.locator('#messages li.theirs', { hasText: 'reply from two' }).waitFor(visible);

    await one.locator('#messages li.mine', { hasText: 'hello, edited' }).locator('button.remove').click();
    await two.locator('#messages li', { hasText: 'hello, edited' }).waitFor({ state: 'detached', timeout: 8_000 });
    assert.equal(await two.locator('#messages li').count(), 1, 'only the reply is left');

    // A fresh page of user1 loads the conversation and its history.
    const again = await openDemo('user1');
    await again.locator('#conversations button', { hasText: title }).click(visible);
    await again.locator('#messages li', { hasText: 'reply from two' }).waitFor(visible);
    assert.equal(await again.locator('#messages li', { hasText: 'hello, edited' }).count(), 0, 'removed message not in history');

    for (const p of [one, two, again]) assert.deepEqual(p.errors, [], 'no script errors on the demo page');
    for (const p of [one, two, again]) assert.equal(await p.textContent('#chat-error'), '', 'no failed SDK call in the demo');
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
  }
});

// Interop: the official Web SDK (a page, user1) and native programs on the C++ wrapper
// (bindings/cpp/examples/chat.cpp, user2) and on the Kotlin wrapper
// (bindings/kotlin/examples/KotlinChat.kt, user3) chat through the server. The C++ program is
// built by bindings/cpp/run-tests.sh and the Kotlin one compiled by bindings/kotlin/run-tests.sh
// (scripts/test.sh runs both first); VOX_CPP_CHAT overrides the C++ program's path.
const cargoTarget = () => (process.env.CARGO_TARGET_DIR
  ? path.resolve(repoRoot, process.env.CARGO_TARGET_DIR)
  : path.join(repoRoot, 'target'));

/**
 * Starts a native chat program (`cmd args…`) that opens a conversation titled `title` with user1
 * and prints `openText` when ready; the page of user1 and the program then exchange one message
 * each way.
 */
async function chatWithNative(login, { cmd, args, title, openText, timeout = 15_000 }) {
  assert.ok(existsSync(cmd), `the native chat program ${cmd} is built`);
  assert.ok(server.ws, 'the server has a plain ws:// listener for native clients');
  const a = await login('user1');
  const since = a.mark();
  const { child, printed } = startNative(cmd, args);
  try {
    await printed(openText, timeout);
    const created = await a.event('CreateConversation', (e) => e.conversation?.title === title, { since });
    const uuid = created.conversation.uuid;
    child.stdin.write('hello from the native SDK\n');
    const got = await a.event('SendMessage', (e) => e.message?.text === 'hello from the native SDK', { since });
    assert.equal(got.message.conversation, uuid, 'the native message lands in the conversation it created');
    await a.conv(uuid, 'sendMessage', 'hello from the Web SDK');
    await printed('hello from the Web SDK', 15_000);
  } finally {
    child.kill();
  }
}

/**
 * Starts a native program and collects what it prints: `printed(text, ms)` resolves once the
 * output contains `text`; `exited(ms)` resolves with the exit code.
 */
function startNative(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters = [];
  const onData = (chunk) => {
    out += chunk;
    for (const w of waiters.splice(0)) {
      if (out.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  const printed = (text, ms) => new Promise((resolve, reject) => {
    if (out.includes(text)) return resolve();
    const timer = setTimeout(() => reject(new Error(`${path.basename(cmd)} did not print ${JSON.stringify(text)}; it printed:\n${out}`)), ms);
    waiters.push({ text, resolve: () => { clearTimeout(timer); resolve(); } });
  });
  const exited = (ms) => Promise.race([
    exit,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${path.basename(cmd)} did not exit within ${ms} ms; it printed:\n${out}`)), ms)),
  ]);
  return { child, printed, exited, output: () => out };
}

/**
 * The demo page (the real UI in Chromium, driven by clicks and typing) logged in as `pageUser`,
 * and a native chat program logged in as another user that opens a conversation titled `title`
 * with the page's user: the program sends a line, the page's message list shows it; the page user
 * types an answer and clicks Send, the program prints it; then the program's stdin closes and it
 * exits 0.
 */
async function demoPageChatsWithNative({ pageUser, cmd, args, title, openText, sender, timeout = 15_000 }) {
  assert.ok(existsSync(cmd), `the native chat program ${cmd} is built`);
  assert.ok(server.ws, 'the server has a plain ws:// listener for native clients');
  const contexts = [];
  const visible = { timeout: 15_000 };
  let native;
  try {
    const page = await openDemoPage(contexts, pageUser);
    native = startNative(cmd, args);
    await native.printed(openText, timeout);
    // The conversation the program created appears live in the page's list; open it.
    await page.locator('#conversations button', { hasText: title }).first().click(visible);
    await page.locator('#chat-title', { hasText: title }).waitFor(visible);

    const fromNative = `hello from the native program to the demo page ${Date.now()}`;
    native.child.stdin.write(`${fromNative}\n`);
    const shown = page.locator('#messages li.theirs', { hasText: fromNative });
    await shown.waitFor(visible);
    assert.equal(await shown.locator('.who').textContent(), sender, 'the page names the native sender');

    const answer = `answer typed in the demo page ${Date.now()}`;
    await page.fill('#message-input', answer);
    await page.click('#send');
    await page.locator('#messages li.mine', { hasText: answer }).waitFor(visible);
    await native.printed(answer, 15_000);

    native.child.stdin.end();
    assert.equal(await native.exited(30_000), 0, `${path.basename(cmd)} exits 0 at the end of its input`);
    assert.deepEqual(page.errors, [], 'no script errors on the demo page');
    assert.equal(await page.textContent('#chat-error'), '', 'no failed SDK call in the demo');
  } finally {
    if (native && native.child.exitCode === null) native.child.kill();
    for (const c of contexts) await c.close().catch(() => {});
  }
}

scenario('interop: a Web SDK page and the C++ wrapper chat both ways', async ({ login }) => {
  const cmd = process.env.VOX_CPP_CHAT ?? path.join(cargoTarget(), 'cpp-build', 'vox_chat');
  await chatWithNative(login, {
    cmd,
    args: ['chat', `ws://${server.ws}`, 'user2@app.acc.voximplant.com', 'secret', 'user1@app.acc'],
    title: 'C++ console chat',
    openText: 'conversation open',
  });
});

scenario('interop: a Web SDK page and the Kotlin wrapper chat both ways', async ({ login }) => {
  const cmd = path.join(repoRoot, 'bindings', 'kotlin', 'chat.sh');
  await chatWithNative(login, {
    cmd,
    args: [`ws://${server.ws}`, 'user3@app.acc.voximplant.com', 'secret', 'user1@app.acc'],
    title: 'Kotlin console chat',
    openText: 'conversation with user1@app.acc open',
    timeout: 90_000, // chat.sh asks Maven for the classpath first
  });
}, { timeout: 150_000 });

// The demo page's UI (not the harness page) and the native programs. Other user pairs than the
// scenarios above, so that each conversation title is unique in the page's list.
scenario('interop: the demo page UI and the C++ wrapper\'s chat program chat both ways', async () => {
  await demoPageChatsWithNative({
    pageUser: 'user3',
    cmd: process.env.VOX_CPP_CHAT ?? path.join(cargoTarget(), 'cpp-build', 'vox_chat'),
    args: ['chat', `ws://${server.ws}`, 'user2@app.acc.voximplant.com', 'secret', 'user3@app.acc'],
    title: 'C++ console chat',
    openText: 'conversation open',
    sender: 'User Two',
  });
});

scenario('interop: the demo page UI and the Kotlin wrapper\'s chat program chat both ways', async () => {
  await demoPageChatsWithNative({
    pageUser: 'user2',
    cmd: path.join(repoRoot, 'bindings', 'kotlin', 'chat.sh'),
    args: [`ws://${server.ws}`, 'user3@app.acc.voximplant.com', 'secret', 'user2@app.acc'],
    title: 'Kotlin console chat',
    openText: 'conversation with user2@app.acc open',
    sender: 'User Three',
    timeout: 90_000, // chat.sh asks Maven for the classpath first
  });
}, { timeout: 180_000 });
