// A thin wrapper around the official Web SDK's Client singleton: one place that knows how to
// point the SDK at this server and how to turn its promises and events into plain values.
// The chat demo will grow on top of this (getMessenger() once logged in).

/** Human-readable meaning of the login failure codes the SDK reports (AuthResult.code). */
export const AUTH_CODES = {
  301: 'second stage required',
  302: 'one-time key issued',
  401: 'wrong password',
  402: 'monthly active users limit reached',
  403: 'account frozen',
  404: 'unknown user',
  409: 'connection closed',
  491: 'invalid state',
  500: 'server error',
  701: 'token expired or invalid',
};

/** Client events the demo reports (names of the SDK's `VoxImplant.Events`). */
const CLIENT_EVENTS = [
  'ConnectionEstablished',
  'ConnectionFailed',
  'ConnectionClosed',
  'Reconnecting',
  'Reconnected',
  'AuthResult',
  'RefreshTokenResult',
];

export function describeAuthFailure(err) {
  if (err && typeof err === 'object' && 'code' in err) {
    const meaning = AUTH_CODES[err.code] ?? 'login failed';
    return `${meaning} (code ${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}

export class Session {
  /**
   * @param {object} opts
   * @param {string} opts.serverIp  host:port of the server's wss endpoint (the SDK adds /platform)
   * @param {(name: string, event: object) => void} [opts.onEvent] called for every client event
   */
  constructor({ serverIp, onEvent = () => {} }) {
    if (typeof window.VoxImplant === 'undefined') {
      throw new Error('The Web SDK did not load (run `npm install` in web/)');
    }
    this.serverIp = serverIp;
    this.sdk = window.VoxImplant.getInstance();
    this.onEvent = onEvent;
    this.initialized = null;
  }

  /** Initializes the SDK once (the SDK refuses a second init()). */
  init() {
    if (!this.initialized) {
      for (const name of CLIENT_EVENTS) {
        this.sdk.on(window.VoxImplant.Events[name], (event) => this.onEvent(name, event ?? {}));
      }
      this.initialized = this.sdk.init({
        node: 'NODE_1',            // required by init(); ignored once serverIp is given
        serverIp: this.serverIp,   // no balancer lookup: the SDK connects to wss://serverIp/platform
        micRequired: false,        // messaging only: no microphone prompt
      });
    }
    return this.initialized;
  }

  state() {
    return this.sdk.getClientState();
  }

  /** Connects if needed. Resolves true when connected; false when the server could not be reached. */
  async connect() {
    await this.init();
    const state = this.state();
    if (state === 'CONNECTED' || state === 'LOGGED_IN' || state === 'LOGGING_IN') return true;
    return this.sdk.connect();
  }

  /** Connects, then logs in with a password. Resolves with the SDK's AuthResult. */
  async login(username, password) {
    if (!(await this.connect())) throw new Error(`cannot connect to wss://${this.serverIp}/platform`);
    return this.sdk.login(username, password);
  }

  async disconnect() {
    if (this.initialized) await this.sdk.disconnect();
  }

  /** The Messenger instance; only valid after a successful login. */
  messenger() {
    return window.VoxImplant.getMessenger();
  }
}
