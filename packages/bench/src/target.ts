/**
 * The server under test: started through the CLI contract (`--port 0 --root DIR [flags]`, ready
 * when the banner appears), watched through /proc while the load runs, stopped with SIGTERM.
 * Main thread of the bench only.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageMain, startCommand, treeUsage, type RunningServer } from '@course/testkit';
import type { ModelName } from './plan.js';
import type { RowStatus } from './types.js';

/** The compiled node:http baseline, next to this file in dist/. */
export const NODE_HTTP_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'baselines', 'node-http.js');

/** The script that runs a model. */
export function mainOf(model: ModelName): string {
  return model === 'node-http' ? NODE_HTTP_MAIN : packageMain(model);
}

export function isBuilt(model: ModelName): boolean {
  return existsSync(mainOf(model));
}

/** Servers started and not yet exited: if the bench itself is interrupted, it must not leave them running. */
const live = new Set<RunningServer>();

/** Send SIGTERM to every server still running (the bench is being interrupted). */
export function terminateLiveTargets(): void {
  for (const s of live) s.proc.kill('SIGTERM');
}

export type StartOutcome =
  | { ok: true; server: RunningServer }
  | { ok: false; status: Exclude<RowStatus, 'ok' | 'collapsed'>; reason: string };

/** Start `model` on a free port under `prefix` (e.g. taskset). Never throws: a failure becomes a status and a reason. */
export async function startTarget(model: ModelName, args: string[], root: string, prefix: string[]): Promise<StartOutcome> {
  const main = mainOf(model);
  if (!existsSync(main)) return { ok: false, status: 'not built', reason: `${main} does not exist (run pnpm build)` };
  try {
    const server = await startCommand([...prefix, process.execPath, main, '--port', '0', '--root', root, ...args]);
    live.add(server);
    void server.exited.then(() => live.delete(server));
    return { ok: true, server };
  } catch (err) {
    // testkit reports "... exited (code N, signal S) before its banner\nstdout: ...\nstderr: ..."
    const message = (err as Error).message;
    const code = /exited \(code (\d+)/.exec(message)?.[1];
    const stderr = errorLine(message.split('\nstderr: ')[1] ?? '');
    if (code === '2') return { ok: false, status: 'not available', reason: `rejected ${args.join(' ') || 'its flags'}: ${stderr}` };
    return { ok: false, status: 'failed', reason: stderr || message.split('\n')[0]! };
  }
}

/**
 * The line of a server's stderr that says what went wrong: the contract's one-line error
 * (`05-epoll-native: bind: EADDRINUSE`) or, after a crash, the `Error: ...` line of Node's report
 * rather than the source excerpt it starts with. Pure.
 */
export function errorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^(\w*Error\b|[\w@./-]+: \S)/.test(l) && !l.startsWith('file:')) ?? lines[0] ?? '';
}

/** What a sampler saw between start and stop. */
export interface Usage {
  serverCpuSeconds: number;
  clientCpuSeconds: number;
  peakRssKb: number;
}

/**
 * Samples the server's process tree every 100 ms for peak RSS, and takes CPU time (server tree
 * and this process) at start and stop. Owned by the scenario that created it.
 */
export class UsageSampler {
  private readonly cpu0: number;
  private readonly client0: NodeJS.CpuUsage;
  private peak: number;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    const u = treeUsage(pid);
    this.cpu0 = u.cpuSeconds;
    this.peak = u.rssKb;
    this.client0 = process.cpuUsage();
    this.timer = setInterval(() => { this.peak = Math.max(this.peak, treeUsage(this.pid).rssKb); }, 100);
  }

  stop(): Usage {
    clearInterval(this.timer);
    const u = treeUsage(this.pid);
    const client = process.cpuUsage(this.client0);
    return {
      serverCpuSeconds: Math.max(0, u.cpuSeconds - this.cpu0),
      clientCpuSeconds: (client.user + client.system) / 1e6,
      peakRssKb: Math.max(this.peak, u.rssKb),
    };
  }
}

/** Whether the server is still running; if not, how it ended (for a "collapsed" reason). */
export function exitDescription(server: RunningServer): string | null {
  const { exitCode, signalCode } = server.proc;
  if (exitCode === null && signalCode === null) return null;
  const last = server.stderr().trim().split('\n').pop() ?? '';
  return `server exited (${signalCode ?? `code ${exitCode}`})${last ? `: ${last}` : ''}`;
}
