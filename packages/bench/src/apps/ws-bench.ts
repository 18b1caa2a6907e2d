/**
 * The app step 06 runs in the ws scenarios (`--app .../apps/ws-bench.js`): the same endpoint as
 * the `ws` peer (baselines/ws-bench.ts). `/ws/bench`:
 *   a message "broadcast"  → server.broadcast of one 64-byte text message (encoded once)
 *   any other message      → echoed back, same opcode
 * Every SubReactor thread imports this module; the hooks run on the connection's SubReactor. The
 * types are written out structurally so that the bench does not depend on 06's package.
 */
import type { Buffer } from 'node:buffer';

/** The part of 06's Conn this app uses. */
interface Conn {
  send(data: Uint8Array | string, isBinary?: boolean): void;
  readonly server: { broadcast(data: string | Uint8Array): void };
}

export const webSocketPaths = ['/ws/bench'];
const PUSH = 'p'.repeat(64);

export function onMessage(conn: Conn, data: Buffer, isBinary: boolean): void {
  if (!isBinary && data.length === 9 && data.toString('latin1') === 'broadcast') conn.server.broadcast(PUSH);
  else conn.send(data, isBinary); // the bytes back with their own opcode, as the `ws` peer does (no decode, no re-encode)
}
