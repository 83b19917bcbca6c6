/** The contract's socket served with crossws (h3's WebSocket layer), for both h3 majors' tests. */
import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import crossws from 'crossws/adapters/node';
import { handleMessage } from '@sess/adapter-test';
import type { SocketApp, SocketSessionOf } from '@sess/adapter-test';
import type { UpgradeRequest } from '../src/index.js';

type SocketOf = (request: UpgradeRequest) => ReturnType<SocketSessionOf>;

/** Serves `listener` on a loopback port with the contract's socket on crossws (see `serveWithSockets` for `ws`). */
export async function serveWithCrossws(listener: RequestListener, socketOf: SocketOf): Promise<SocketApp> {
  const bySocket = new WeakMap<object, ReturnType<SocketSessionOf>>();
  const ws = crossws({
    hooks: {
      open: (peer) => void bySocket.set(peer, socketOf(peer.request)),
      message: async (peer, message) => {
        const current = bySocket.get(peer);
        if (current !== undefined) peer.send(await handleMessage(message.text(), current.use));
      },
    },
  });
  const server = createServer(listener);
  server.on('upgrade', (req, socket, head) => void ws.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/live`,
    close: () =>
      new Promise<void>((resolve) => {
        ws.closeAll(1001, 'test over', true);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
