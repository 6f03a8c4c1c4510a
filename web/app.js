// The demo page: log in through the official Web SDK and chat: conversations, messages (send,
// edit, remove), typing and read marks.
import { Session, describeAuthFailure } from './lib/session.js';
import { Chat } from './lib/chat.js';

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
    await startChat();
  } catch (err) {
    view.showResult(`Login failed: ${describeAuthFailure(err)}`, 'error');
  } finally {
    view.showState(session.state());
  }
});

view.logoutButton.addEventListener('click', async () => {
  const leaving = chat;
  stopChat();
  await leaving?.idle(); // let queued messaging requests go out before the socket closes
  await session.disconnect();
  view.showResult('Disconnected.');
  view.showState(session.state());
});

// ---------------------------------------------------------------------------------------------
// The chat

const ui = {
  card: $('chat-card'),
  list: $('conversations'),
  title: $('chat-title'),
  messages: $('messages'),
  typing: $('typing'),
  composer: $('composer'),
  input: $('message-input'),
  send: $('send'),
  cancelEdit: $('cancel-edit'),
  error: $('chat-error'),
  newForm: $('new-form'),
  newUsers: $('new-users'),
  newTitle: $('new-title'),
};

let chat = null;
let current = null; // uuid of the open conversation
let editing = null; // uuid of the message being edited

/** Runs an SDK call from the UI; shows a failure (the SDK rejects with {code, description}). */
async function attempt(what, fn) {
  ui.error.textContent = '';
  try {
    return await fn();
  } catch (err) {
    const text = err && typeof err === 'object' && 'code' in err
      ? `${err.description ?? 'error'} (code ${err.code})`
      : err instanceof Error ? err.message : 'no answer from the server';
    ui.error.textContent = `${what} failed: ${text}`;
    view.addLog(`${what} failed: ${text}`);
    return undefined;
  }
}

async function startChat() {
  stopChat();
  const mine = new Chat(session.messenger());
  chat = mine;
  window.voxDemo.chat = mine;
  mine.addEventListener('change', (ev) => {
    if (chat === mine) render(ev.detail); // ignore a chat that was stopped meanwhile
  });
  ui.card.hidden = false;
  await attempt('Loading conversations', () => mine.start());
}

function stopChat() {
  chat?.stop();
  chat = null;
  current = null;
  editing = null;
  ui.card.hidden = true;
  ui.list.replaceChildren();
  ui.messages.replaceChildren();
  ui.title.textContent = 'Pick a conversation';
  setComposer();
}

function render({ what, uuid }) {
  if (what === 'conversations' || what === 'users') renderList();
  if (current && (!uuid || uuid === current)) {
    if (!chat.conversations.has(current)) return openConversation(null);
    if (what !== 'typing') renderMessages();
    renderTyping();
    if (what === 'conversations') ui.title.textContent = chat.conversationName(chat.conversations.get(current).conv);
    if (what === 'messages') chat.markRead(current).catch(() => {});
  }
}

function renderList() {
  const items = [...chat.conversations.values()].map(({ conv }) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.uuid = conv.uuid;
    button.textContent = chat.conversationName(conv) + (conv.direct ? '' : ` (${conv.participants.length})`);
    button.className = conv.uuid === current ? 'current' : '';
    button.addEventListener('click', () => openConversation(conv.uuid));
    li.append(button);
    return li;
  });
  ui.list.replaceChildren(...items);
}

async function openConversation(uuid) {
  current = uuid;
  editing = null;
  setComposer();
  renderList();
  ui.messages.replaceChildren();
  ui.typing.textContent = '';
  if (!uuid) {
    ui.title.textContent = 'Pick a conversation';
    return;
  }
  ui.title.textContent = chat.conversationName(chat.conversations.get(uuid).conv);
  await attempt('Loading messages', () => chat.load(uuid));
  renderMessages();
  await attempt('Marking as read', () => chat.markRead(uuid));
}

function renderMessages() {
  const readUpTo = chat.readByOthers(current);
  const items = chat.messages(current).map(({ message, seq }) => {
    const mine = message.sender === chat.myId;
    const li = document.createElement('li');
    li.dataset.uuid = message.uuid;
    li.dataset.seq = String(seq);
    li.className = mine ? 'mine' : 'theirs';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = chat.displayName(message.sender);
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = message.text ?? '';
    li.append(who, text);
    if (mine) {
      const read = document.createElement('span');
      read.className = 'read';
      read.textContent = seq <= readUpTo ? '✓ read' : '';
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.className = 'edit';
      edit.textContent = 'edit';
      edit.addEventListener('click', () => startEdit(message));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'remove';
      remove.textContent = 'remove';
      remove.addEventListener('click', () => attempt('Removing', () => chat.remove(current, message.uuid)));
      li.append(read, edit, remove);
    }
    return li;
  });
  ui.messages.replaceChildren(...items);
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function renderTyping() {
  const names = chat.typingNames(current);
  ui.typing.textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
}

function setComposer() {
  ui.input.disabled = !current;
  ui.send.disabled = !current;
  ui.send.textContent = editing ? 'Save' : 'Send';
  ui.cancelEdit.hidden = !editing;
  if (!editing) ui.input.value = '';
}

function startEdit(message) {
  editing = message.uuid;
  setComposer();
  ui.input.value = message.text ?? '';
  ui.input.focus();
}

ui.cancelEdit.addEventListener('click', () => {
  editing = null;
  setComposer();
});

ui.input.addEventListener('input', () => {
  if (current && !editing && ui.input.value) chat.typing(current)?.catch(() => {});
});

ui.composer.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = ui.input.value.trim();
  if (!current || !text) return;
  const done = editing
    ? await attempt('Editing', () => chat.edit(current, editing, text))
    : await attempt('Sending', () => chat.send(current, text));
  if (done) {
    editing = null;
    setComposer();
  }
});

ui.newForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const names = ui.newUsers.value.split(',').map((s) => s.trim()).filter(Boolean);
  const uuid = await attempt('Creating the conversation', () => chat.create(ui.newTitle.value.trim(), names));
  if (uuid) {
    ui.newUsers.value = '';
    ui.newTitle.value = '';
    await openConversation(uuid);
  }
});

// For tests and the browser console.
window.voxDemo = { session, view, chat };
