/**
 * WebSocket framing (RFC 6455 §5): the frame parser a server reads client frames with, and the
 * encoder for the frames it sends.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-------+-+-------------+-------------------------------+
 *  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *  | |1|2|3|       |K|             |                               |
 *  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 *  |     Extended payload length continued, if payload len == 127  |
 *  + - - - - - - - - - - - - - - - +-------------------------------+
 *  |                               | Masking-key, if MASK set to 1 |
 *  +-------------------------------+-------------------------------+
 *  | Masking-key (continued)       |          Payload Data         |
 *  +-------------------------------- - - - - - - - - - - - - - - - +
 *
 * The parser is incremental and sans-I/O, like the HTTP parser: it is handed whatever a read
 * returned — half a header, one frame, fifty frames — and its verdicts never depend on where the
 * reads were split. A header is judged as soon as the bytes that decide it are there (the first
 * two bytes carry every rule except the length), so a bad frame is refused before its payload is
 * buffered. Payload bytes are unmasked straight into the message they belong to: one copy, out of
 * the model's reusable read buffer.
 *
 * What it refuses, with the close code the session sends (RFC 6455 §7.4.1):
 *
 *   1002  RSV1/2/3 set (no extension is negotiated: §5.2 MUST fail); an opcode RFC 6455 does not
 *         define (3-7, B-F); an unmasked client frame (§5.1 MUST close); a control frame that is
 *         fragmented or longer than 125 bytes (§5.5); a continuation with no message begun, or a
 *         text/binary frame inside a fragmented message (§5.4); a 64-bit length with its most
 *         significant bit set (§5.2); a close payload of 1 byte or with a code that may not be
 *         sent (§7.4: 1004-1006, 1015, below 1000, 1016-2999, 5000 and up).
 *   1007  a text message (or a close reason) that is not valid UTF-8 (§8.1), found as early as
 *         the bytes show it, across frames and reads.
 *   1009  a message whose total length would exceed `maxMessage`, refused on the header that
 *         announces it, before any of it is buffered.
 *
 * After an error, or once a close frame was read, the parser stops: later bytes are ignored.
 * Lengths need not be minimally encoded (§5.2 says they MUST be, but the `ws` package and the
 * browsers accept them, and nothing depends on it).
 *
 * Threading: a parser belongs to its connection's session, on the thread serving it.
 */
