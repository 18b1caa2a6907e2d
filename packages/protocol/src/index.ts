/**
 * @course/protocol — what the bytes mean. Models move bytes; this package parses HTTP, serves
 * static files, speaks WebSocket after an HTTP upgrade, and echoes. The seam between the two is in session.ts.
 */
import { fileURLToPath } from 'node:url';
import type { Protocol } from './session.js';
import { echoProtocol } from './echo.js';
import { httpProtocol, type HttpOptions } from './http/session.js';

export type { PeerInfo, Protocol, Session, Sink } from './session.js';
export {
  DEFAULT_LIMITS,
  RequestParser,
  getHeader,
  isParseError,
  type HttpLimits,
  type HttpParseError,
  type HttpRequest,
} from './http/parser.js';
export { StaticSite, type Resolution, type ResponseWriter, type StaticSiteOptions } from './http/static.js';
export {
  HttpSession,
  httpProtocol,
  type HttpOptions,
  type HttpResponder,
  type HttpRoute,
  type WebSocketSettings,
} from './http/session.js';
export {
  DEFAULT_WEBSOCKET_OPTIONS,
  WebSocketSession,
  echoHandler,
  type WebSocketConn,
  type WebSocketHandler,
  type WebSocketOptions,
} from './ws/session.js';
export * as ws from './ws/frame.js';
export { acceptKey, checkHandshake } from './ws/handshake.js';
export { Utf8Validator } from './ws/utf8.js';
export { STATUS_TEXT, httpDate } from './http/response.js';
export { echoProtocol } from './echo.js';

/**
 * The demo site shipped with the course (/work/main/site in the repo). Resolved from this file:
 * packages/protocol/dist/index.js (or src/index.ts under vitest) → ../../../site.
 */
export const DEMO_SITE_ROOT: string = fileURLToPath(new URL('../../../site/', import.meta.url)).replace(/\/$/, '');

/**
 * The protocol a model's `--protocol` flag names. `root` is the static document root (HTTP
 * only); `route` and `limits` are passed through to httpProtocol. Throws on an unknown name.
 */
export function createProtocol(name: 'http' | 'echo', opts: { root: string } & Partial<Omit<HttpOptions, 'root'>>): Protocol {
  switch (name) {
    case 'http':
      return httpProtocol(opts);
    case 'echo':
      return echoProtocol();
    default:
      throw new Error(`unknown protocol ${JSON.stringify(name)} (expected http or echo)`);
  }
}
