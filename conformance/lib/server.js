// Starts the real vox-messenger-server binary in dev mode and waits for its READY line.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const webRoot = path.join(repoRoot, 'web');
export const sdkFile = path.join(webRoot, 'node_modules', 'voximplant-websdk', 'voximplant.min.js');

/** Fails with a readable message when something the test needs is missing. */
export function checkPrerequisites(serverBin) {
  const problems = [];
  if (!existsSync(serverBin)) {
    problems.push(
      `server binary not found at ${serverBin}\n` +
        '  build it: cargo build -p vox-messenger-server (or set VOX_SERVER_BIN)',
    );
  }
  if (!existsSync(sdkFile)) {
    problems.push(
      `the official Web SDK is not installed: ${sdkFile} is missing\n` +
        '  install it: (cd web && npm ci)',
    );
  }
  if (problems.length) throw new Error(`conformance prerequisites missing:\n- ${problems.join('\n- ')}`);
}

export function serverBinary() {
  const fromEnv = process.env.VOX_SERVER_BIN;
  if (fromEnv) return path.resolve(process.cwd(), fromEnv);
  // Else cargo's target directory: $CARGO_TARGET_DIR (relative to the repository) or target/.
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(repoRoot, process.env.CARGO_TARGET_DIR) : path.join(repoRoot, 'target');
  return path.join(target, 'debug', 'vox-messenger-server');
}

/**
 * Spawns `serve --dev` on ephemeral loopback ports with a fresh database; `env` adds variables
 * (e.g. VOX_MSG_RATE_PER_SECOND).
 * Resolves with { wss, admin, adminKey, cert, stop(), stderr() }.
 */
export async function startServer({ bin = serverBinary(), readyTimeoutMs = 20_000, env = {} } = {}) {
  checkPrerequisites(bin);
  const dir = mkdtempSync(path.join(tmpdir(), 'vox-conformance-'));
  const args = [
    'serve', '--dev',
    '--listen', '127.0.0.1:0',
    '--admin-listen', '127.0.0.1:0',
    // A plain ws:// listener too, for native SDK clients (C++/Kotlin examples) in interop scenarios.
    '--plain-listen', '127.0.0.1:0',
    '--web-root', webRoot,
    '--db', path.join(dir, 'conformance.sqlite3'),
  ];
  const child = spawn(bin, args, {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VOX_LOG: process.env.VOX_LOG ?? 'info', ...env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (process.env.VOX_SERVER_LOG) process.stderr.write(chunk);
  });

  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`server printed no READY line within ${readyTimeoutMs} ms`)),
      readyTimeoutMs,
    );
    const lines = createInterface({ input: child.stdout });
    function fail(err) {
      clearTimeout(timer);
      lines.close();
      child.kill('SIGKILL');
      err.message += `\ncommand: ${bin} ${args.join(' ')}\nserver stderr:\n${stderr}`;
      reject(err);
    }
    child.once('error', (err) => fail(new Error(`cannot start ${bin}: ${err.message}`)));
    child.once('exit', (code, signal) => fail(new Error(`server exited before READY (code ${code}, signal ${signal})`)));
    lines.on('line', (line) => {
      if (!line.startsWith('READY ')) return;
      try {
        const info = JSON.parse(line.slice('READY '.length));
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(info);
      } catch (err) {
        fail(new Error(`unparsable READY line: ${line} (${err.message})`));
      }
    });
  });
  if (!ready.wss) throw new Error(`READY has no wss address: ${JSON.stringify(ready)}`);

  let exited = false;
  child.once('exit', () => { exited = true; });
  return {
    wss: ready.wss,
    ws: ready.ws,
    admin: ready.admin,
    adminKey: ready.admin_key,
    cert: ready.cert,
    pid: child.pid,
    stderr: () => stderr,
    exited: () => exited,
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls the server's admin HTTP API. Resolves with { status, body }. */
export async function admin(server, method, urlPath, body) {
  const res = await fetch(`http://${server.admin}${urlPath}`, {
    method,
    headers: {
      authorization: `Bearer ${server.adminKey}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* keep text */ }
  return { status: res.status, body: parsed };
}
