// The demo page: log in through the official Web SDK and show what happened.
import { Session, describeAuthFailure } from './lib/session.js';

const $ = (id) => document.getElementById(id);

const view = {
  form: $('login-form'),
  username: $('username'),
  password: $('password'),
  loginButton: $('login'),
  logoutButton: $('logout'),
  state: $('state'),
  result: $('result'),
  log: $('log'),

  showState(state) {
    this.state.textContent = state;
    this.state.dataset.state = state;
    const busy = state === 'CONNECTING' || state === 'LOGGING_IN' || state === 'RECONNECTING';
    this.loginButton.disabled = busy || state === 'LOGGED_IN';
    this.logoutButton.disabled = state === 'DISCONNECTED';
  },

  showResult(text, kind) {
    this.result.textContent = text;
    this.result.className = kind ?? '';
  },

  addLog(text) {
    const item = document.createElement('li');
    const time = new Date().toLocaleTimeString();
    item.textContent = `${time}  ${text}`;
    this.log.prepend(item);
  },
};

function formatDuration(seconds) {
  if (typeof seconds !== 'number') return '?';
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${seconds} s`;
}

function describeEvent(name, event) {
  switch (name) {
    case 'AuthResult':
      if (event.result) return `AuthResult: logged in as ${event.displayName}`;
      if (event.code === 302) return 'AuthResult: one-time key received';
      return `AuthResult: ${describeAuthFailure(event)}`;
    case 'RefreshTokenResult':
      return event.result ? 'RefreshTokenResult: new tokens' : `RefreshTokenResult: failed (code ${event.code})`;
    default:
      return name;
  }
}

const session = new Session({
  serverIp: location.host,
  onEvent(name, event) {
    view.addLog(describeEvent(name, event));
    view.showState(session.state());
  },
});

$('server').textContent = `wss://${location.host}/platform`;
view.showState(session.state());

view.form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = view.username.value.trim();
  const password = view.password.value;
  view.showResult('Connecting…');
  view.showState('CONNECTING');
  try {
    const auth = await session.login(username, password);
    const tokens = auth.tokens ?? {};
    view.showResult(
      `Logged in as ${auth.displayName}. Access token valid for ${formatDuration(tokens.accessExpire)}, ` +
        `refresh token for ${formatDuration(tokens.refreshExpire)}.`,
      'ok',
    );
  } catch (err) {
    view.showResult(`Login failed: ${describeAuthFailure(err)}`, 'error');
  } finally {
    view.showState(session.state());
  }
});

view.logoutButton.addEventListener('click', async () => {
  await session.disconnect();
  view.showResult('Disconnected.');
  view.showState(session.state());
});

// For tests and the browser console.
window.voxDemo = { session, view };
