/**
 * Our parser against llhttp's request vectors (see packages/testkit/src/llhttp.ts for the format).
 *
 * Every case is run twice — all bytes in one push, and one byte per push — and both runs must
 * agree. Strict cases (`type: "request"`) must reach llhttp's verdict, except where the table
 * OVERRIDES (or one of the RULES below) gives ours with the RFC 9112 section that allows it.
 * Lenient cases (`request-lenient-*`) need one of llhttp's leniency flags, so we, being strict,
 * must reject them. Accepted messages are checked field by field against the log's spans.
 */
import { describe, expect, test } from 'vitest';
import { RequestParser, isParseError, type HttpParseError, type HttpRequest } from '../src/http/parser.js';
import { countMetaComments, injectHost, INJECTED_HOST, loadLlhttpCases, type LlhttpCase, type LogMessage, type Span } from '@course/testkit';

// ---------------------------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------------------------

/** How a byte stream ends for us: `requests` requests come out, then an error, a partial request, or nothing. */
interface Verdict {
  requests: number;
  end: 'error' | 'incomplete' | 'idle';
  /** Required status when end is 'error' (any status if absent). */
  status?: HttpParseError['status'];
  /** Required shape of the error reason. */
  reason?: RegExp;
}

/** Where our verdict differs from llhttp's for one case, and why we may. */
interface Override {
  ours: Verdict;
  rfc: string;
  why: string;
  /** Verdict once a Host field is added to every HTTP/1.1 message lacking one (see injectHost). */
  withHost?: Verdict;
}

const MISSING_HOST = /missing Host/;

const NON_HTTP_VERSION = 'RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT';
const ANY_TOKEN_METHOD =
  'RFC 9112 §3.1: a method is any token; llhttp\'s per-protocol method lists are its own policy (the session answers 501 to methods it does not implement, RFC 9110 §9.1)';

