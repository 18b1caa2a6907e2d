/**
 * The machine, and keeping the server and the load generator off each other's core.
 *
 * On two cores an unpinned server and load generator fight for the same CPUs and the numbers
 * say more about the scheduler than about the model. With `taskset` and 2+ usable cores the
 * server runs on one core and this process — autocannon runs inside it — on another.
 * Main thread only, once, at start-up.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Machine } from './types.js';

/** Parse a kernel CPU list such as `0-3,8,10-11` into core numbers. Pure. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad CPU list "${list}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/** Cores this process may run on (a container's cpuset may hide some). */
function allowedCores(): number[] {
  try {
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseCpuList(m[1]!);
  } catch { /* not Linux: fall through */ }
  return cpus().map((_, i) => i);
}

function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Describe the machine and, when possible, pin this process (all its threads: V8's helpers too)
 * to the second allowed core. The caller runs servers under `taskset -c <server core>`.
 */
export function prepareMachine(): Machine {
  const all = cpus();
  const machine: Machine = {
    cores: all.length,
    cpuModel: all[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    pinning: null,
  };
  const cores = allowedCores();
  if (cores.length < 2) {
    machine.pinningNote = `only ${cores.length} usable core: server and load generator share it`;
    return machine;
  }
  if (!hasTaskset()) {
    machine.pinningNote = 'taskset not found: server and load generator are not pinned';
    return machine;
  }
  const [server, client] = [cores[0]!, cores[1]!];
  const r = spawnSync('taskset', ['-a', '-cp', String(client), String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) {
    machine.pinningNote = `taskset could not pin the bench: ${(r.stderr || r.error?.message || '').trim()}`;
    return machine;
  }
  machine.pinning = { server, client, tool: 'taskset' };
  return machine;
}

/** The command prefix that starts a server on the server core (empty when not pinned). */
export function serverPrefix(machine: Machine): string[] {
  return machine.pinning ? ['taskset', '-c', String(machine.pinning.server)] : [];
}

/** One line for the output: which cores did what. */
export function describePinning(machine: Machine): string {
  return machine.pinning
    ? `server pinned to core ${machine.pinning.server}, load generator (this process) to core ${machine.pinning.client} (taskset)`
    : `not pinned: ${machine.pinningNote ?? 'unknown reason'}`;
}
