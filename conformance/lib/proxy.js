// A raw TCP proxy on loopback: forwards bytes both ways (TLS passes through untouched), can
// swallow what the server sends (a reply lost in flight) and can drop every connection abruptly,
// like a network failure.
import net from 'node:net';
import { EventEmitter } from 'node:events';

export async function startProxy(target) {
  const [host, port] = splitHostPort(target);
  const pairs = new Set();
  const events = new EventEmitter();
  let swallowDownstream = false;
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port });
    const pair = { client, upstream };
    pairs.add(pair);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (swallowDownstream) events.emit('swallowed', chunk.length);
      else client.write(chunk);
    });
    const cleanup = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cleanup).on('close', cleanup);
    upstream.on('error', cleanup).on('close', cleanup);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    address: `127.0.0.1:${server.address().port}`,
    connections: () => pairs.size,
    /**
     * From now on, bytes from the server are discarded instead of delivered (the client still
     * reaches the server). Resolves with the size of the first swallowed chunk of at least
     * `minBytes` bytes, or rejects after `timeout` ms.
     */
    swallowServerBytes({ minBytes = 1, timeout = 5_000 } = {}) {
      swallowDownstream = true;
      return new Promise((resolve, reject) => {
        const onChunk = (n) => {
          if (n < minBytes) return;
          clearTimeout(timer);
          events.off('swallowed', onChunk);
          resolve(n);
        };
        const timer = setTimeout(() => {
          events.off('swallowed', onChunk);
          reject(new Error(`the server sent no chunk of ${minBytes}+ bytes within ${timeout} ms`));
        }, timeout);
        events.on('swallowed', onChunk);
      });
    },
    /** Resets every proxied TCP connection (RST: no WebSocket close frame, no TLS close_notify). */
    dropAll() {
      const n = pairs.size;
      for (const { client, upstream } of [...pairs]) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      pairs.clear();
      swallowDownstream = false;
      return n;
    },
    async close() {
      this.dropAll();
      await new Promise((r) => server.close(r));
    },
  };
}

function splitHostPort(hostPort) {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i), Number(hostPort.slice(i + 1))];
}