// #region overrides
const OVERRIDES: Record<string, Override> = {
  // Methods and protocols.
  'invalid.md › HTTP protocol and ANNOUNCE method': {
    ours: { requests: 1, end: 'idle' }, // HTTP/1.0 without keep-alive: the stream ends after it
    rfc: ANY_TOKEN_METHOD,
    why: 'ANNOUNCE is a token, HTTP/1.0 needs no Host',
  },
  'invalid.md › Invalid method': {
    ours: { requests: 0, end: 'error', status: 400, reason: MISSING_HOST },
    withHost: { requests: 1, end: 'idle' },
    rfc: ANY_TOKEN_METHOD,
    why: 'MKCOLA is a token; only the missing Host makes this request invalid',
  },
  'method.md › SOURCE request with ICE': {
    ours: { requests: 0, end: 'error', status: 400, reason: /malformed request line/ },
    rfc: NON_HTTP_VERSION,
    why: 'ICE/1.0 is not HTTP',
  },
  'method.md › OPTIONS request with RTSP': {
    ours: { requests: 0, end: 'error', status: 400, reason: /malformed request line/ },
    rfc: NON_HTTP_VERSION,
    why: 'RTSP/1.0 is not HTTP',
  },
  'method.md › ANNOUNCE request with RTSP': {
    ours: { requests: 0, end: 'error', status: 400, reason: /malformed request line/ },
    rfc: NON_HTTP_VERSION,
    why: 'RTSP/1.0 is not HTTP',
  },
  'sample.md › No HTTP version': {
    ours: { requests: 0, end: 'error', status: 400, reason: /malformed request line/ },
    rfc: 'RFC 9112 §3: request-line = method SP request-target SP HTTP-version',
    why: 'an HTTP/0.9 simple request has no version; we do not speak 0.9',
  },
  'invalid.md › Invalid HTTP version': {
    ours: { requests: 0, end: 'incomplete' },
    rfc: 'RFC 9112 §2.2 (a line ends with CRLF)',
    why: 'the input stops before the line\'s CRLF and we judge a line once it is settled; with its CRLF it is a 505 (unit-tested)',
  },
  // Targets.
  'method.md › M-SEARCH request': {
    ours: { requests: 0, end: 'error', status: 400, reason: /request-target/ },
    rfc: 'RFC 9112 §3.2.4: the asterisk-form is only used for a server-wide OPTIONS request',
    why: 'M-SEARCH * is SSDP, not HTTP',
  },
  'method.md › PRI request HTTP2': {
    ours: { requests: 0, end: 'error', status: 400, reason: /request-target/ },
    rfc: 'RFC 9112 §3.2.4 (asterisk-form only for OPTIONS); RFC 9113 §3.4 (the preface is built to fail on HTTP/1.1 servers)',
    why: 'llhttp pauses on the HTTP/2 preface; we answer it as the invalid HTTP/1.1 request it is',
  },
  'uri.md › `host:port` and basic auth': {
    ours: { requests: 0, end: 'error', status: 400, reason: /request-target/ },
    rfc: 'RFC 9110 §4.2.4: userinfo in an http(s) target is to be treated as an error',
    why: 'http://a%12:b!&*$@host/ carries credentials',
  },
  // Framing.
  'content-length.md › Content-Length reset when no body is received': {
    ours: { requests: 0, end: 'error', status: 400, reason: MISSING_HOST },
    withHost: { requests: 0, end: 'incomplete' },
    rfc: 'RFC 9112 §6.3 item 6: a valid Content-Length frames the request body',
    why: 'skipBody is llhttp\'s callback for responses to HEAD; a request\'s 123 bytes of body are read (the next "request" is body)',
  },
  'transfer-encoding.md › POST with `chunked` as last transfer-encoding': {
    ours: { requests: 0, end: 'error', status: 501 },
    withHost: { requests: 0, end: 'error', status: 501 },
    rfc: 'RFC 9112 §6.1: a server SHOULD answer 501 to a transfer coding it does not understand',
    why: 'we implement chunked only; deflate under it is refused (framing is checked before Host)',
  },
  'transfer-encoding.md › POST with `chunked` as last transfer-encoding (multiple headers)': {
    ours: { requests: 0, end: 'error', status: 501 },
    withHost: { requests: 0, end: 'error', status: 501 },
    rfc: 'RFC 9112 §6.1: a server SHOULD answer 501 to a transfer coding it does not understand',
    why: 'as above, with the codings on two field lines',
  },
  // Lenient cases we do not simply reject.
  'connection.md › Resetting flags when keep-alive is off (1.0, lenient)': {
    ours: { requests: 1, end: 'idle' },
    rfc: 'RFC 9112 §9.6: no request after one that closes the connection is processed',
    why: 'the HTTP/1.0 request is served, what follows is ignored (llhttp-strict errors instead)',
  },
  'connection.md › CRLF between requests, explicit `close` (lenient)': {
    ours: { requests: 1, end: 'idle' },
    rfc: 'RFC 9112 §9.6: no request after one that closes the connection is processed',
    why: 'the request with Connection: close is served, what follows is ignored',
  },
  'lenient-headers.md › Second request header value (lenient)': {
    ours: { requests: 0, end: 'error', status: 400, reason: MISSING_HOST },
    withHost: { requests: 1, end: 'error', status: 400, reason: /field value/ },
    rfc: 'RFC 9112 §3.2 first, then RFC 9110 §5.5 (no control characters in a field value)',
    why: 'both requests lack Host; with Host, the second is refused for its \\f',
  },
  'transfer-encoding.md › Space after chunk header (lenient)': {
    ours: { requests: 0, end: 'error', status: 400, reason: MISSING_HOST },
    withHost: { requests: 0, end: 'error', status: 400, reason: /chunk-size/ },
    rfc: 'RFC 9112 §3.2 first, then §7.1.1 (BWS after a chunk size must lead to ";")',
    why: 'the request lacks Host; with Host, the chunk-size line is refused',
  },
};
// #endregion overrides

// #region rules
/**
 * Rules that decide many cases at once. Each counts as an override of llhttp's verdict.
 * - host: llhttp leaves Host to the application; RFC 9112 §3.2 says a server MUST answer 400 to an
 *   HTTP/1.1 request without Host. Most vectors omit it, so we expect 400 at the first such
 *   message, and then run the case again with a Host line added to check everything else.
 * - close: llhttp reports "Data after `Connection: close`" as an error. We stop reading after a
 *   request that ends the connection (RFC 9112 §9.6: the server MUST NOT process further
 *   requests), so the stream ends quietly after it.
 * - connect: llhttp pauses after CONNECT for the tunnel. We return the CONNECT request (the
 *   session answers 405) and, like after `close`, ignore what follows: it may be tunnel data.
 * - upgrade: llhttp pauses after a request with `Connection: upgrade`. We ignore Upgrade (RFC
 *   9110 §7.8: a server MAY) and keep parsing HTTP/1.1, so the bytes after the request are the
 *   beginning of the next one —
 * - websocket: except after a GET asking for `websocket`: there we stop as llhttp does, and
 *   keep the bytes after it for the WebSocket session (nothing is left mid-request).
 */
