/**
 * A functional check, not a benchmark: open N idle WebSocket clients on `/ws/echo` against each
 * model, count how many got their `101 Switching Protocols` within a few seconds, and read the
 * server's memory while they are all held (PSS and RSS of the whole process tree, after a short
 * settle). One run per model, one after another; no load, nothing timed.
 *
 *   node packages/hardening/dist/ws-idle-cli.js [--clients 200] [--wait-ms 5000]
 *
 * Prints one Markdown table row per model. PSS counts a page shared by k processes as 1/k in
 * each, so forked children (02) are not counted many times over; RSS is shown beside it.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { openSocket, processTree, rssKb, startServer } from '@course/testkit';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`ws-idle: --${name} expects a positive integer, got "${args[i + 1] ?? ''}"\n`);
    process.exit(2);
  }
  return n;
}
const CLIENTS = flag('clients', 200);
const WAIT_MS = flag('wait-ms', 5000);

const MODELS: Array<[pkg: string, args: string[]]> = [
  ['01-blocking', []],
  ['02-fork', ['--mode', 'per-connection']],
  ['02-fork', ['--mode', 'prefork', '--workers', '4']],
  ['03-threads', ['--mode', 'per-connection']],
  ['03-threads', ['--mode', 'pool', '--threads', '4']],
  ['04-nonblocking', ['--poller', 'poll']],
  ['05-epoll-native', ['--mode', 'lt']],
];

const HANDSHAKE = 'GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function treeMemory(pid: number): { pss: number; rss: number; processes: number } {
  const pids = processTree(pid);
  return { pss: pids.reduce((a, p) => a + pssKb(p), 0), rss: pids.reduce((a, p) => a + rssKb(p), 0), processes: pids.length };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

console.log(`| model | clients | upgraded within ${WAIT_MS} ms | server processes | PSS MiB | RSS MiB | PSS KiB per upgraded client (above the empty server) |`);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [pkg, flags] of MODELS) {
  const server = await startServer(pkg, { args: flags, timeoutMs: 30_000 });
  await sleep(500);
  const empty = treeMemory(server.pid);
  const socks: Socket[] = [];
  let upgraded = 0;
  for (let i = 0; i < CLIENTS; i++) {
    const s = await openSocket(server.port);
    s.on('error', () => {});
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.startsWith('HTTP/1.1 101 ')) {
        upgraded++;
        s.off('data', onData);
      }
    };
    s.on('data', onData);
    s.write(HANDSHAKE);
    socks.push(s);
  }
  const deadline = Date.now() + WAIT_MS;
  while (upgraded < CLIENTS && Date.now() < deadline) await sleep(100);
  await sleep(1000); // let threads and children finish starting
  const held = treeMemory(server.pid);
  const perClient = upgraded > 0 ? ((held.pss - empty.pss) / upgraded).toFixed(1) : '—';
  console.log(`| ${[pkg, ...flags].join(' ')} | ${CLIENTS} | ${upgraded} | ${held.processes} | ${(held.pss / 1024).toFixed(1)} | ${(held.rss / 1024).toFixed(1)} | ${perClient} |`);
  for (const s of socks) s.destroy();
  await server.stop(20_000);
}
process.exit(0);
