/**
 * The command-line contract every model honours:
 *
 *   node dist/main.js [--port N] [--host H] [--root DIR] [--protocol http|echo|auto] [--codec SPEC]
 *                     [--ws-max-message BYTES] [--ws-ping S] [model flags]
 *
 * A bad flag is a user error, not a crash: one line on stderr naming the flag, exit code 2.
 * Runs once, on the main thread, before the model starts.
 */
import { statSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import { CODEC_SPEC_HELP, CodecSpecError, DEMO_SITE_ROOT, parseCodecSpec } from '@course/protocol';

export type FlagSpec =
  | { kind: 'int'; default: number; min: number; max: number; help: string }
  | { kind: 'enum'; default: string; values: readonly string[]; help: string }
  | { kind: 'string'; default: string; help: string };

/** A model's own flags, by name without the leading dashes. */
export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed value of each flag in a spec: numbers for `int`, strings otherwise. */
export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]: S[K] extends { kind: 'int' } ? number : string;
};

/** The flags shared by every model. */
export interface CommonOptions {
  host: string;
  port: number;
  root: string;
  /** auto: HTTP and the echo protocol on one port, told apart by the first bytes (protocol's sniff.ts). */
  protocol: 'http' | 'echo' | 'auto';
  /** A `--codec` spec, checked (see CODEC_SPEC_HELP): `none` unless --protocol echo. Passed to createProtocol. */
  codec: string;
  /** Largest WebSocket message accepted (→ close 1009). */
  'ws-max-message': number;
  /** Ping WebSocket connections silent this many seconds; 0: no heartbeat. */
  'ws-ping': number;
}

const COMMON: FlagSpecs = {
  port: { kind: 'int', default: 8080, min: 0, max: 65535, help: 'TCP port; 0 picks a free one' },
  host: { kind: 'string', default: '127.0.0.1', help: 'IPv4 or IPv6 address to listen on' },
  root: { kind: 'string', default: DEMO_SITE_ROOT, help: 'directory served over HTTP' },
  protocol: { kind: 'enum', default: 'http', values: ['http', 'echo', 'auto'], help: 'http, echo, or auto (both on one port, sniffed)' },
  codec: { kind: 'string', default: 'none', help: 'framing for --protocol echo: none, line, delimiter:X, fixed:N or length[:k=v,...] (below)' },
  'ws-max-message': { kind: 'int', default: 1024 * 1024, min: 1, max: 1 << 30, help: 'largest WebSocket message accepted, in bytes (larger: close 1009)' },
  'ws-ping': { kind: 'int', default: 0, min: 0, max: 86_400, help: 'ping WebSocket connections silent this many seconds, cut those silent as long again; 0 = off' },
};

/**
 * What `createProtocol` takes from the common flags. Plain data, so a model can hand it to the
 * threads or processes that build their own protocol (03's Workers).
 */
export interface ProtocolSettings {
  root: string;
  /** The `--codec` spec as a string, not a Codec: a Codec holds functions and cannot cross to a Worker. */
  codec: string;
  websocket: { maxMessage: number; pingIntervalMs: number };
}

export function protocolSettings(opts: CommonOptions): ProtocolSettings {
  return {
    root: opts.root,
    codec: opts.codec,
    websocket: { maxMessage: opts['ws-max-message'], pingIntervalMs: opts['ws-ping'] * 1000 },
  };
}

/** Thrown for a bad command line; `main` turns it into one line and exit code 2. */
export class UsageError extends Error {}

