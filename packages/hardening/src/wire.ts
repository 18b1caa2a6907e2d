/**
 * Raw conversations with a server, as an attacker has them: exact bytes out, every byte back,
 * and how the connection ended. Unlike testkit's `exchange`, nothing here throws on garbage or
 * on a timeout — the test decides what is acceptable.
 *
 * Also the /proc measure the leak checks use: open fds of a whole process tree.
 *
 * Test-side code; runs on the test's thread.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fdCount, openSocket, processTree, rssKb, until } from '@course/testkit';

export interface Conversation {
  /** Every byte received. */
  raw: Buffer;
  /**
   * 'closed': the server closed (FIN); 'reset': the connection was reset (RST, ECONNRESET or
   * EPIPE); 'timeout': neither happened within the time allowed (the client gave up and closed).
   */
  ended: 'closed' | 'reset' | 'timeout';
}

export interface ConverseOptions {
  /** Half-close (shutdown SHUT_WR) after the last piece, as `printf ... | nc -N` does. Default true. */
  halfClose?: boolean;
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
  /** Pause between pieces, so that each arrives in its own read. Default 2 ms. */
  pauseMs?: number;
}

/**
 * Connect, send `pieces` in order, half-close, and collect everything until the server closes
 * (or the time runs out). A server that reads the whole input sees it end, so it must answer the
 * complete requests and close: no client-side guess about "when the answer is complete" is needed.
 */
export async function converse(port: number, pieces: Uint8Array | string | ReadonlyArray<Uint8Array | string>, opts: ConverseOptions = {}): Promise<Conversation> {
  const sock = await openSocket(port);
  const list = typeof pieces === 'string' || pieces instanceof Uint8Array ? [pieces] : pieces;
  const chunks: Buffer[] = [];
  let reset = false;
  return new Promise<Conversation>((resolve) => {
    const timer = setTimeout(() => finish('timeout'), opts.timeoutMs ?? 10_000);
    function finish(how: Conversation['ended']): void {
      clearTimeout(timer);
      sock.destroy();
      resolve({ raw: Buffer.concat(chunks), ended: how });
    }
    sock.on('data', (d: Buffer) => chunks.push(d));
    // A write into a connection the server already closed fails too (EPIPE): that is an end, not a test failure.
    sock.on('error', () => { reset = true; });
    sock.on('close', () => finish(reset ? 'reset' : 'closed'));
    void (async () => {
      for (let i = 0; i < list.length; i++) {
        if (sock.destroyed) return;
        sock.write(list[i]!);
        if (i < list.length - 1) await pause(opts.pauseMs ?? 2);
      }
      if ((opts.halfClose ?? true) && !sock.destroyed) sock.end();
    })();
  });
}

export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Open fds of `pid` and all its descendants (children of 02, the wrapper of 02 included). */
export function treeFds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + fdCount(p), 0);
}

/**
 * The tree's fd count once it has not changed over ten looks, 50 ms apart: a server's threads
 * may still be opening their epoll fds and eventfds after its banner (later under load), so a
 * baseline taken at once can be one short.
 */
export async function steadyTreeFds(pid: number): Promise<number> {
  let last = -1;
  let same = 0;
  await until(() => {
    const now = treeFds(pid);
    same = now === last ? same + 1 : 0;
    last = now;
    return same >= 10;
  }, 15_000, 'a steady fd count');
  return last;
}

/**
 * Resident memory of the largest process of the tree, in KiB. For a forking model the tree's
 * sum would count every child's copy of the parent's pages; what must stay bounded is what one
 * process holds while it serves.
 */
export function largestRssKb(pid: number): number {
  return Math.max(...processTree(pid).map(rssKb));
}

/** Resolve when `sock` has received `bytes` bytes (or reject after `timeoutMs`). Leaves it flowing. */
export function receivedAtLeast(sock: Socket, bytes: number, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(() => reject(new Error(`got ${got} of ${bytes} bytes within ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got >= bytes) {
        clearTimeout(timer);
        sock.off('data', onData);
        resolve();
      }
    };
    sock.on('data', onData);
  });
}

/**
 * The kernel's queues of one IPv4 TCP socket on this machine, from /proc/net/tcp: `tx` bytes sent
 * and not yet acknowledged (or not sent: the peer's window is shut), `rx` bytes received and not
 * yet read by the application. Identified by its local and remote ports; undefined if gone.
 */
export function tcpQueues(localPort: number, remotePort: number): { tx: number; rx: number } | undefined {
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    const local = parseInt(f[1]!.split(':')[1]!, 16);
    const remote = parseInt(f[2]!.split(':')[1]!, 16);
    if (local !== localPort || remote !== remotePort) continue;
    const [tx, rx] = f[4]!.split(':').map((h) => parseInt(h, 16));
    return { tx: tx!, rx: rx! };
  }
  return undefined;
}