const RULES = {
  host: 'RFC 9112 §3.2 (HTTP/1.1 request without Host → 400)',
  close: 'RFC 9112 §9.6 (no request is processed after Connection: close)',
  connect: 'RFC 9110 §9.3.6 (CONNECT parsed; nothing after it read as HTTP)',
  upgrade: 'RFC 9110 §7.8 (Upgrade ignored; next bytes are the next request)',
  websocket: 'RFC 6455 §4.2 (parsing stops after a WebSocket upgrade; next bytes are frames)',
} as const;
// #endregion rules
type Rule = keyof typeof RULES;

/** llhttp's verdict, translated to ours by the close/connect/upgrade rules where they apply. */
function llhttpVerdict(c: LlhttpCase): { verdict: Verdict; rule?: Rule } {
  const completed = c.messages.filter((m) => m.completeAt !== undefined).length;
  const end = c.end;
  if (end.kind === 'eof') {
    const last = c.messages[c.messages.length - 1];
    const partial = last !== undefined && last.completeAt === undefined;
    return { verdict: { requests: completed, end: partial ? 'incomplete' : 'idle' } };
  }
  if (end.code === 5) return { verdict: { requests: completed, end: 'idle' }, rule: 'close' };
  if (end.code === 22) {
    const last = c.messages[c.messages.length - 1]!;
    if (text(c, last.method) === 'CONNECT') return { verdict: { requests: completed, end: 'idle' }, rule: 'connect' };
    const upgrade = last.headers.filter((h) => text(c, h.name).toLowerCase() === 'upgrade');
    const websocket = upgrade.some((h) => /(?:^|,)\s*websocket\s*(?:,|$)/i.test(h.value.map((v) => text(c, v)).join('')));
    if (text(c, last.method) === 'GET' && websocket) return { verdict: { requests: completed, end: 'idle' }, rule: 'websocket' };
    // The rest of the input is read as the start of another request; in these vectors it never
    // holds an LF, so that request stays incomplete.
    const rest = c.raw.subarray(last.completeAt);
    if (rest.includes(0x0a)) throw new Error(`${c.id}: upgrade remainder holds a line; give it an explicit override`);
    return { verdict: { requests: completed, end: rest.length > 0 ? 'incomplete' : 'idle' }, rule: 'upgrade' };
  }
  return { verdict: { requests: completed, end: 'error' } };
}

/**
 * The first message (index) whose head llhttp accepted as HTTP/1.1 without a Host field, or -1.
 * A head llhttp rejected at `headers complete` (an invalid Transfer-Encoding) does not count: both
 * parsers reject that message, for their own reasons.
 */
function firstHostless(c: LlhttpCase): number {
  return c.messages.findIndex((m, i) => {
    if (m.version?.major !== 1 || m.version.minor !== 1) return false;
    if (m.headers.some((h) => text(c, h.name).toLowerCase() === 'host')) return false;
    const last = i === c.messages.length - 1;
    return !(last && c.end.kind === 'error' && c.end.off === m.headersAt && m.completeAt === undefined);
  });
}

// ---------------------------------------------------------------------------------------------
// Running our parser
// ---------------------------------------------------------------------------------------------

interface Run {
  requests: HttpRequest[];
  error: HttpParseError | null;
  midRequest: boolean;
}

/** Feeds `bytes` in pieces of `step` bytes (each a fresh view, as a model's read buffer would be). */
function run(bytes: Uint8Array, step = bytes.length): Run {
  const parser = new RequestParser();
  const requests: HttpRequest[] = [];
  let error: HttpParseError | null = null;
  const drain = (): void => {
    for (let r = parser.next(); r !== null; r = parser.next()) {
      if (isParseError(r)) {
        error = r;
        return;
      }
      requests.push(r);
    }
  };
  for (let i = 0; i < bytes.length; i += Math.max(step, 1)) {
    parser.push(bytes.slice(i, i + Math.max(step, 1)));
    drain();
  }
  drain();
  return { requests, error, midRequest: parser.midRequest };
}

function runBothWays(bytes: Uint8Array): Run {
  const whole = run(bytes);
  expect(run(bytes, 1), 'byte-by-byte feeding gives the same result as one push').toEqual(whole);
  return whole;
}

