/** The echo protocol: bytes in, the same bytes out, whatever the chunking. */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { echoProtocol } from '../src/index.js';
import { RecordingSink } from '../src/testing.js';

describe('echo', () => {
  it('is named echo and announced as tcp', () => {
    const protocol = echoProtocol();
    expect([protocol.name, protocol.scheme]).toEqual(['echo', 'tcp']);
  });

  it('echoes 1 MB fed in random chunk sizes byte-exact, even though the read buffer is reused', () => {
    const input = randomBytes(1024 * 1024);
    const sink = new RecordingSink();
    const session = echoProtocol().open(sink);
    // Like a model: one read buffer, overwritten by every read. The session must copy.
    const readBuffer = Buffer.alloc(65536);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 65536 }), { minLength: 1, maxLength: 64 }), (sizes) => {
        sink.events.length = 0;
        let at = 0;
        const sentBefore = sink.output().length;
        for (let i = 0; at < input.length; i++) {
          const n = Math.min(sizes[i % sizes.length]!, input.length - at);
          input.copy(readBuffer, 0, at, at + n);
          session.receive(readBuffer.subarray(0, n));
          readBuffer.fill(0xee); // the model's next read overwrites it
          at += n;
        }
        expect(sink.output().subarray(sentBefore).equals(input)).toBe(true);
      }),
      { numRuns: 5 },
    );
    expect(session.midRequest).toBe(false);
  });

  it('ends the connection when the peer half-closes, after what it echoed', () => {
    const sink = new RecordingSink();
    const session = echoProtocol().open(sink);
    session.receive(Buffer.from('last words'));
    session.peerClosed();
    expect(sink.output().toString()).toBe('last words');
    expect(sink.events.at(-1)).toEqual({ type: 'end' });
    session.close();
  });
});
