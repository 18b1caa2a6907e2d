/**
 * Running a fixture script in its own `node` process, for what must not happen inside the vitest
 * worker: fork(), blocking until a signal, lowering rlimits, dying on purpose.
 * Fixtures load the compiled addon directly (see fixtures/addon.mjs), so they need `build`, not `dist`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running fixture. Owned by one test; `exited` settles once, when the process ends. */
export interface Running {
  proc: ChildProcess;
  /** Resolves with the first stdout line containing `text` (rejects if the process ends first). */
  line(text: string): Promise<string>;
  exited: Promise<Exit>;
}

/** Fixtures still running; a failed test must not leave one behind (it may block forever). */
const live = new Set<ChildProcess>();

/** SIGKILL every fixture this test file started that has not ended; for afterEach. */
export function killLeftovers(): void {
  for (const proc of live) proc.kill('SIGKILL');
  live.clear();
}

/** `prefix` wraps the command, e.g. ['sh', '-c', 'ulimit -n 64 && exec "$0" "$@"']. */
export function start(script: string, nodeFlags: string[] = [], args: string[] = [], prefix: string[] = []): Running {
  const [cmd, ...argv] = [...prefix, process.execPath, ...nodeFlags, fixture(script), ...args];
  const proc = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.on('exit', () => live.delete(proc));
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: (l: string) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const found = stdout.split('\n').find((l) => l.includes(w.text));
      if (found !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(found);
      }
    }
  };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    check();
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<Exit>((resolve) => {
    proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    proc,
    exited,
    line(text) {
      return new Promise<string>((resolve, reject) => {
        waiters.push({ text, resolve });
        check();
        void exited.then((e) => reject(new Error(`fixture ended before printing "${text}": ${JSON.stringify(e)}`)));
      });
    },
  };
}

/** Run a fixture to completion. */
export function run(script: string, nodeFlags: string[] = [], args: string[] = [], prefix: string[] = []): Promise<Exit> {
  return start(script, nodeFlags, args, prefix).exited;
}
