// Conformance: the unmodified official Voximplant Web SDK 4.13.1-3005, in headless Chromium,
// against the real vox-messenger-server binary. Each scenario asserts what an application using
// the SDK would see (resolved values, rejection codes, client state, SDK events), plus the frames
// that prove the SDK took the intended path.
//
// Run: npm test   (env: VOX_SERVER_BIN, VOX_SERVER_LOG=1, VOX_BROWSER_LOG=1; see README.md)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startServer, admin } from '../lib/server.js';
import { launchBrowser, SdkPage } from '../lib/browser.js';
import { startProxy } from '../lib/proxy.js';

const USER1 = 'user1@app.acc.voximplant.com';
const PASSWORD = 'secret';
const ACCESS_EXPIRE = 172800; // 48 h
const REFRESH_EXPIRE = 2592000; // 30 days

// The Web SDK hashes passwords with SHA-256 only when Client.features contains this value
// (featureMap.passwordDigestAlgorithmSha256 in the SDK bundle, module 1493). init({features})
// builds such values by MD5-hashing each '/'-separated part of a feature string; the last two
// parts are md5("passwordDigestAlgorithm") and md5("sha256"), the first part's source is unknown,
// so the value is pushed into VoxImplant.getInstance().features after init().
const SHA256_FEATURE =
  'bc0aa83a4bd4bfbdb427d58519b5f627' + md5('passwordDigestAlgorithm') + md5('sha256');

function md5(s) {
  return createHash('md5').update(s).digest('hex');
}
function sha256(s) {
  return createHash('sha256').update(s).digest('hex');
}
/** The digest input the SDK uses: the login name cut at the first '@'. */
function digestInput(user, password) {
  return `${user.split('@')[0]}:voximplant.com:${password}`;
}

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
    if (!r) return `  FAIL  ${name}  (did not run: set-up failed)`;
    return `  ${r.ok ? 'PASS' : 'FAIL'}  ${name}  (${r.ms} ms)${r.ok ? '' : `\n        ${r.reason}`}`;
  });
  console.log(`\nWeb SDK conformance summary\n${lines.join('\n')}\nconformance: ${passed} passed, ${scenarios.length - passed} failed`);
});