import { Buffer } from 'node:buffer';
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { Utf8Validator, isValidUtf8 } from './utf8.js';

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes this server sends or reports (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
/** Reported, never sent: the close frame carried no code. */
export const CLOSE_NO_STATUS = 1005;
/** Reported, never sent: the connection ended without a close frame. */
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;

/** The largest payload of a control frame (§5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * A code an endpoint may put in a close frame (§7.4): the codes RFC 6455 and its IANA registry
 * define for sending (1000-1003, 1007-1014), and the ranges for libraries and applications
 * (3000-4999). The same test as the `ws` package's.
 */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** What the parser found. Called synchronously from `push`; payloads are new buffers the callee owns. */
export interface FrameEvents {
  /** A whole message: every fragment joined, text already checked as UTF-8. */
  onMessage(data: Buffer, isBinary: boolean): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** A close frame: its code (CLOSE_NO_STATUS when it had none) and reason. The parser stops. */
  onClose(code: number, reason: string): void;
  /** The peer broke the protocol: the code to close with and why. The parser stops. */
  onError(code: number, reason: string): void;
}

// Where the parser stands.
const HEADER = 0; // collecting a frame header (2 to 14 bytes)
const PAYLOAD = 1; // unmasking payload bytes into their buffer
const STOPPED = 2; // a close frame or an error ended the stream

/**
 * One connection's frame parser. Owned by its session; `events` are called on the same thread.
 *
 * Memory: an idle WebSocket holds one of these, so it holds numbers and references only — no
 * buffer of its own. A header is read where it lies in the model's read buffer; only one cut by
 * a read boundary is gathered in a 14-byte scrap, allocated then and dropped once it is whole.
 * The mask is four numbers, the UTF-8 validator is made at the first text message.
 */
export class FrameParser {
  private state = HEADER;
  /** A header cut by a read boundary, gathered here (null while headers arrive whole). */
  private head: Uint8Array | null = null;
  private headLen = 0;
  /** How long this header is, once its first two bytes are known; 2 until then. */
  private headNeed = 2;

  // The frame being read.
  private fin = false;
  private opcode = 0;
  /** The masking key, byte by byte (numbers, not a buffer: see the class comment). */
  private m0 = 0;
  private m1 = 0;
  private m2 = 0;
  private m3 = 0;
  /** Payload bytes of this frame still to come, and how many came already (for the mask). */
  private left = 0;
  private done = 0;
  /** Where this frame's payload goes: the message buffer for data, a small one for control. */
  private target: Buffer = EMPTY;
  private targetAt = 0;

  // The message being assembled (data frames), possibly over several fragments.
  /** OP_TEXT or OP_BINARY while a fragmented message is open; 0 between messages. */
  private messageOp = 0;
  private message: Buffer = EMPTY;
  private messageLen = 0;
  private utf8: Utf8Validator | null = null;

  constructor(
    private readonly events: FrameEvents,
    /** The largest message accepted, in bytes, all fragments together (→ 1009). */
    private readonly maxMessage: number,
  ) {}

  /** True once a close frame was read, an error found, or `stop` called. */
  get stopped(): boolean {
    return this.state === STOPPED;
  }

  /** Ignore every later byte (the session is done with the connection). */
  stop(): void {
    this.state = STOPPED;
    this.message = EMPTY;
    this.target = EMPTY;
    this.head = null;
  }

  // #region frame-loop
  /** Bytes from the socket. `data` may view a reused buffer: nothing is kept after return. */
  push(data: Uint8Array): void {
    const end = data.length;
    let pos = 0;
    while (pos < end && this.state !== STOPPED) {
      if (this.state === HEADER) {
        pos = this.header(data, pos, end);
        continue;
      }
      // PAYLOAD: unmask what this read holds of it, straight into its buffer.
      const n = Math.min(this.left, end - pos);
      const at = this.targetAt;
      unmask(this.target, at, data, pos, n, this.done, this.m0, this.m1, this.m2, this.m3);
      this.done += n;
      this.targetAt = at + n;
      this.left -= n;
      pos += n;
      if (this.messageOp === OP_TEXT && this.opcode < OP_CLOSE && !this.utf8!.push(this.target, at, at + n)) {
        this.fail(CLOSE_INVALID_DATA, 'invalid UTF-8 in a text message');
        return;
      }
      if (this.left === 0) this.frameEnd();
    }
  }
  // #endregion frame-loop

  /**
   * Read a header starting at data[pos]: judged in place when the read holds all of it (the
   * usual case), else gathered in the scrap across reads. Returns where the payload starts, or
   * `end` when the header is not complete yet (or was refused: the parser stopped).
   */
  private header(data: Uint8Array, pos: number, end: number): number {
    if (this.headLen === 0 && end - pos >= 2) {
      if (!this.firstTwoBytes(data[pos]!, data[pos + 1]!)) return end;
      if (end - pos >= this.headNeed) {
        const next = pos + this.headNeed;
        this.headNeed = 2;
        return this.headerComplete(data, pos) ? next : end;
      }
    }
    return this.gather(data, pos, end);
  }

  /**
   * A header cut by the end of a read: gathered in the scrap, its first two bytes judged as
   * soon as they are in (unless they were judged in place already).
   */
  private gather(data: Uint8Array, pos: number, end: number): number {
    const head = (this.head ??= new Uint8Array(14));
    for (;;) {
      while (this.headLen < this.headNeed && pos < end) head[this.headLen++] = data[pos++]!;
      if (this.headLen < this.headNeed) return end; // the rest comes with the next read
      if (this.headNeed > 2) break; // judged, and whole
      if (!this.firstTwoBytes(head[0]!, head[1]!)) return end;
    }
    this.headLen = 0;
    this.headNeed = 2;
    this.head = null; // a connection between messages holds no buffer
    return this.headerComplete(head, 0) ? pos : end;
  }

  // #region header-rules
  /**
   * Judge what the first two bytes decide — FIN, RSV, opcode, MASK, the 7-bit length — and learn
   * how long the header is. False if the frame is refused.
   */
  private firstTwoBytes(b0: number, b1: number): boolean {
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if ((b0 & 0x70) !== 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'RSV bits set without a negotiated extension');
    if ((b1 & 0x80) === 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'client frame not masked');
    const len7 = b1 & 0x7f;
    if (opcode >= OP_CLOSE) {
      if (opcode > OP_PONG) return this.fail(CLOSE_PROTOCOL_ERROR, `unknown opcode 0x${opcode.toString(16)}`);
      if (!fin) return this.fail(CLOSE_PROTOCOL_ERROR, 'fragmented control frame');
      if (len7 > MAX_CONTROL_PAYLOAD) return this.fail(CLOSE_PROTOCOL_ERROR, 'control frame longer than 125 bytes');
    } else if (opcode > OP_BINARY) {
      return this.fail(CLOSE_PROTOCOL_ERROR, `unknown opcode 0x${opcode.toString(16)}`);
    } else if (opcode === OP_CONTINUATION) {
      if (this.messageOp === 0) return this.fail(CLOSE_PROTOCOL_ERROR, 'continuation frame without a message to continue');
    } else if (this.messageOp !== 0) {
      return this.fail(CLOSE_PROTOCOL_ERROR, 'new data frame inside a fragmented message');
    }
    this.fin = fin;
    this.opcode = opcode;
    this.headNeed = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
    return true;
  }
  // #endregion header-rules

  // #region length-and-limit
  /** The whole header is in `h` from `at`: read the length and the mask, and find the payload a home. */
  private headerComplete(h: Uint8Array, at: number): boolean {
    const len7 = h[at + 1]! & 0x7f;
    let length: number;
    let maskAt = at + 2;
    if (len7 === 126) {
      length = (h[at + 2]! << 8) | h[at + 3]!;
      maskAt = at + 4;
    } else if (len7 === 127) {
      const hi = uint32(h, at + 2);
      if (hi >= 0x80000000) return this.fail(CLOSE_PROTOCOL_ERROR, '64-bit payload length with its most significant bit set');
      length = hi * 0x1_0000_0000 + uint32(h, at + 6); // above 2^53 only roughly: still over any limit
      maskAt = at + 10;
    } else {
      length = len7;
    }
    this.m0 = h[maskAt]!;
    this.m1 = h[maskAt + 1]!;
    this.m2 = h[maskAt + 2]!;
    this.m3 = h[maskAt + 3]!;
    this.left = length;
    this.done = 0;

    const opcode = this.opcode;
    if (opcode >= OP_CLOSE) {
      this.target = length === 0 ? EMPTY : Buffer.allocUnsafe(length);
      this.targetAt = 0;
    } else {
      if (length > this.maxMessage - this.messageLen) return this.fail(CLOSE_TOO_BIG, `message longer than ${this.maxMessage} bytes`);
      if (opcode !== OP_CONTINUATION) {
        this.messageOp = opcode;
        this.messageLen = 0;
        if (opcode === OP_TEXT) (this.utf8 ??= new Utf8Validator()).reset();
        // An unfragmented message gets a buffer of its exact size; a fragmented one grows.
        this.message = length === 0 && this.fin ? EMPTY : Buffer.allocUnsafe(length);
      } else if (this.messageLen + length > this.message.length) {
        const grown = Buffer.allocUnsafe(Math.min(this.maxMessage, Math.max(this.messageLen + length, 2 * this.message.length)));
        this.message.copy(grown, 0, 0, this.messageLen);
        this.message = grown;
      }
      this.target = this.message;
      this.targetAt = this.messageLen;
      this.messageLen += length;
    }
    if (length === 0) this.frameEnd();
    else this.state = PAYLOAD;
    return true;
  }
  // #endregion length-and-limit

  /** A frame's payload is all in. */
  private frameEnd(): void {
    this.state = HEADER;
    const opcode = this.opcode;
    const payload = this.target;
    this.target = EMPTY;
    if (opcode === OP_PING) return this.events.onPing(payload);
    if (opcode === OP_PONG) return this.events.onPong(payload);
    if (opcode === OP_CLOSE) return this.closeFrame(payload);
    if (!this.fin) return; // more fragments follow
    const isBinary = this.messageOp === OP_BINARY;
    if (!isBinary && !this.utf8!.complete) return void this.fail(CLOSE_INVALID_DATA, 'text message ends inside a UTF-8 sequence');
    const message = this.messageLen === this.message.length ? this.message : this.message.subarray(0, this.messageLen);
    this.messageOp = 0;
    this.message = EMPTY;
    this.messageLen = 0;
    this.events.onMessage(message, isBinary);
  }

  /** A close frame: no payload, or a 2-byte code and a UTF-8 reason (§5.5.1). */
  private closeFrame(payload: Buffer): void {
    if (payload.length === 1) return void this.fail(CLOSE_PROTOCOL_ERROR, 'close frame with a 1-byte payload');
    let code = CLOSE_NO_STATUS;
    let reason = '';
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isSendableCloseCode(code)) return void this.fail(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
      const text = payload.subarray(2);
      if (!isValidUtf8(text)) return void this.fail(CLOSE_INVALID_DATA, 'close reason is not valid UTF-8');
      reason = text.toString('utf8');
    }
    this.stop();
    this.events.onClose(code, reason);
  }

  /** Refuse the stream: stop, and tell the session which code to close with. Returns false. */
  private fail(code: number, reason: string): false {
    this.stop();
    this.events.onError(code, reason);
    return false;
  }
}

