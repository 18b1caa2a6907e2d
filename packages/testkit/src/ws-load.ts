/**
 * A cheap WebSocket load side for many connections that mostly wait — the bench's ws-broadcast
 * and ws-idle-10k scenarios, and the tests (the echo load, where every message counts, runs on
 * @course/client's echo engine instead): raw node:net
 * sockets, the upgrade written by hand, client frames masked and encoded ONCE and written again
 * and again, and server frames counted (not decoded into strings) as they stream in. A JavaScript
 * WebSocket library spends more per message than the server under test does; this spends one
 * write per message sent and a few byte reads per message received.
 *
 * Runs on the calling thread and only ever targets 127.0.0.1 (or the host it is given).
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** One client frame: FIN set, masked as RFC 6455 §5.3 requires of clients. */
export function maskedFrame(opcode: number, payload: Uint8Array | string): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const len = data.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) {
    frame[1] = 0x80 | len;
  } else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, head);
  for (let i = 0; i < len; i++) frame[head + 4 + i] = data[i]! ^ mask[i & 3]!;
  return frame;
}

/**
 * Counts the whole frames in a stream of server frames (unmasked), across any split. Keeps only
 * the few header bytes it needs between chunks, never a payload.
 */
export class FrameCounter {
  /** Whole frames seen. */
  frames = 0;
  /** Payload bytes still to skip of the current frame. */
  private remaining = 0;
  /** Header bytes of the next frame gathered so far (a header can be split too). */
  private head = Buffer.alloc(14);
  private headLen = 0;

  /** Feed one chunk; returns how many frames it completed. */
  push(chunk: Buffer): number {
    let done = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) done++;
        continue;
      }
      this.head[this.headLen++] = chunk[i++]!;
      const need = headerLength(this.head, this.headLen);
      if (need === 0 || this.headLen < need) continue;
      const len = payloadLength(this.head);
      this.headLen = 0;
      if (len === 0) done++;
      else this.remaining = len;
    }
    this.frames += done;
    return done;
  }
}

/** The full header length once enough is known (0: not yet). Servers never mask. */
function headerLength(h: Buffer, have: number): number {
  if (have < 2) return 0;
  const b = h[1]! & 0x7f;
  return b < 126 ? 2 : b === 126 ? 4 : 10;
}

function payloadLength(h: Buffer): number {
  const b = h[1]! & 0x7f;
  if (b < 126) return b;
  if (b === 126) return h.readUInt16BE(2);
  return Number(h.readBigUInt64BE(2));
}

/** One open WebSocket of the load side. */
export interface RawWebSocket {
  sock: Socket;
  counter: FrameCounter;
  /** Called with the number of frames each chunk completed. */
  onFrames: ((n: number) => void) | null;
}

/**
 * Open one WebSocket to `path`: the upgrade by hand, resolved once the 101 arrived (frames
 * behind it in the same read are counted). Rejects on any other answer or after `timeoutMs`.
 */
export function openRawWebSocket(port: number, host: string, path: string, timeoutMs = 10_000): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host });
    sock.setNoDelay(true);
    const ws: RawWebSocket = { sock, counter: new FrameCounter(), onFrames: null };
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`no 101 within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.once('error', fail);
    sock.once('connect', () => {
      const key = randomBytes(16).toString('base64');
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    const onHead = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onHead);
      clearTimeout(timer);
      sock.off('error', fail);
      sock.on('error', () => { /* the caller sees the close */ });
      if (!head.subarray(0, 13).toString('latin1').startsWith('HTTP/1.1 101')) {
        fail(new Error(`upgrade refused: ${head.subarray(0, head.indexOf('\r\n')).toString('latin1')}`));
        return;
      }
      sock.on('data', (chunk: Buffer) => {
        const n = ws.counter.push(chunk);
        if (n > 0) ws.onFrames?.(n);
      });
      const rest = head.subarray(end + 4);
      if (rest.length > 0) ws.counter.push(rest);
      resolve(ws);
    };
    sock.on('data', onHead);
  });
}

/** Open `n` WebSockets, `batch` at a time (a burst of 10,000 connects overflows the accept queue). */
export async function openRawWebSockets(port: number, host: string, path: string, n: number, batch = 100): Promise<{ clients: RawWebSocket[]; failures: number; firstError: string | null; release(): void }> {
  const clients: RawWebSocket[] = [];
  let failures = 0;
  let firstError: string | null = null;
  for (let i = 0; i < n; i += batch) {
    const settled = await Promise.allSettled(Array.from({ length: Math.min(batch, n - i) }, () => openRawWebSocket(port, host, path)));
    for (const s of settled) {
      if (s.status === 'fulfilled') clients.push(s.value);
      else {
        failures++;
        firstError ??= (s.reason as Error).message;
      }
    }
  }
  return { clients, failures, firstError, release: () => { for (const c of clients) c.sock.destroy(); } };
}

/**
 * One broadcast round: `trigger` (a message that makes the server broadcast one frame) goes out
 * on `sender`; resolves with the ms until every one of `clients` has received one more frame, or
 * rejects after `timeoutMs` naming how many had it.
 */
export function broadcastRound(sender: RawWebSocket, trigger: Buffer, clients: RawWebSocket[], timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    let waiting = clients.length;
    const t0 = performance.now();
    const timer = setTimeout(() => {
      for (const c of clients) c.onFrames = null;
      reject(new Error(`${clients.length - waiting} of ${clients.length} clients had the broadcast after ${timeoutMs} ms`));
    }, timeoutMs);
    for (const c of clients) {
      c.onFrames = () => {
        c.onFrames = null; // one frame is this round's
        if (--waiting === 0) {
          clearTimeout(timer);
          resolve(performance.now() - t0);
        }
      };
    }
    sender.sock.write(trigger);
  });
}
