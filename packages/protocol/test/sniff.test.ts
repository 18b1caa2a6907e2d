/** Port unification: the first bytes pick HTTP or the TCP protocol, within SNIFF_LIMIT bytes. */
import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { SNIFF_LIMIT, echoProtocol, httpProtocol, lineCodec, sniff, sniffProtocol, DEMO_SITE_ROOT } from '../src/index.js';
import { RecordingSink } from '../src/testing.js';

const auto = () => sniffProtocol(httpProtocol({ root: DEMO_SITE_ROOT }), echoProtocol({ codec: lineCodec(64) }));

describe('sniff', () => {
  it('says http for a method and a space, tcp as soon as the bytes cannot become one, and waits in between', () => {
    expect(sniff(Buffer.from('GET '))).toBe('http');
    expect(sniff(Buffer.from('OPTIONS / HTTP/1.1'))).toBe('http');
    expect(sniff(Buffer.from('GE'))).toBeNull();
    expect(sniff(Buffer.from(''))).toBeNull();
    expect(sniff(Buffer.from('GETX'))).toBe('tcp');
    expect(sniff(Buffer.from('get / HTTP/1.1'))).toBe('tcp'); // methods are case-sensitive
    expect(sniff(Buffer.from('/nick ann\n'))).toBe('tcp');
    expect(sniff(Buffer.from('hello world\n'))).toBe('tcp');
  });

  it('never waits for more than SNIFF_LIMIT bytes', () => {
    for (const text of ['OPTIONS', 'CONNECT', 'DELETE', 'OPTIONSX', 'GET']) {
      const head = Buffer.from(text.padEnd(SNIFF_LIMIT, 'X'));
      expect(sniff(head)).not.toBeNull();
    }
  });
});

describe('sniffProtocol', () => {
  it('serves HTTP from bytes split across the decision', () => {
    const sink = new RecordingSink();
    const session = auto().open(sink);
    expect(session.midRequest).toBe(true); // silent: the header timeout applies
    for (const piece of ['GE', 'T /nope', ' HTTP/1.1\r\nHost: x\r\n\r\n']) session.receive(Buffer.from(piece));
    expect(sink.output().toString('latin1')).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('echoes line frames when the first bytes are not HTTP, including the bytes read while undecided', () => {
    const sink = new RecordingSink();
    const session = auto().open(sink);
    session.receive(Buffer.from('P'));
    session.receive(Buffer.from('ing\nsecond\r\n'));
    expect(sink.output().toString('latin1')).toBe('Ping\nsecond\n');
    expect(session.midRequest).toBe(false);
  });

  it('ends a connection that closes before deciding, answering nothing', () => {
    const sink = new RecordingSink();
    const session = auto().open(sink);
    session.receive(Buffer.from('GE'));
    session.peerClosed();
    expect(sink.output().length).toBe(0);
    expect(sink.ended).toBe(true);
  });
});
