/**
 * The opening handshake, server side (RFC 6455 §4.2): is this HTTP request a valid WebSocket
 * upgrade, and what is the answer?
 *
 *   GET /ws/echo HTTP/1.1                       HTTP/1.1 101 Switching Protocols
 *   Host: example                               Upgrade: websocket
 *   Upgrade: websocket                    →     Connection: Upgrade
 *   Connection: Upgrade                         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
 *   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
 *   Sec-WebSocket-Version: 13
 *
 * The accept value is base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): it proves the
 * server read this very request (a cache or a confused HTTP server could not produce it).
 *
 * Refusals: 400 for a request that is not a WebSocket handshake (HTTP/1.0, no `upgrade` token in
 * Connection, a key that is not base64 of 16 bytes, or more than one key); 426 Upgrade Required
 * with `Sec-WebSocket-Version: 13` for any other version (§4.4). Origin is not checked: the
 * endpoints here are public, and a browser always sends it, so an application that cares can
 * look at `request.headers`.
 *
 * Extensions are never negotiated: `Sec-WebSocket-Extensions` (permessage-deflate) is ignored,
 * so the answer carries none and RSV bits stay an error. See docs/appendix-websocket.md for why.
 *
 * Pure functions; any thread.
 */
import { createHash } from 'node:crypto';
import type { HttpRequest } from '../http/parser.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value for a client's key (§4.2.2 item 5.4). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** A comma-separated header value as lower-case tokens (Connection, Upgrade). */
function tokens(value: string): string[] {
  return value.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
}

/** Every value of header `name`, in order. */
function values(req: HttpRequest, name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of req.headers) if (n === name) out.push(v);
  return out;
}

/** Whether the request asks to upgrade to WebSocket at all (GET with `websocket` in Upgrade). */
export function wantsWebSocket(req: HttpRequest): boolean {
  return req.method === 'GET' && values(req, 'upgrade').some((v) => tokens(v).includes('websocket'));
}

/** A valid handshake: the accept value, and the subprotocol chosen ('' for none). */
export interface HandshakeAccepted {
  ok: true;
  accept: string;
  protocol: string;
}

/** A refused handshake: the status to answer, extra header lines, and why. */
export interface HandshakeRefused {
  ok: false;
  status: 400 | 426;
  fields: string;
  reason: string;
}

const BASE64_16 = /^[A-Za-z0-9+/]{22}==$/;

/**
 * Check an upgrade request (one `wantsWebSocket` said yes to) and pick a subprotocol: the first
 * the client offers (its order is its preference, §4.1) that `accepted` lists, or none.
 */
// #region check-handshake
export function checkHandshake(req: HttpRequest, accepted: readonly string[] = []): HandshakeAccepted | HandshakeRefused {
  const refuse = (status: 400 | 426, reason: string, fields = ''): HandshakeRefused => ({ ok: false, status, fields, reason });
  if (req.versionMinor !== 1) return refuse(400, 'WebSocket needs HTTP/1.1');
  if (!values(req, 'connection').some((v) => tokens(v).includes('upgrade'))) return refuse(400, 'Connection has no "upgrade" token');
  const versions = values(req, 'sec-websocket-version');
  if (versions.length !== 1 || versions[0] !== '13') return refuse(426, 'Sec-WebSocket-Version is not 13', 'Sec-WebSocket-Version: 13\r\n');
  const keys = values(req, 'sec-websocket-key');
  if (keys.length !== 1 || !BASE64_16.test(keys[0]!)) return refuse(400, 'Sec-WebSocket-Key is not the base64 of 16 bytes');
  // Subprotocol names are compared exactly, as the `ws` package and the browsers do.
  let protocol = '';
  for (const v of values(req, 'sec-websocket-protocol')) {
    protocol = v.split(',').map((p) => p.trim()).find((p) => p !== '' && accepted.includes(p)) ?? '';
    if (protocol !== '') break;
  }
  return { ok: true, accept: acceptKey(keys[0]!), protocol };
}
// #endregion check-handshake

/** The 101 answer to an accepted handshake. */
export function switchingProtocols(accepted: HandshakeAccepted): Buffer {
  const protocol = accepted.protocol === '' ? '' : `Sec-WebSocket-Protocol: ${accepted.protocol}\r\n`;
  return Buffer.from(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accepted.accept}\r\n${protocol}\r\n`,
    'latin1',
  );
}
