// Syscalls per request, step 05 (epoll reactor) vs step 07 (io_uring proactor), counted by
// `strace -c -f` over a fixed number of keep-alive requests.
//
//   pnpm --filter 07-io-uring syscalls [--requests 20000] [--connections 1,10] [--models 05-epoll-native,07-io-uring]
//
// Each model runs under strace once per connection count, serving --requests requests of
// /bench.html over that many keep-alive connections (one request in flight on each), and once
// serving none. The
// second run counts what start-up and shutdown cost; the difference, divided by the requests, is
// what a request costs. Every thread of the server is counted (-f), Node's own helpers included.
// This is a functional measurement, not a benchmark: strace slows every syscall down, so no time
// is reported, only counts. Needs strace (apt-get install strace) and built packages (pnpm build).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageMain, startCommand } from '@course/testkit';

const usage = 'usage: pnpm --filter 07-io-uring syscalls [--requests N] [--connections a,b] [--models a,b]';
const opts = { requests: 20_000, connections: [1, 10], models: ['05-epoll-native', '07-io-uring'] };
const argv = process.argv.slice(2).filter((a) => a !== '--');
for (let i = 0; i < argv.length; i++) {
  const flag = argv[i];
  const value = argv[++i];
  if (flag === '--requests') {
    opts.requests = count(flag, value, 10_000_000);
  } else if (flag === '--connections') {
    opts.connections = (value ?? '').split(',').map((v) => count(flag, v, 1000));
  } else if (flag === '--models') {
    if (!value) bad('--models needs a comma-separated list of packages');
    opts.models = value.split(',');
  } else {
    bad(`unknown flag ${flag}`);
  }
}
if (spawnSync('strace', ['-V']).status !== 0) {
  process.stderr.write('syscalls: strace is not installed (apt-get install strace)\n');
  process.exit(1);
}

function count(flag, value, max) {
  const n = /^\d+$/.test(value ?? '') ? Number(value) : NaN;
  if (!(n >= 1 && n <= max)) bad(`${flag} expects positive integers up to ${max}, got "${value ?? ''}"`);
  return n;
}

function bad(message) {
  process.stderr.write(`syscalls: ${message}\n${usage}\n`);
  process.exit(2);
}

/** Run `pkg` under `strace -c -f`, serve `requests` requests on `conns` connections, stop it; returns calls by syscall name. */
async function traced(pkg, requests, conns) {
  const dir = mkdtempSync(join(tmpdir(), 'syscalls-'));
  const out = join(dir, 'strace.txt');
  const server = await startCommand(['strace', '-f', '-c', '-o', out, process.execPath, packageMain(pkg), '--port', '0'], { timeoutMs: 60_000 });
  try {
    if (requests > 0) await load(server.port, requests, conns);
  } finally {
    // strace's own pid is not the server's: the banner names the server (pid=...). SIGTERM it, and
    // strace writes its summary once the server has exited.
    const pid = Number(/pid=(\d+)/.exec(server.banner)?.[1]);
    process.kill(pid, 'SIGTERM');
    await server.exited;
  }
  const counts = parseStrace(readFileSync(out, 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  return counts;
}

/** strace -c's table: "% time  seconds  usecs/call  calls  [errors]  syscall". */
function parseStrace(text) {
  const counts = new Map();
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5 || !/^\d/.test(cols[0]) || cols[cols.length - 1] === 'total') continue;
    counts.set(cols[cols.length - 1], Number(cols[3]));
  }
  return counts;
}

/** `total` GET /bench.html requests over `conns` keep-alive connections, one in flight on each. */
function load(port, total, conns) {
  let started = 0;
  const request = Buffer.from('GET /bench.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const one = () =>
    new Promise((resolve, reject) => {
      const sock = connect({ port, host: '127.0.0.1' });
      let buf = Buffer.alloc(0);
      const next = () => {
        if (started >= total) return sock.end(), resolve();
        started++;
        sock.write(request);
      };
      sock.on('connect', next);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const length = Number(/content-length: *(\d+)/i.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
          if (buf.length < end + 4 + length) return;
          if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 200')) return reject(new Error(`not a 200: ${buf.subarray(0, 40)}`));
          buf = buf.subarray(end + 4 + length);
          next();
        }
      });
      sock.on('error', reject);
    });
  return Promise.all(Array.from({ length: conns }, one));
}

const rows = [];
for (const pkg of opts.models) {
  const idle = await traced(pkg, 0, 0);
  for (const conns of opts.connections) {
    const loaded = await traced(pkg, opts.requests, conns);
    const perRequest = new Map();
    for (const [name, calls] of loaded) {
      const extra = calls - (idle.get(name) ?? 0);
      if (extra / opts.requests >= 0.01) perRequest.set(name, extra / opts.requests);
    }
    const sorted = [...perRequest].sort((a, b) => b[1] - a[1]);
    const total = sorted.reduce((sum, [, v]) => sum + v, 0);
    rows.push({ pkg, conns, total, sorted });
  }
}

const cmd = `pnpm --filter 07-io-uring syscalls --requests ${opts.requests} --connections ${opts.connections.join(',')} --models ${opts.models.join(',')}`;
console.log(`\nSyscalls per request: ${opts.requests} keep-alive requests of /bench.html, one in flight per connection, all threads (strace -c -f), minus a run with no requests.`);
console.log(`command: ${cmd}\n`);
console.log('| model | connections | syscalls per request | the main ones (per request) |');
console.log('|---|---:|---:|---|');
for (const { pkg, conns, total, sorted } of rows) {
  const top = sorted.slice(0, 6).map(([name, v]) => `${name} ${v.toFixed(2)}`).join(', ');
  console.log(`| ${pkg} | ${conns} | ${total.toFixed(2)} | ${top} |`);
}