/** Parse argv (without node and the script) against the common flags plus the model's own. Pure: throws UsageError. */
export function parseArgs<S extends FlagSpecs>(argv: readonly string[], model: S): CommonOptions & FlagValues<S> & { help: boolean } {
  const out = parseFlags(argv, { ...COMMON, ...model }) as Record<string, string | number | boolean>;
  out.host = normaliseHost(out.host as string);
  const root = out.root as string;
  let isDir = false;
  try { isDir = statSync(root).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new UsageError(`--root: "${root}" is not a directory`);
  checkCodec(out.codec as string, out.protocol as string);
  return out as CommonOptions & FlagValues<S> & { help: boolean };
}

/**
 * Parse argv against `specs` alone, without the models' common flags: for programs that are not
 * servers (the load engine). Pure: throws UsageError.
 */
export function parseFlags<S extends FlagSpecs>(argv: readonly string[], specs: S): FlagValues<S> & { help: boolean } {
  const out: Record<string, string | number | boolean> = { help: false };
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.default;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') { out.help = true; continue; }
    if (arg === '--') continue; // pnpm may pass a separator through
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}" (flags look like --port 8080)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    let raw: string | undefined;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else raw = argv[++i];
    if (raw === undefined) throw new UsageError(`--${name} needs a value (${spec.help})`);
    out[name] = convert(name, spec, raw);
  }
  return out as FlagValues<S> & { help: boolean };
}

function convert(name: string, spec: FlagSpec, raw: string): string | number {
  switch (spec.kind) {
    case 'int': {
      const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < spec.min || n > spec.max) {
        throw new UsageError(`--${name} expects an integer from ${spec.min} to ${spec.max}, got "${raw}"`);
      }
      return n;
    }
    case 'enum':
      if (!spec.values.includes(raw)) throw new UsageError(`--${name} expects one of ${spec.values.join('|')}, got "${raw}"`);
      return raw;
    case 'string':
      if (raw === '') throw new UsageError(`--${name} must not be empty`);
      return raw;
  }
}

/** A bad spec is a usage error like any bad flag: one line naming --codec. */
function checkCodec(spec: string, protocol: string): void {
  try {
    if (parseCodecSpec(spec) !== null && protocol === 'http') throw new UsageError(`--codec frames TCP: it needs --protocol echo or auto (got --protocol ${protocol})`);
  } catch (err) {
    if (err instanceof CodecSpecError) throw new UsageError(`--codec: ${err.message}`);
    throw err;
  }
}

/** bind(2) and connect(2) take address literals only; `localhost` is the one name readers type anyway. Throws UsageError. */
export function normaliseHost(host: string): string {
  if (host === 'localhost') return '127.0.0.1';
  const literal = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(literal) === 0) throw new UsageError(`--host expects an IPv4 or IPv6 address, got "${host}"`);
  return literal;
}

/** Usage text for --help, listing common and model flags (or, with `common` false, the given flags only). */
export function usage(pkg: string, model: FlagSpecs, common = true): string {
  const lines = [`usage: pnpm --filter ${pkg} start [flags]`, ''];
  const all = Object.entries(common ? { ...COMMON, ...model } : model);
  const width = Math.max(...all.map(([name]) => name.length));
  for (const [name, spec] of all) {
    const values = spec.kind === 'enum' ? ` (${spec.values.join('|')})` : '';
    lines.push(`  --${name.padEnd(width)}  ${spec.help}${values}; default ${String(spec.default)}`);
  }
  lines.push('', CODEC_SPEC_HELP);
  return lines.join('\n') + '\n';
}

/**
 * Parse the command line or leave: --help prints usage (exit 0), a bad flag prints one line
 * (exit 2). Writes with writeSync because the models block their thread and never let Node
 * flush asynchronous output.
 */
export function parseCommandLine<S extends FlagSpecs>(pkg: string, model: S, argv = process.argv.slice(2)): CommonOptions & FlagValues<S> {
  return orExit(pkg, usage(pkg, model), () => parseArgs(argv, model));
}

/** `parseCommandLine` for a program that is not a server: only `specs`, no common flags. */
export function parseFlagsOrExit<S extends FlagSpecs>(pkg: string, specs: S, argv = process.argv.slice(2)): FlagValues<S> {
  return orExit(pkg, usage(pkg, specs, false), () => parseFlags(argv, specs));
}

function orExit<T extends { help: boolean }>(pkg: string, help: string, parse: () => T): T {
  try {
    const opts = parse();
    if (opts.help) {
      writeSync(1, help);
      process.exit(0);
    }
    return opts;
  } catch (err) {
    if (err instanceof UsageError) {
      writeSync(2, `${pkg}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