const EMPTY = Buffer.alloc(0);

function uint32(h: Uint8Array, at: number): number {
  return ((h[at]! << 24) >>> 0) + ((h[at + 1]! << 16) | (h[at + 2]! << 8) | h[at + 3]!);
}

// #region unmask
/**
 * dst[at, at+n) = src[pos, pos+n) XOR the mask, `k` bytes into the frame's payload (the mask
 * repeats every 4 bytes, §5.3). Four bytes a turn with the key rotated to the right phase: no
 * index arithmetic per byte. (A 32-bit view would need both buffers aligned alike; the read
 * buffer and a pooled Buffer are not.)
 */
function unmask(dst: Uint8Array, at: number, src: Uint8Array, pos: number, n: number, k: number, m0: number, m1: number, m2: number, m3: number): void {
  let a = m0;
  let b = m1;
  let c = m2;
  let d = m3;
  for (let r = k & 3; r > 0; r--) {
    const t = a;
    a = b;
    b = c;
    c = d;
    d = t;
  }
  let i = 0;
  for (const n4 = n - 3; i < n4; i += 4) {
    dst[at + i] = src[pos + i]! ^ a;
    dst[at + i + 1] = src[pos + i + 1]! ^ b;
    dst[at + i + 2] = src[pos + i + 2]! ^ c;
    dst[at + i + 3] = src[pos + i + 3]! ^ d;
  }
  if (i < n) dst[at + i] = src[pos + i]! ^ a;
  if (i + 1 < n) dst[at + i + 1] = src[pos + i + 1]! ^ b;
  if (i + 2 < n) dst[at + i + 2] = src[pos + i + 2]! ^ c;
}
// #endregion unmask

