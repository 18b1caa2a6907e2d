/**
 * An incremental UTF-8 validator (RFC 3629), for WebSocket text messages (RFC 6455 §8.1).
 *
 * A text message may arrive in any number of frames, and each frame in any number of reads, so a
 * code point may be cut anywhere: the validator keeps how many continuation bytes it still
 * expects, and the range the next one must fall in. The ranges are what makes UTF-8 strict:
 * after E0 the next byte is A0..BF (no overlong 3-byte forms), after ED it is 80..9F (no UTF-16
 * surrogates), after F0 90..BF (no overlong 4-byte forms), after F4 80..8F (nothing above
 * U+10FFFF); C0, C1 and F5..FF never appear.
 *
 * Threading: one validator per message being read, owned by its connection's parser.
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the current code point. */
  private need = 0;
  /** Inclusive range of the next continuation byte (narrower only right after a lead byte). */
  private lo = 0x80;
  private hi = 0xbf;

  /** Start a new message. */
  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  /** Check bytes[start, end). False at the first byte that no valid UTF-8 text could contain here. */
  push(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    let need = this.need;
    let lo = this.lo;
    let hi = this.hi;
    for (let i = start; i < end; i++) {
      const c = bytes[i]!;
      if (need === 0) {
        if (c < 0x80) continue; // ASCII: the common case
        if (c < 0xc2) return false; // a stray continuation byte, or an overlong 2-byte lead
        if (c < 0xe0) {
          need = 1;
        } else if (c < 0xf0) {
          need = 2;
          lo = c === 0xe0 ? 0xa0 : 0x80;
          hi = c === 0xed ? 0x9f : 0xbf;
        } else if (c < 0xf5) {
          need = 3;
          lo = c === 0xf0 ? 0x90 : 0x80;
          hi = c === 0xf4 ? 0x8f : 0xbf;
        } else {
          return false;
        }
      } else {
        if (c < lo || c > hi) return false;
        need--;
        lo = 0x80;
        hi = 0xbf;
      }
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
    return true;
  }

  /** True when the bytes so far end on a code point boundary: a message may end here. */
  get complete(): boolean {
    return this.need === 0;
  }
}

/** Whether `bytes` is, by itself, valid UTF-8 (a close frame's reason). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  const v = new Utf8Validator();
  return v.push(bytes) && v.complete;
}
