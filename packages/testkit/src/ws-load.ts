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
 * Where a stream of server frames stands between reads: payload bytes still to skip, the
 * opcode of the frame being skipped, and a header cut by a read boundary, gathered in `hdr`
 * (made at the first cut, ten bytes). A fresh state is `{ skip: 0, opcode: 0, hdr: null, hdrLen: 0 }`.
 */
export interface FrameState {
  skip: number;
  /** The frame being skipped: its opcode, or NOT_FINAL for a fragment that more follow. */
  opcode: number;
  hdr: Uint8Array | null;
  hdrLen: number;
}

/**
 * Counts the whole messages in a stream of server frames, across any split (countServerFrames).
 * Keeps only the few header bytes it needs between chunks, never a payload. A close frame ends
 * the count (`closed`).
 */
export class FrameCounter implements FrameState {
  /** Whole messages seen. */
  frames = 0;
  /** The server sent a close frame (or a frame no server may send): nothing more is counted. */
  closed = false;
  skip = 0;
  opcode = 0;
  hdr: Uint8Array | null = null;
  hdrLen = 0;

  /** Feed one chunk; returns how many messages it completed. */
  push(chunk: Uint8Array): number {
    if (this.closed) return 0;
    const n = countServerFrames(this, chunk, 0, chunk.length);
    if (n < 0) {
      this.closed = true;
      return 0;
    }
    this.frames += n;
    return n;
  }
}

// #region count-server-frames
/**
 * Count the whole server messages in buf[pos, end): the final frames of data messages (a ping,
 * a pong, a fragment before the last is skipped); a close frame or a masked one is -1. Headers are read in place; only one cut by the end of a read
 * is gathered in `s`. Payloads are skipped, never read. Pure but for `s`: any thread.
 */
export function countServerFrames(s: FrameState, buf: Uint8Array, pos: number, end: number): number {
  let frames = 0;
  while (pos < end) {
    if (s.skip > 0) {
      const take = Math.min(s.skip, end - pos);
      s.skip -= take;
      pos += take;
      if (s.skip === 0 && s.opcode < 0x8) frames++;
      continue;
    }
    let h: Uint8Array = buf;
    let at = pos;
    if (s.hdrLen > 0 || end - pos < 2 || end - pos < headerLength(buf[pos + 1]!)) {
      // A header cut by the read: gather it, byte by byte, until it is whole.
      const g = (s.hdr ??= new Uint8Array(10));
      g[s.hdrLen++] = buf[pos++]!;
      if (s.hdrLen < 2 || s.hdrLen < headerLength(g[1]!)) continue;
      h = g;
      at = 0;
      s.hdrLen = 0;
    } else {
      pos += headerLength(buf[pos + 1]!);
    }
    const b1 = h[at + 1]!;
    if ((b1 & 0x80) !== 0) return -1; // a masked server frame (§5.1)
    const len7 = b1 & 0x7f;
    const length = len7 < 126 ? len7 : len7 === 126 ? (h[at + 2]! << 8) | h[at + 3]! : uint32(h, at + 2) * 0x1_0000_0000 + uint32(h, at + 6);
    const b0 = h[at]!;
    if ((b0 & 0x0f) === 0x8) return -1;
    s.opcode = (b0 & 0x80) !== 0 ? b0 & 0x0f : NOT_FINAL;
    if (length === 0) {
      if (s.opcode < 0x8) frames++;
    } else {
      s.skip = length;
    }
  }
  return frames;
}

// #endregion count-server-frames

/** FrameState.opcode of a fragment that is not its message's last: not counted. */
const NOT_FINAL = 0x10;

/** A server frame's header length from its second byte (servers never mask). */
function headerLength(b1: number): number {
  const len7 = b1 & 0x7f;
  return len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
}

function uint32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
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