function expectVerdict(result: Run, verdict: Verdict): void {
  const summary = {
    requests: result.requests.length,
    end: result.error !== null ? 'error' : result.midRequest ? 'incomplete' : 'idle',
    error: result.error,
  };
  expect(summary.requests, `requests before the end (${JSON.stringify(summary.error)})`).toBe(verdict.requests);
  expect(summary.end, `end of stream (${JSON.stringify(summary.error)})`).toBe(verdict.end);
  if (verdict.status !== undefined) expect(result.error?.status).toBe(verdict.status);
  if (verdict.reason !== undefined) expect(result.error?.reason).toMatch(verdict.reason);
}

// ---------------------------------------------------------------------------------------------
// Field values against the log's spans
// ---------------------------------------------------------------------------------------------

function text(c: LlhttpCase, span: Span | undefined): string {
  return span === undefined ? '' : c.raw.toString('latin1', span.off, span.off + span.len);
}

/** Our request `req` says what llhttp's log says of message `m`. */
function expectSameFields(c: LlhttpCase, m: LogMessage, req: HttpRequest, hostInjected: boolean): void {
  expect(req.method).toBe(text(c, m.method));
  expect(req.target).toBe(text(c, m.url));
  if (m.version !== undefined) expect(req.versionMinor).toBe(m.version.minor);
  let headers = req.headers;
  if (hostInjected) {
    expect(headers[0]).toEqual(['host', INJECTED_HOST]);
    headers = headers.slice(1);
  }
  // llhttp's value span keeps trailing whitespace; ours is trimmed (RFC 9110 §5.5: OWS is not part of the value).
  const logged = m.headers.map((h) => [text(c, h.name).toLowerCase(), h.value.map((v) => text(c, v)).join('').replace(/[ \t]+$/, '')]);
  expect(headers).toEqual(logged);
  if (m.contentLength !== undefined && req.method !== 'CONNECT') {
    expect(req.hasBody).toBe(m.contentLength > 0 || ((m.flags ?? 0) & 0x8) !== 0); // 0x8: F_CHUNKED
  }
}

