// Headless Chromium (Debian's /usr/bin/chromium, never a downloaded build) driving the official
// Web SDK, with every WebSocket frame and every SDK client event recorded for event-driven waits.
import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--ignore-certificate-errors',
];

/** Client events recorded in every page (names from the SDK's `Events` enum). */
export const CLIENT_EVENTS = [
  'ConnectionEstablished',
  'ConnectionFailed',
  'ConnectionClosed',
  'Reconnecting',
  'Reconnected',
  'AuthResult',
  'RefreshTokenResult',
];

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * One browser context + page with the harness loaded and the SDK initialised.
 * `log` holds, in order, every socket opened, frame sent/received, socket closed and SDK event:
 *   { kind: 'socket', sock, url } | { kind: 'sent'|'recv', sock, frame, raw } |
 *   { kind: 'close', sock } | { kind: 'event', name, data }
 * where `sock` is the 0-based index of the WebSocket in this page.
 */
export class SdkPage {
  static async open(browser, { pageOrigin, serverIp, features, consoleToStderr = false }) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const self = new SdkPage(context);
    await context.exposeBinding('__voxEvent', (_source, name, data) => self.record({ kind: 'event', name, data }));
    self.page = await context.newPage();
    self.page.on('pageerror', (err) => self.record({ kind: 'pageerror', message: String(err) }));
    if (consoleToStderr || process.env.VOX_BROWSER_LOG) {
      self.page.on('console', (msg) => process.stderr.write(`[browser] ${msg.text()}\n`));
    }
    self.page.on('websocket', (ws) => {
      const sock = self.sockets.length;
      self.sockets.push(ws.url());
      self.record({ kind: 'socket', sock, url: ws.url() });
      ws.on('framesent', ({ payload }) => self.record({ kind: 'sent', sock, ...parseFrame(payload) }));
      ws.on('framereceived', ({ payload }) => self.record({ kind: 'recv', sock, ...parseFrame(payload) }));
      ws.on('socketerror', (error) => self.record({ kind: 'socketerror', sock, error }));
      ws.on('close', () => self.record({ kind: 'close', sock }));
    });
    const res = await self.page.goto(`https://${pageOrigin}/harness.html`);
    if (!res || res.status() !== 200) {
      throw new Error(`GET https://${pageOrigin}/harness.html answered ${res ? res.status() : 'nothing'}`);
    }
    const loaded = await self.page.evaluate(() => typeof window.VoxImplant !== 'undefined' && window.isSecureContext);
    if (!loaded) throw new Error('harness.html did not load the Web SDK in a secure context');
    await self.page.evaluate(
      async ({ serverIp, events, features }) => {
        const sdk = window.VoxImplant.getInstance();
        const plain = (v) => { try { return JSON.parse(JSON.stringify(v ?? {})); } catch { return {}; } };
        for (const name of events) sdk.on(window.VoxImplant.Events[name], (e) => window.__voxEvent(name, plain(e)));
        await sdk.init({ node: 'NODE_1', serverIp, micRequired: false });
        if (features) sdk.features.push(...features);
      },
      { serverIp, events: CLIENT_EVENTS, features },
    );
    return self;
  }

  constructor(context) {
    this.context = context;
    this.page = null;
    this.sockets = [];
    this.log = [];
    this.waiters = new Set();
  }

  record(entry) {
    entry.t = Date.now();
    this.log.push(entry);
    for (const w of [...this.waiters]) {
      if (w.predicate(entry)) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(entry);
      }
    }
  }

  /** Current position in the log; pass it as `since` to wait only for newer entries. */
  mark() {
    return this.log.length;
  }

  /** Resolves with the first log entry (at or after `since`) that matches, or fails after `timeout` ms. */
  waitFor(predicate, { since = 0, timeout = 8_000, what = 'a matching frame or event' } = {}) {
    const found = this.log.slice(since).find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { predicate, resolve };
      w.timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}\nlast wire/events:\n${this.describeTail(20)}`));
      }, timeout);
      this.waiters.add(w);
    });
  }

  waitForEvent(name, opts = {}) {
    return this.waitFor((e) => e.kind === 'event' && e.name === name, { what: `SDK event ${name}`, ...opts });
  }

  /** Frames the SDK sent (dir 'sent') or received (dir 'recv'), optionally on one socket. */
  frames(dir, sock) {
    return this.log.filter((e) => e.kind === dir && (sock === undefined || e.sock === sock)).map((e) => e.frame);
  }

  events(name) {
    return this.log.filter((e) => e.kind === 'event' && (!name || e.name === name));
  }

  describeTail(n) {
    return this.log.slice(-n).map(describeEntry).join('\n') || '  (nothing recorded)';
  }

  /**
   * Calls a method of VoxImplant.getInstance() in the page. Never throws for a rejection:
   * resolves with { ok: true, value } or { ok: false, error }, or { settled: false } when the
   * promise neither resolved nor rejected within `timeout` ms (the SDK has no login timeout).
   */
  call(method, args = [], { timeout = 8_000 } = {}) {
    return this.page.evaluate(
      async ({ method, args, timeout }) => {
        const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
        let timer;
        const expired = new Promise((r) => { timer = setTimeout(() => r({ settled: false }), timeout); });
        try {
          const run = Promise.resolve()
            .then(() => window.VoxImplant.getInstance()[method](...args))
            .then(
              (value) => ({ settled: true, ok: true, value: plain(value) }),
              (error) => ({
                settled: true,
                ok: false,
                error: error instanceof Error ? { message: error.message } : plain(error),
              }),
            );
          return await Promise.race([run, expired]);
        } finally {
          clearTimeout(timer);
        }
      },
      { method, args, timeout },
    );
  }

  /**
   * Starts a call without waiting for it (e.g. a request whose reply will be lost in flight).
   * Returns a function that waits for the outcome like call() does.
   */
  async start(method, args = []) {
    const id = await this.page.evaluate(({ method, args }) => {
      const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
      window.__voxCalls ??= [];
      const id = window.__voxCalls.length;
      window.__voxCalls.push(
        Promise.resolve()
          .then(() => window.VoxImplant.getInstance()[method](...args))
          .then(
            (value) => ({ settled: true, ok: true, value: plain(value) }),
            (error) => ({ settled: true, ok: false, error: error instanceof Error ? { message: error.message } : plain(error) }),
          ),
      );
      return id;
    }, { method, args });
    return ({ timeout = 8_000 } = {}) =>
      this.page.evaluate(async ({ id, timeout }) => {
        let timer;
        const expired = new Promise((r) => { timer = setTimeout(() => r({ settled: false }), timeout); });
        try {
          return await Promise.race([window.__voxCalls[id], expired]);
        } finally {
          clearTimeout(timer);
        }
      }, { id, timeout });
  }

  /** Like call(), but fails the test unless the promise resolved; returns the resolved value. */
  async expectResolve(method, args = [], opts) {
    const r = await this.call(method, args, opts);
    if (!r.settled) throw new Error(`${method}() did not settle\nlast wire/events:\n${this.describeTail(12)}`);
    if (!r.ok) {
      throw new Error(`${method}() rejected with ${JSON.stringify(r.error)}\nlast wire/events:\n${this.describeTail(12)}`);
    }
    return r.value;
  }

  /** Like call(), but fails the test unless the promise rejected; returns the rejection value. */
  async expectReject(method, args = [], opts) {
    const r = await this.call(method, args, opts);
    if (!r.settled) throw new Error(`${method}() did not settle\nlast wire/events:\n${this.describeTail(12)}`);
    if (r.ok) {
      throw new Error(`${method}() resolved with ${JSON.stringify(r.value)} but should have been rejected\nlast wire/events:\n${this.describeTail(12)}`);
    }
    return r.error;
  }

  state() {
    return this.page.evaluate(() => window.VoxImplant.getInstance().getClientState());
  }

  async close() {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters.clear();
    await this.context.close().catch(() => {});
  }
}

function parseFrame(payload) {
  const raw = typeof payload === 'string' ? payload : payload.toString('utf8');
  try {
    return { raw, frame: JSON.parse(raw) };
  } catch {
    return { raw, frame: null };
  }
}

/** Tokens and one-time-key hashes are shortened so that failure output stays readable. */
function describeEntry(e) {
  const clip = (s) => (s.length > 220 ? `${s.slice(0, 220)}…` : s);
  switch (e.kind) {
    case 'socket': return `  [ws${e.sock}] open ${e.url}`;
    case 'sent': return `  [ws${e.sock}] > ${clip(e.raw)}`;
    case 'recv': return `  [ws${e.sock}] < ${clip(e.raw)}`;
    case 'close': return `  [ws${e.sock}] closed`;
    case 'socketerror': return `  [ws${e.sock}] error ${e.error}`;
    case 'event': return `  event ${e.name} ${clip(JSON.stringify(e.data))}`;
    case 'pageerror': return `  page error ${e.message}`;
    default: return `  ${JSON.stringify(e)}`;
  }
}