// ---------------------------------------------------------------------------------------------
// Frames the server sends: never masked (§5.1), never fragmented here, FIN set.

/** The header of an unmasked frame carrying `length` bytes: 2, 4 or 10 bytes. */
export function frameHeader(opcode: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(headerLength(length));
  writeHeader(header, opcode, length);
  return header;
}

function headerLength(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

/** Write the header of an unmasked, final frame at the start of `buf`. */
function writeHeader(buf: Buffer, opcode: number, length: number): void {
  buf[0] = 0x80 | opcode;
  if (length < 126) {
    buf[1] = length;
  } else if (length < 0x10000) {
    buf[1] = 126;
    buf[2] = length >>> 8;
    buf[3] = length & 0xff;
  } else {
    buf[1] = 127;
    buf.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    buf.writeUInt32BE(length >>> 0, 6);
  }
}

// #region encode-frame
/**
 * One whole frame, header and payload in one new buffer (one write, one iovec). A string is
 * written as UTF-8 straight into it. Encode once, send to many: the buffer is never modified, so
 * every connection of a broadcast can queue the same bytes.
 */
export function encodeFrame(opcode: number, payload: string | Uint8Array): Buffer {
  if (typeof payload === 'string') {
    const length = Buffer.byteLength(payload, 'utf8');
    const at = headerLength(length);
    const frame = Buffer.allocUnsafe(at + length);
    writeHeader(frame, opcode, length);
    frame.write(payload, at, length, 'utf8');
    return frame;
  }
  const length = payload.length;
  const at = headerLength(length);
  const frame = Buffer.allocUnsafe(at + length);
  writeHeader(frame, opcode, length);
  frame.set(payload, at);
  return frame;
}
// #endregion encode-frame

/**
 * A close frame with `code` and `reason` (reason cut to fit a control frame's 125 bytes, on a
 * code point boundary). CLOSE_NO_STATUS gives an empty close frame.
 */
export function closeFrame(code: number, reason = ''): Buffer {
  if (code === CLOSE_NO_STATUS) return encodeFrame(OP_CLOSE, EMPTY);
  let text = Buffer.from(reason, 'utf8');
  if (text.length > MAX_CONTROL_PAYLOAD - 2) text = Buffer.from(text.subarray(0, MAX_CONTROL_PAYLOAD - 2).toString('utf8').replace(/\uFFFD$/, ''), 'utf8');
  const payload = Buffer.allocUnsafe(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  return encodeFrame(OP_CLOSE, payload);
}

/**
 * A frame as a client sends it: masked with `maskKey` (4 bytes; random if absent, §5.3). The
 * options make malformed frames too, for tests: `fin: false` for a fragment, `rsv` for the RSV
 * bits (0-7), `masked: false` to leave the mask out, `length` to announce a length other than
 * the payload's (a lie, or a 64-bit length nobody would send).
 */
export function encodeClientFrame(
  opcode: number,
  payload: string | Uint8Array,
  opts: { fin?: boolean; rsv?: number; masked?: boolean; maskKey?: Uint8Array; length?: number } = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const length = opts.length ?? data.length;
  const masked = opts.masked ?? true;
  const header = frameHeader(opcode, length);
  header[0] = ((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode;
  if (!masked) return Buffer.concat([header, data]);
  header[1]! |= 0x80;
  // node:crypto only when a client frame is made (tests, clients), not whenever a server loads this.
  const key = opts.maskKey ?? (createRequire(import.meta.url)('node:crypto') as typeof Crypto).randomBytes(4);
  const body = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i]! ^ key[i & 3]!;
  return Buffer.concat([header, key.subarray(0, 4), body]);
}