/** Checks every message both we and llhttp accepted. */
function expectSameMessages(c: LlhttpCase, result: Run, injected: Set<number>): void {
  result.requests.forEach((req, i) => {
    const m = c.messages[i];
    if (m !== undefined && (m.completeAt !== undefined || m.version !== undefined)) expectSameFields(c, m, req, injected.has(i));
  });
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

const cases = loadLlhttpCases();
const strict = cases.filter((c) => c.type === 'request');
const lenient = cases.filter((c) => c.type.startsWith('request-lenient-'));
const finish = cases.filter((c) => c.type === 'request-finish');

const tally = {
  strictAccepted: 0, // llhttp accepts, we accept (possibly after the host rule's Host line)
  strictRejected: 0, // llhttp rejects, we reject
  strictIncomplete: 0, // llhttp and we both wait for more bytes
  overriddenByTable: 0,
  overriddenByRule: { host: 0, close: 0, connect: 0, upgrade: 0, websocket: 0 } as Record<Rule, number>,
  /** What the host rule's cases came to once a Host line was added (llhttp's verdict each time). */
  withHost: { accepted: 0, rejected: 0, incomplete: 0 },
  lenientRejected: 0,
  lenientOverridden: 0,
  finish: 0,
};
const usedOverrides = new Set<string>();

describe('llhttp vectors: loader', () => {
  test('every case of every file is loaded', () => {
    expect(cases.length).toBe(countMetaComments());
    expect(strict.length + lenient.length + finish.length).toBe(cases.length);
  });

  test('decoded bytes sit at the offsets the log reports', () => {
    let checked = 0;
    for (const c of cases) {
      for (const m of c.messages) {
        for (const span of [m.method, m.url, ...m.headers.flatMap((h) => [h.name, ...h.value])]) {
          // Only spans the log prints verbatim (plain ASCII, no escapes) can be compared as text.
          if (span === undefined || !/^[\x20-\x5b\x5d-\x7e]*$/.test(span.shown)) continue;
          expect(text(c, span), c.id).toBe(span.shown);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
  });
});

describe('llhttp vectors: strict cases', () => {
  for (const c of strict) {
    test(c.id, () => {
      const override = OVERRIDES[c.id];
      const fromLlhttp = llhttpVerdict(c);
      const hostless = firstHostless(c);
      let expected: Verdict;
      let withHost: Verdict | undefined;
      if (override !== undefined) {
        usedOverrides.add(c.id);
        expected = override.ours;
        withHost = override.withHost;
        tally.overriddenByTable++;
      } else if (hostless >= 0 && hostless < fromLlhttp.verdict.requests + (fromLlhttp.verdict.end === 'idle' ? 0 : 1)) {
        expected = { requests: hostless, end: 'error', status: 400, reason: MISSING_HOST };
        withHost = fromLlhttp.verdict;
        tally.overriddenByRule.host++;
        tally.withHost[withHost.end === 'error' ? 'rejected' : withHost.requests > 0 ? 'accepted' : 'incomplete']++;
      } else {
        expected = fromLlhttp.verdict;
        if (expected.end === 'error') expected = { ...expected, reason: notMatching(MISSING_HOST) };
        if (fromLlhttp.rule !== undefined) tally.overriddenByRule[fromLlhttp.rule]++;
        else if (expected.end === 'error') tally.strictRejected++;
        else if (expected.end === 'incomplete' && expected.requests === 0) tally.strictIncomplete++;
        else tally.strictAccepted++;
      }

      const result = runBothWays(c.raw);
      expectVerdict(result, expected);
      expectSameMessages(c, result, new Set());

      if (withHost !== undefined) {
        const variant = injectHost(c);
        expect(variant, 'a Host line could be added').not.toBeNull();
        const again = runBothWays(variant!.bytes);
        expectVerdict(again, withHost);
        expectSameMessages(c, again, variant!.injected);
      }
    });
  }
});

describe('llhttp vectors: lenient cases are rejected', () => {
  for (const c of lenient) {
    test(c.id, () => {
      const override = OVERRIDES[c.id];
      const result = runBothWays(c.raw);
      if (override !== undefined) {
        usedOverrides.add(c.id);
        tally.lenientOverridden++;
        expectVerdict(result, override.ours);
        if (override.withHost !== undefined) {
          const variant = injectHost(c);
          expect(variant, 'a Host line could be added').not.toBeNull();
          expectVerdict(runBothWays(variant!.bytes), override.withHost);
        }
      } else {
        tally.lenientRejected++;
        expect(result.error, 'a lenient-only case must be an error for a strict parser').not.toBeNull();
        expect(result.error!.reason).not.toMatch(MISSING_HOST); // rejected for the lenient feature itself
      }
      expectSameMessages(c, result, new Set());
    });
  }
});

describe('llhttp vectors: finish cases', () => {
  for (const c of finish) {
    test(`${c.id}: midRequest tells whether closing now would cut a request`, () => {
      tally.finish++;
      expect(runBothWays(c.raw).midRequest).toBe(c.finish !== 0);
    });
  }
});

describe('llhttp vectors: summary', () => {
  test('every override is used, and the counts are printed', () => {
    expect([...usedOverrides].sort()).toEqual(Object.keys(OVERRIDES).sort());
    const rules = Object.entries(tally.overriddenByRule).map(([rule, n]) => `${rule} ${n} — ${RULES[rule as Rule]}`);
    console.log(
      [
        `llhttp request vectors: ${cases.length} cases (${strict.length} strict, ${lenient.length} lenient, ${finish.length} finish)`,
        `  strict, same verdict as llhttp: ${tally.strictAccepted} accepted, ${tally.strictRejected} rejected, ${tally.strictIncomplete} incomplete`,
        `  strict, overridden by table: ${tally.overriddenByTable}`,
        ...rules.map((r) => `  strict, overridden by rule: ${r}`),
        `    host rule, once a Host line is added: ${tally.withHost.accepted} accepted, ${tally.withHost.rejected} rejected, ${tally.withHost.incomplete} incomplete (as llhttp)`,
        `  lenient: ${tally.lenientRejected} rejected, ${tally.lenientOverridden} overridden by table`,
        `  finish: ${tally.finish}`,
      ].join('\n'),
    );
    const overridden = tally.overriddenByTable + Object.values(tally.overriddenByRule).reduce((a, b) => a + b, 0);
    expect(tally.strictAccepted + tally.strictRejected + tally.strictIncomplete + overridden).toBe(strict.length);
  });
});

/** A RegExp that matches strings `re` does not match (for "rejected, but not for a missing Host"). */
function notMatching(re: RegExp): RegExp {
  return new RegExp(`^(?!.*(?:${re.source}))`, 's');
}
