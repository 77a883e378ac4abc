import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectedToItself, freePort, portOpen } from '../src/process';

const connected = async (socket: Socket) => {
  await once(socket, 'connect');
  return socket;
};

describe('portOpen', () => {
  it('can tell a connection to itself, which a port nobody listens on can give, from a listener', async () => {
    const port = await freePort();
    // What a connect picking the target port as its source does (TCP simultaneous open).
    const self = await connected(
      connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1', localPort: port }),
    );
    try {
      expect(connectedToItself(self)).toBe(true);
    } finally {
      self.destroy();
    }
    expect(await portOpen(port)).toBe(false);
  });

  it('sees a listener, and no longer once it has closed', async () => {
    const server = createServer((s) => s.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const client = await connected(connect(port, '127.0.0.1'));
    expect(connectedToItself(client)).toBe(false);
    client.destroy();
    expect(await portOpen(port)).toBe(true);
    server.close();
    await once(server, 'close');
    expect(await portOpen(port)).toBe(false);
  });
});
