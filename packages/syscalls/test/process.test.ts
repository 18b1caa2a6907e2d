import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import * as sys from '../src/index.js';
import { C } from '../src/index.js';
import { fixture, killLeftovers, run, start } from './spawn.js';

// Fork, signals and rlimits happen in spawned `node` processes (test/fixtures), never in the
// vitest worker: a fork of a multi-threaded Node needs --single-threaded, a blocked thread
// needs a signal, and a lowered fd limit would hurt the test runner.

afterEach(killLeftovers);

describe('process ids', () => {
  it('getpid, getppid and gettid agree with Node; a worker thread has its own tid', async () => {
    expect(sys.getpid()).toBe(process.pid);
    expect(sys.getppid()).toBe(process.ppid);
    expect(sys.gettid()).toBe(process.pid); // the main thread's tid is the pid
    const w = new Worker(fixture('gettid-worker.mjs'));
    const ids = await new Promise<{ pid: number; tid: number }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(ids.pid).toBe(process.pid);
    expect(ids.tid).not.toBe(process.pid);
    expect(ids.tid).toBeGreaterThan(0);
  });
});

describe('kill', () => {
  it('signal 0 probes a process; a missing pid is -ESRCH; a bad signal -EINVAL', () => {
    expect(sys.kill(process.pid, 0)).toBe(0);
    expect(sys.kill(0x3fffffff, 0)).toBe(-C.ESRCH);
    expect(sys.kill(process.pid, 9999)).toBe(-C.EINVAL);
  });

  it('delivers a real signal to another process', async () => {
    const child = start('pdeath-child.mjs'); // any long-lived fixture will do
    await child.line('ready');
    expect(sys.kill(child.proc.pid!, C.SIGKILL)).toBe(0);
    expect((await child.exited).signal).toBe('SIGKILL');
  });
});

describe('exitStatus', () => {
  it('decodes exit codes and terminating signals', () => {
    expect(sys.exitStatus(7 << 8)).toEqual({ exited: true, code: 7, signal: null });
    expect(sys.exitStatus(0)).toEqual({ exited: true, code: 0, signal: null });
    expect(sys.exitStatus(C.SIGKILL)).toEqual({ exited: false, code: null, signal: C.SIGKILL });
    expect(sys.exitStatus(new Int32Array([C.SIGTERM | 0x80]))).toEqual({ exited: false, code: null, signal: C.SIGTERM }); // core dumped
    expect(sys.exitStatus((C.SIGSTOP << 8) | 0x7f)).toEqual({ exited: false, code: null, signal: null }); // stopped
  });
});

describe('fork / waitpid / _exit', () => {
  it('a forked child runs JS, writes to its parent, and _exit(7) is what waitpid sees', async () => {
    const r = await run('fork.mjs', ['--single-threaded']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      parentPid: number; pid: number; waited: number; got: string; status: number; killedStatus: number; noChild: number;
    };
    expect(out.pid).toBeGreaterThan(0);
    expect(out.pid).not.toBe(out.parentPid);
    expect(out.waited).toBe(out.pid);
    expect(out.got).toBe(`child ${out.pid} of ${out.parentPid}`);
    expect(sys.exitStatus(out.status)).toEqual({ exited: true, code: 7, signal: null });
    expect(sys.exitStatus(out.killedStatus)).toEqual({ exited: false, code: null, signal: C.SIGKILL });
    expect(out.noChild).toBe(-C.ECHILD);
  });
});

describe('catchSignals / takeSignal', () => {
  it('SIGTERM interrupts a blocking accept4 with -EINTR and is reported once', async () => {
    const child = start('signal-accept.mjs', [], ['self']);
    expect(await child.line('self')).toBe('self SIGUSR1 then 0');
    await child.line('ready');
    child.proc.kill('SIGTERM');
    const r = await child.exited;
    expect(r.stdout).toContain('accept4 EINTR signal SIGTERM');
    expect(r.code).toBe(0);
  });

  it('a signal that arrives before the thread blocks still interrupts the call (no lost wake-up)', async () => {
    const r = await run('signal-accept.mjs', [], ['early']);
    expect(r.stdout).toContain('accept4 EINTR signal SIGTERM');
    expect(r.code).toBe(0);
  });

  it('a signal that lands on another thread is forwarded to the thread that asked', async () => {
    const child = start('signal-worker.mjs');
    const ready = await child.line('ready');
    const tid = Number(/tid=(\d+)/.exec(ready)![1]);
    expect(tid).not.toBe(child.proc.pid); // the worker, not the main thread, is blocked
    child.proc.kill('SIGTERM');
    const r = await child.exited;
    expect(r.stdout).toContain('accept4 EINTR signal SIGTERM');
    expect(r.code).toBe(0);
  });

  it('keeps one flag per signal, and only the catching thread takes them', async () => {
    const r = await run('signal-flags.mjs');
    expect(r.stderr).toBe('');
    const usr1 = C.SIGUSR1; // 10 on x86-64 and arm64, below SIGTERM (15): taken first
    expect(r.stdout.trim()).toBe(`worker saw ${usr1},${usr1}; main took ${usr1} ${C.SIGTERM} 0`);
  });

  it('a forked child starts with no pending signal and is nudged out of its own blocking calls', async () => {
    const r = await run('fork-signal.mjs', ['--single-threaded']);
    expect(r.stderr).toBe('');
    const m = /parent took (\d+); child status (\d+)/.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBe(C.SIGUSR1); // the parent's own signal stayed the parent's
    expect(sys.exitStatus(Number(m![2]))).toEqual({ exited: true, code: 0, signal: null });
  });

  it('takeSignal is 0 when nothing arrived; catchSignals rejects a bad signal with -EINVAL', () => {
    expect(sys.takeSignal()).toBe(0);
    expect(sys.catchSignals([C.SIGKILL])).toBe(-C.EINVAL); // SIGKILL cannot be caught
    expect(() => sys.catchSignals([C.SIGURG])).toThrow(RangeError); // reserved for the nudge
  });
});

describe('rlimit NOFILE', () => {
  it('getrlimitNofile reads a lowered soft limit, at which socket() fails with EMFILE', async () => {
    const r = await run('rlimit.mjs', [], [], ['sh', '-c', 'ulimit -n 64 && exec "$0" "$@"']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { limit: number; opened: number; last: string };
    expect(out.limit).toBe(64);
    expect(out.opened).toBeGreaterThan(0);
    expect(out.opened).toBeLessThan(64); // stdio and Node's own fds count too
    expect(out.last).toBe('EMFILE');
  });

  it('agrees with /proc/self/limits here', () => {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line!.split(/\s{2,}/)[1]!;
    expect(sys.getrlimitNofile()).toBe(soft === 'unlimited' ? Infinity : Number(soft));
  });
});

describe('setParentDeathSignal', () => {
  it('the child gets SIGTERM (and dies) when its parent is killed', async () => {
    const parent = start('pdeath-parent.mjs');
    const ready = await parent.line('ready');
    expect(ready).toBe(`ready ppid=${parent.proc.pid}`);
    parent.proc.kill('SIGKILL');
    // The child shares our stdout pipe: 'close' comes only once the child is gone too.
    const r = await parent.exited;
    expect(r.signal).toBe('SIGKILL');
  });

  it('rejects an invalid signal with -EINVAL', () => {
    expect(sys.setParentDeathSignal(9999)).toBe(-C.EINVAL);
    expect(sys.setParentDeathSignal(0)).toBe(0); // 0 turns it off
  });
});
