/**
 * @course/protocol — what the bytes mean. Models move bytes; this package parses HTTP, serves
 * static files, speaks WebSocket after an HTTP upgrade, echoes, and frames byte streams (codec/).
 * The seam between the two is in session.ts.
 */
import { fileURLToPath } from 'node:url';
import type { Protocol } from './session.js';
import { sniffProtocol } from './sniff.js';
import { echoProtocol } from './echo.js';
import { parseCodecSpec } from './codec/index.js';
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
export {
  ResponseParser,
  type ParsedResponse,
  type ResponseHandler,
  type ResponseParserOptions,
} from './http/response-parser.js';
export {
  HttpClientSession,
  encodeRequest,
  type HttpResponse,
  type RequestOptions,
  type ResponseCallback,
} from './http/client-session.js';
export { echoProtocol, type EchoOptions } from './echo.js';
export { SNIFF_LIMIT, SniffProtocol, sniff, sniffProtocol } from './sniff.js';
export {
  CODEC_SPEC_HELP,
  CodecSpecError,
  DEFAULT_DELIMITED_MAX,
  LENGTH_FIELD_DEFAULTS,
  MAX_FRAME_LIMIT,
  delimiterCodec,
  fixedCodec,
  isFrameError,
  lengthFieldCodec,
  lineCodec,
  parseCodecSpec,
  receiveFrames,
  type Codec,
  type FrameDecoder,
  type FrameError,
  type FrameReceiver,
  type LengthFieldOptions,
} from './codec/index.js';

/**
 * The demo site shipped with the course (/work/main/site in the repo). Resolved from this file:
 * packages/protocol/dist/index.js (or src/index.ts under vitest) → ../../../site.
 */
export const DEMO_SITE_ROOT: string = fileURLToPath(new URL('../../../site/', import.meta.url)).replace(/\/$/, '');

/**
 * The protocol a model's `--protocol` flag names. `root` is the static document root (HTTP
 * only); `route` and `limits` are passed through to httpProtocol; `codec` is a `--codec` spec
 * (echo only; `none` or absent: raw bytes). A spec string, not a Codec, so that a model can hand
 * it to its worker threads as plain data. Throws on an unknown name or a bad spec (CodecSpecError).
 */
export function createProtocol(name: 'http' | 'echo' | 'auto', opts: { root: string; codec?: string } & Partial<Omit<HttpOptions, 'root'>>): Protocol {
  const codec = parseCodecSpec(opts.codec ?? 'none');
  switch (name) {
    case 'http':
      if (codec !== null) throw new RangeError(`a codec frames TCP protocols only: --codec ${codec.spec} with http`);
      return httpProtocol(opts);
    case 'echo':
      return echoProtocol({ codec });
    case 'auto': // one port: HTTP (and WebSocket upgrades) and echo with the codec, by the first bytes
      return sniffProtocol(httpProtocol(opts), echoProtocol({ codec }));
    default:
      throw new Error(`unknown protocol ${JSON.stringify(name)} (expected http, echo or auto)`);
  }
}