/** A test that records its outcome for the summary and closes the pages it opened. */
function scenario(name, fn) {
  scenarios.push(name);
  test(name, { timeout: 30_000 }, async () => {
    const started = Date.now();
    const pages = [];
    const open = async (opts = {}) => {
      const p = await SdkPage.open(browser, { pageOrigin: server.wss, serverIp: server.wss, ...opts });
      pages.push(p);
      openPages.add(p);
      return p;
    };
    try {
      await fn({ open });
      results.push({ name, ok: true, ms: Date.now() - started });
    } catch (err) {
      results.push({ name, ok: false, ms: Date.now() - started, reason: String(err.message).split('\n')[0] });
      // Attach the wire log so that a server bug can be read off the failure.
      if (err && typeof err.message === 'string' && !err.message.includes('last wire/events')) {
        pages.forEach((p, i) => {
          err.message += `\nwire and SDK events of page ${i + 1}:\n${p.describeTail(30)}`;
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

/** Connects and asserts that connect() resolved true and the client says CONNECTED. */
async function connect(p) {
  assert.equal(await p.expectResolve('connect'), true, 'connect() should resolve true');
  assert.equal(await p.state(), 'CONNECTED');
}

/** Disconnects and asserts the client ends DISCONNECTED. */
async function disconnect(p) {
  await p.expectResolve('disconnect', [], { timeout: 10_000 });
  assert.equal(await p.state(), 'DISCONNECTED');
}

function assertTokens(tokens, what) {
  assert.ok(tokens && typeof tokens === 'object', `${what}: no tokens object`);
  assert.equal(typeof tokens.accessToken, 'string', `${what}: accessToken should be a string`);
  assert.ok(tokens.accessToken.length > 0, `${what}: empty accessToken`);
  assert.equal(typeof tokens.refreshToken, 'string', `${what}: refreshToken should be a string`);
  assert.ok(tokens.refreshToken.length > 0, `${what}: empty refreshToken`);
  assert.notEqual(tokens.accessToken, tokens.refreshToken, `${what}: access and refresh token are equal`);
  assert.equal(tokens.accessExpire, ACCESS_EXPIRE, `${what}: accessExpire`);
  assert.equal(tokens.refreshExpire, REFRESH_EXPIRE, `${what}: refreshExpire`);
}

async function assertLoggedIn(auth, p, displayName = 'User One') {
  assert.equal(auth.name, 'AuthResult');
  assert.equal(auth.result, true, 'AuthResult.result');
  assert.equal(auth.displayName, displayName, 'AuthResult.displayName');
  assert.equal(await p.state(), 'LOGGED_IN');
}

/** The RPC frames ({name, params}) the SDK sent with the given name. */
function sentRpc(p, name) {
  return p.frames('sent').filter((f) => f?.type === 'msg' && f.payload?.name === name).map((f) => f.payload);
}

/** Asserts a login rejection: AuthResult with result false and the expected code. */
function assertAuthFailure(err, code, what) {
  assert.equal(err?.name, 'AuthResult', `${what}: rejection should be an AuthResult, got ${JSON.stringify(err)}`);
  assert.equal(err.result, false, `${what}: result`);
  assert.equal(err.code, code, `${what}: code`);
}

scenario('connect, disconnect, connect again', async ({ open }) => {
  const p = await open();
  assert.equal(await p.state(), 'DISCONNECTED');
  await connect(p);
  await p.waitForEvent('ConnectionEstablished');
  const url = p.sockets[0];
  assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+\/platform\?version=5&/);
  assert.doesNotMatch(url, /[?&]id=/, 'a new connection carries no id');

  await disconnect(p);
  // The SDK sends {"type":"close","seq":N} and waits up to 6 s for the server to ACK it.
  const close = p.frames('sent', 0).find((f) => f?.type === 'close');
  assert.ok(close, 'the SDK sent a close frame');
  assert.ok(
    p.frames('recv', 0).some((f) => f?.type === 'ack' && f.seq >= close.seq),
    `the server should ACK the client's close (seq ${close.seq})`,
  );

  const mark = p.mark();
  await connect(p);
  const reopened = await p.waitFor((e) => e.kind === 'socket', { since: mark, what: 'a second socket' });
  assert.doesNotMatch(reopened.url, /[?&]id=/, 'a connection after disconnect() is new, not a resume');
  const newId = await p.waitFor((e) => e.kind === 'recv' && e.sock === reopened.sock && e.frame?.type === 'id', {
    what: 'an id frame on the second socket',
  });
  assert.notEqual(
    newId.frame.id,
    p.frames('recv', 0).find((f) => f?.type === 'id')?.id,
    'a new connection gets a new connection id',
  );
  await assertLoggedIn(await p.expectResolve('login', [USER1, PASSWORD]), p);
});

scenario('login with password (MD5)', async ({ open }) => {
  const p = await open();
  await connect(p);
  const auth = await p.expectResolve('login', [USER1, PASSWORD]);
  await assertLoggedIn(auth, p);
  assertTokens(auth.tokens, 'login tokens');
  const [frame] = sentRpc(p, 'login');
  assert.deepEqual(frame.params, [USER1, md5(digestInput(USER1, PASSWORD)), { credentialType: 'md5' }]);
  const event = await p.waitForEvent('AuthResult');
  assert.equal(event.data.result, true, 'the AuthResult event reports success too');
});

scenario('login with password (SHA-256)', async ({ open }) => {
  const p = await open({ features: [SHA256_FEATURE] });
  await connect(p);
  const auth = await p.expectResolve('login', [USER1, PASSWORD]);
  await assertLoggedIn(auth, p);
  assertTokens(auth.tokens, 'login tokens');
  const [frame] = sentRpc(p, 'login');
  assert.equal(frame.params[2]?.credentialType, 'sha256', 'the SDK should have sent credentialType sha256');
  assert.equal(frame.params[1], sha256(digestInput(USER1, PASSWORD)));

  // The server must really check the SHA-256 digest.
  await disconnect(p);
  await connect(p);
  assertAuthFailure(await p.expectReject('login', [USER1, 'not-the-password']), 401, 'wrong password (sha256)');
});

scenario('wrong password is 401, unknown user is 404', async ({ open }) => {
  const p = await open();
  await connect(p);
  assertAuthFailure(await p.expectReject('login', [USER1, 'not-the-password']), 401, 'wrong password');
  assert.notEqual(await p.state(), 'LOGGED_IN');
  const failed = await p.waitForEvent('AuthResult');
  assert.equal(failed.data.code, 401, 'the AuthResult event carries the code');

  await disconnect(p);
  await connect(p);
  assertAuthFailure(await p.expectReject('login', ['nobody@app.acc.voximplant.com', PASSWORD]), 404, 'unknown user');
  assert.notEqual(await p.state(), 'LOGGED_IN');
});

scenario('one-time key login, and the key works once', async ({ open }) => {
  const p = await open();
  await connect(p);
  const key = await p.expectResolve('requestOneTimeLoginKey', [USER1]);
  assert.equal(key.code, 302, 'requestOneTimeLoginKey resolves with code 302');
  assert.equal(typeof key.key, 'string');
  assert.ok(key.key.length > 0, 'the key is not empty');
  const hash = md5(`${key.key}|${md5(digestInput(USER1, PASSWORD))}`);

  const auth = await p.expectResolve('loginWithOneTimeKey', [USER1, hash]);
  await assertLoggedIn(auth, p);
  const [frame] = sentRpc(p, 'loginUsingOneTimeKey');
  assert.deepEqual(frame.params.slice(0, 2), [USER1, hash]);

  await disconnect(p);
  await connect(p);
  const err = await p.expectReject('loginWithOneTimeKey', [USER1, hash]);
  assert.equal(err?.result, false);
  assert.equal(typeof err.code, 'number', `reusing a one-time key should reject with a code, got ${JSON.stringify(err)}`);
  assert.notEqual(await p.state(), 'LOGGED_IN');
});

scenario('login with access token; garbage token is 701', async ({ open }) => {
  const p = await open();
  await connect(p);
  const { tokens } = await p.expectResolve('login', [USER1, PASSWORD]);
  assertTokens(tokens, 'login tokens');

  await disconnect(p);
  await connect(p);
  const auth = await p.expectResolve('loginWithToken', [USER1, tokens.accessToken]);
  await assertLoggedIn(auth, p);
  const tokenLogin = sentRpc(p, 'login').at(-1);
  assert.equal(tokenLogin.params[1], '', 'token login sends an empty password');
  assert.equal(tokenLogin.params[2]?.accessToken, tokens.accessToken);

  await disconnect(p);
  await connect(p);
  assertAuthFailure(await p.expectReject('loginWithToken', [USER1, 'garbage-token']), 701, 'garbage access token');
  assert.notEqual(await p.state(), 'LOGGED_IN');
});

scenario('token refresh rotates both tokens, each refresh token works once', async ({ open }) => {
  const p = await open();
  await connect(p);
  const { tokens: t1 } = await p.expectResolve('login', [USER1, PASSWORD]);
  assertTokens(t1, 'login tokens');

  // As an app does at start-up with stored tokens: a fresh connection, refresh, then token login.
  await disconnect(p);
  await connect(p);
  const r2 = await p.expectResolve('tokenRefresh', [USER1, t1.refreshToken]);
  assert.equal(r2.name, 'RefreshTokenResult');
  assert.equal(r2.result, true);
  const t2 = r2.tokens;
  assertTokens(t2, 'refreshed tokens');
  assert.notEqual(t2.accessToken, t1.accessToken, 'refresh issues a new access token');
  assert.notEqual(t2.refreshToken, t1.refreshToken, 'refresh issues a new refresh token');
  assert.deepEqual(sentRpc(p, 'refreshOauthToken').at(-1).params, [USER1, t1.refreshToken]);

  const reused = await p.expectReject('tokenRefresh', [USER1, t1.refreshToken]);
  assert.equal(reused?.result, false, `reusing a refresh token should fail, got ${JSON.stringify(reused)}`);
  assert.equal(typeof reused.code, 'number', 'the failure carries a code');

  await assertLoggedIn(await p.expectResolve('loginWithToken', [USER1, t2.accessToken]), p);

  // The 3-argument form sends {refreshToken, deviceToken}.
  const r3 = await p.expectResolve('tokenRefresh', [USER1, t2.refreshToken, 'device-token-1']);
  assert.equal(r3.result, true);
  assertTokens(r3.tokens, 'refreshed tokens (with device token)');
  assert.notEqual(r3.tokens.accessToken, t2.accessToken);
  assert.notEqual(r3.tokens.refreshToken, t2.refreshToken);
  assert.deepEqual(sentRpc(p, 'refreshOauthToken').at(-1).params, [
    USER1,
    { refreshToken: t2.refreshToken, deviceToken: 'device-token-1' },
  ]);
  const again = await p.expectReject('tokenRefresh', [USER1, t2.refreshToken, 'device-token-1']);
  assert.equal(again?.result, false, 'a refresh token used with a device token is spent too');
});

scenario('a user created through the admin API can log in; deleted, it is 404', async ({ open }) => {
  const name = 'dora@app.acc';
  const created = await admin(server, 'POST', '/v1/users', { user: name, password: 'pw-dora', display_name: 'Dora Admin' });
  assert.ok(created.status >= 200 && created.status < 300, `POST /v1/users answered ${created.status} ${JSON.stringify(created.body)}`);
  const p = await open();
  await connect(p);
  await assertLoggedIn(await p.expectResolve('login', ['dora@app.acc.voximplant.com', 'pw-dora']), p, 'Dora Admin');
  await disconnect(p);

  const deleted = await admin(server, 'DELETE', `/v1/users/${encodeURIComponent(name)}`);
  assert.ok(deleted.status >= 200 && deleted.status < 300, `DELETE answered ${deleted.status} ${JSON.stringify(deleted.body)}`);
  await connect(p);
  assertAuthFailure(await p.expectReject('login', ['dora@app.acc.voximplant.com', 'pw-dora']), 404, 'deleted user');
});

/**
 * After proxy.dropAll(): waits for the SDK to resume the same logical connection and checks the
 * resume handshake. Returns the new socket's index and both lastrx frames.
 */
async function expectResume(p, { since, connId }) {
  await p.waitForEvent('Reconnecting', { since });
  const resumed = await p.waitFor((e) => e.kind === 'socket', { since, what: 'a new WebSocket after the drop' });
  assert.ok(
    resumed.url.includes(`&id=${encodeURIComponent(connId)}`),
    `the resume URL should carry &id=${connId}: ${resumed.url}`,
  );
  const s = resumed.sock;
  const idAgain = await p.waitFor((e) => e.kind === 'recv' && e.sock === s && e.frame?.type === 'id', {
    what: 'an id frame on the resumed socket',
  });
  assert.equal(idAgain.frame.id, connId, 'the server keeps the connection id on resume');

  // lastrx both ways: the client reports the last server seq it saw; the server answers with the
  // last client seq it saw, which cannot exceed what the client sent before the drop.
  const before = (dir) =>
    Math.max(0, ...p.log.filter((e) => e.kind === dir && e.sock < s && e.frame?.type === 'msg').map((e) => e.frame.seq));
  const clientLastrx = await p.waitFor((e) => e.kind === 'sent' && e.sock === s && e.frame?.type === 'lastrx', {
    what: 'the client lastrx on the resumed socket',
  });
  assert.equal(clientLastrx.frame.seq, before('recv'), 'client lastrx = last server seq it received');
  const serverLastrx = await p.waitFor((e) => e.kind === 'recv' && e.sock === s && e.frame?.type === 'lastrx', {
    what: 'the server lastrx on the resumed socket',
  });
  const sentBefore = before('sent');
  assert.ok(
    Number.isInteger(serverLastrx.frame.seq) && serverLastrx.frame.seq >= 1 && serverLastrx.frame.seq <= sentBefore,
    `server lastrx ${serverLastrx.frame.seq} should be within 1..${sentBefore} (login was client seq 1)`,
  );
  await p.waitForEvent('Reconnected', { since });
  return { s, clientLastrx: clientLastrx.frame.seq, serverLastrx: serverLastrx.frame.seq };
}

/** The session is healthy after a resume: one reconnect only, the socket still open, logged in. */
async function assertHealthyAfterResume(p, s) {
  assert.equal(await p.state(), 'LOGGED_IN');
  assert.equal(p.events('Reconnecting').length, 1, 'exactly one reconnect (no 4001 wrong-seq or 4004 ACK-timeout drop)');
  assert.ok(!p.log.some((e) => e.kind === 'close' && e.sock === s), 'the resumed socket is still open');
  assert.equal(p.events('ConnectionClosed').length, 0, 'no ConnectionClosed');
}

scenario('transport drop: the SDK resumes the same connection and stays logged in', async ({ open }) => {
  const proxy = await startProxy(server.wss);
  try {
    const p = await open({ serverIp: proxy.address });
    await connect(p);
    const { tokens } = await p.expectResolve('login', [USER1, PASSWORD]);
    const connId = p.frames('recv', 0).find((f) => f?.type === 'id')?.id;
    assert.ok(connId, 'the server sent an id frame');
    // Let one __ping (sent every 2 s) go through and be ACKed, so the counters are past login.
    const ping = await p.waitFor((e) => e.kind === 'sent' && e.frame?.payload?.name === '__ping', {
      timeout: 5_000,
      what: 'a __ping',
    });
    await p.waitFor((e) => e.kind === 'recv' && e.frame?.type === 'ack' && e.frame.seq >= ping.frame.seq, {
      since: p.log.indexOf(ping),
      timeout: 7_000,
      what: `the server's ACK of __ping seq ${ping.frame.seq}`,
    });

    const since = p.mark();
    assert.ok(proxy.dropAll() >= 1, 'the WebSocket went through the proxy');
    const { s, serverLastrx } = await expectResume(p, { since, connId });
    assert.equal(await p.state(), 'LOGGED_IN', 'still logged in after the resume');

    // The client's numbering continues right after what the server acknowledged in lastrx
    // (resent or new), and the server ACKs it: otherwise the SDK drops the socket after 6 s.
    const post = await p.waitFor((e) => e.kind === 'sent' && e.sock === s && e.frame?.type === 'msg', {
      timeout: 5_000,
      what: 'a client msg (e.g. __ping) on the resumed socket',
    });
    assert.equal(post.frame.seq, serverLastrx + 1, 'client seq continues after the server lastrx');
    await p.waitFor((e) => e.kind === 'recv' && e.sock === s && e.frame?.type === 'ack' && e.frame.seq >= post.frame.seq, {
      timeout: 7_000,
      what: `the server's ACK of client seq ${post.frame.seq} on the resumed socket`,
    });

    // A request the server must answer on the resumed session.
    const refreshed = await p.expectResolve('tokenRefresh', [USER1, tokens.refreshToken]);
    assert.equal(refreshed.result, true, 'tokenRefresh after the resume');
    await assertHealthyAfterResume(p, s);
  } finally {
    await proxy.close();
  }
});

scenario('transport drop with a reply in flight: the server resends it after the resume', async ({ open }) => {
  const proxy = await startProxy(server.wss);
  try {
    const p = await open({ serverIp: proxy.address });
    await connect(p);
    const { tokens } = await p.expectResolve('login', [USER1, PASSWORD]);
    const connId = p.frames('recv', 0).find((f) => f?.type === 'id')?.id;

    // The request reaches the server, its reply (tokens: well over 150 bytes) is lost, then the
    // network fails.
    const swallowed = proxy.swallowServerBytes({ minBytes: 150 });
    const since = p.mark();
    const outcome = await p.start('tokenRefresh', [USER1, tokens.refreshToken]);
    const request = await p.waitFor((e) => e.kind === 'sent' && e.frame?.payload?.name === 'refreshOauthToken', {
      since,
      what: 'the refreshOauthToken request',
    });
    await swallowed;
    assert.ok(proxy.dropAll() >= 1);

    const { s, clientLastrx, serverLastrx } = await expectResume(p, { since, connId });
    assert.ok(
      serverLastrx >= request.frame.seq,
      `the server received the request (client seq ${request.frame.seq}) before the drop, its lastrx says ${serverLastrx}`,
    );
    const first = await p.waitFor((e) => e.kind === 'recv' && e.sock === s && e.frame?.type === 'msg', {
      what: 'the resent reply on the resumed socket',
    });
    assert.equal(first.frame.seq, clientLastrx + 1, 'the server resends from the client lastrx + 1');
    assert.equal(first.frame.payload?.name, 'refreshOauthTokenSuccessful', 'the lost reply is resent first');

    const r = await outcome();
    assert.ok(r.settled, 'tokenRefresh settled after the resume');
    assert.equal(r.ok, true, `tokenRefresh resolved: ${JSON.stringify(r)}`);
    assertTokens(r.value.tokens, 'tokens from the resent reply');
    await assertHealthyAfterResume(p, s);
  } finally {
    await proxy.close();
  }
});

scenario('the demo page at / logs in with the prefilled user', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    const res = await page.goto(`https://${server.wss}/`);
    assert.equal(res?.status(), 200, 'GET / serves the demo page (index.html)');
    await page.click('#login');
    await page.waitForSelector('#state[data-state="LOGGED_IN"]', { timeout: 8_000 });
    assert.match(await page.textContent('#result'), /Logged in as User One/);
    await page.click('#logout');
    await page.waitForSelector('#state[data-state="DISCONNECTED"]', { timeout: 10_000 });
    await page.fill('#password', 'not-the-password');
    await page.click('#login');
    await page.waitForSelector('#result.error', { timeout: 8_000 });
    assert.match(await page.textContent('#result'), /code 401/);
    assert.deepEqual(errors, [], 'no script errors on the page');
  } finally {
    await context.close();
  }
});
