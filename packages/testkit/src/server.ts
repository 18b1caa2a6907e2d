/**
 * Run a model's compiled server the way a reader does (`node dist/main.js --port 0 ...`) and wait
 * for the banner line the CLI contract promises. Used by tests and by the bench.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSocket } from './client.js';

/** The repository root (this file is packages/testkit/{src,dist}/server.*). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Absolute path of a model package's compiled entry point. */
export function packageMain(pkg: string): string {
  return join(REPO_ROOT, 'packages', pkg, 'dist', 'main.js');
}

export interface StartOptions {
  /** Extra flags after `--port 0`. */
  args?: string[];
  /** Flags for node itself, before the script. */
  nodeArgs?: string[];
  /** Wrap the command, e.g. ['taskset', '-c', '0'] or ['sh', '-c', 'ulimit -n 64 && exec "$0" "$@"']. */
  prefix?: string[];
  /** How long to wait for the banner; default 20 s (a loaded 2-core machine is slow). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface RunningServer {
  proc: ChildProcess;
  pid: number;
  host: string;
  port: number;
  /** `http://127.0.0.1:PORT` or `tcp://...`. */
  url: string;
  banner: string;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then wait for exit (SIGKILL after `graceMs`). Resolves with how it ended. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the process exits by itself. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const BANNER = /^listening on (http|tcp):\/\/(\[[^\]]+\]|[^:\s]+):(\d+)/m;

/** Start `packages/<pkg>/dist/main.js --port 0 ...args` and resolve once its banner appears. */
export function startServer(pkg: string, opts: StartOptions = {}): Promise<RunningServer> {
  const main = packageMain(pkg);
  if (!existsSync(main)) return Promise.reject(new Error(`${main} does not exist: build ${pkg} first (pnpm build)`));
  return startCommand([...(opts.prefix ?? []), process.execPath, ...(opts.nodeArgs ?? []), main, '--port', '0', ...(opts.args ?? [])], opts);
}

/** Start any command that honours the banner contract. */
export function startCommand(argv: string[], opts: StartOptions = {}): Promise<RunningServer> {
  const [cmd, ...rest] = argv;
  const proc = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => { out += d; });
  proc.stderr!.on('data', (d: string) => { err += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    proc.on('exit', (code, signal) => res({ code, signal }));
  });

  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rejectStart(new Error(`no banner from ${argv.join(' ')} within ${opts.timeoutMs ?? 20000} ms\nstdout: ${out}\nstderr: ${err}`));
    }, opts.timeoutMs ?? 20000);
    const onData = () => {
      const m = BANNER.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.stdout!.off('data', onData);
      const host = m[2]!.replace(/^\[|\]$/g, '');
      const port = Number(m[3]);
      const server: RunningServer = {
        proc,
        pid: proc.pid!,
        host,
        port,
        url: `${m[1]}://${m[2]}:${port}`,
        banner: out.slice(m.index).split('\n')[0]!,
        stdout: () => out,
        stderr: () => err,
        exited,
        stop: async (graceMs = 10000) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return exited;
          proc.kill('SIGTERM');
          const killer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
          const r = await exited;
          clearTimeout(killer);
          return r;
        },
      };
      resolveStart(server);
    };
    proc.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rejectStart(new Error(`${argv.join(' ')} exited (code ${code}, signal ${signal}) before its banner\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

/**
 * The servers and client sockets a test file's tests open, so that one
 * `afterEach(() => fixture.cleanup())` ends them all whatever a test's outcome. Owned by one test
 * file, whose tests run one at a time.
 */
export class ServerFixture {
  private readonly servers: RunningServer[] = [];
  private readonly sockets: Socket[] = [];

  constructor(private readonly pkg: string) {}

  /** `startServer(pkg, { args, env })`, stopped at the next cleanup. */
  async start(args: string[] = [], env?: NodeJS.ProcessEnv): Promise<RunningServer> {
    const server = await startServer(this.pkg, env ? { args, env } : { args });
    this.servers.push(server);
    return server;
  }

  /** Open `n` connections at once that send nothing; destroyed at the next cleanup. */
  async openIdle(port: number, n: number): Promise<Socket[]> {
    const opened = await Promise.all(Array.from({ length: n }, () => openSocket(port)));
    this.sockets.push(...opened);
    return opened;
  }

  /** Destroy the sockets, then stop the servers (SIGTERM, SIGKILL after a grace). */
  async cleanup(): Promise<void> {
    for (const s of this.sockets.splice(0)) s.destroy();
    await Promise.all(this.servers.splice(0).map((s) => s.stop()));
  }
}
