/**
 * The WebSocket peer of the ws scenarios: the `ws` package on node:http's server, the way a Node
 * user would add WebSockets. `/ws/bench` (the same endpoint as apps/ws-bench.ts for 06):
 *   a message "broadcast"  → one 64-byte text message to every connected client
 *   any other message      → echoed back, same opcode
 * Main thread only (node:http's event loop).
 */
import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

export const WS_BENCH_PATH = '/ws/bench';
const PUSH = 'p'.repeat(64);

/** Answer upgrades to /ws/bench on `server`; anything else is refused with 404. */
export function attachWebSocketBench(server: Server): void {
  // perMessageDeflate off: the course's protocol does not negotiate it either (see Appendix D).
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== WS_BENCH_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'broadcast') {
          for (const c of wss.clients) c.send(PUSH); // ws frames the message for each client
        } else {
          ws.send(data, { binary: isBinary });
        }
      });
    });
  });
}
