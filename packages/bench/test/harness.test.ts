/**
 * The whole harness, run as a reader runs it (the compiled CLI as a child process), for about a
 * second of load on two models: the JSON rows and the Markdown report it writes must be complete.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempSite, packageMain, type TempSite } from '@course/testkit';
import type { Report } from '../src/types.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
/** 05 when it is built; otherwise 01 (the models are built by `pnpm build`, not by this package). */
const MODEL = existsSync(packageMain('05-epoll-native')) ? '05-epoll-native' : '01-blocking';

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('pnpm bench (harness)', () => {
  let site: TempSite;
  let dir: string;
  let run: { code: number | null; stdout: string; stderr: string };
  let report: Report;

  beforeAll(async () => {
    site = makeTempSite({ 'bench.html': 'b'.repeat(540) });
    dir = mkdtempSync(join(tmpdir(), 'bench-harness-'));
    run = await runCli(['--duration', '1', '--models', `node-http,${MODEL}`, '--scenario', 'keepalive', '--root', site.root, '--out', join(dir, 'r.json')]);
    report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as Report;
  }, 60000);
  afterAll(() => {
    site?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 and prints the keepalive table', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^keep-alive: 50 connections/m);
    expect(run.stdout).toMatch(/^node-http\s+[\d,]+\s/m);
    expect(run.stderr).toContain(`[2/2] ${MODEL} · keepalive`); // progress, one line per run off a terminal
  });

  it('writes one row per model with the measured fields', () => {
    expect(report.rows.map((r) => [r.model, r.scenario, r.status])).toEqual([
      ['node-http', 'keepalive', 'ok'],
      [MODEL, 'keepalive', 'ok'],
    ]);
    for (const r of report.rows) {
      expect(r.totalRequests).toBeGreaterThan(0);
      expect(r.requestsPerSec).toBeCloseTo(r.totalRequests / r.durationS, 6);
      expect(r.latencyP50Ms).toBeGreaterThan(0);
      expect(r.latencyP99Ms).toBeGreaterThanOrEqual(r.latencyP50Ms!);
      expect(r.errors).toBeGreaterThanOrEqual(0);
      expect(r.serverCpuSeconds).toBeGreaterThan(0);
      expect(r.requestsPerServerCpuSec).toBeCloseTo(r.totalRequests / r.serverCpuSeconds!, 6);
      expect(r.peakRssKb).toBeGreaterThan(10 * 1024); // a Node process is tens of MiB
      expect(r.connections).toBe(50);
      expect(r.wallS).toBeGreaterThan(r.durationS); // start, warm-up and stop come on top
    }
  });

  it('records the machine, the settings and the date', () => {
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.cpuModel).not.toBe('');
    expect(report.machine.node).toBe(process.version);
    expect(report.settings).toMatchObject({ durationS: 1, benchFile: '/bench.html', benchFileBytes: 540, root: site.root });
    expect(Date.now() - Date.parse(report.date)).toBeLessThan(10 * 60 * 1000);
    expect(report.scenarios).toEqual(['keepalive']);
  });

  it('writes a Markdown report with a table and a linked SVG chart', () => {
    const md = readFileSync(join(dir, 'r.md'), 'utf8');
    expect(md).toContain('## keepalive');
    expect(md).toMatch(/^\| model \| req\/s \|/m);
    expect(md).toMatch(new RegExp(`^\\| ${MODEL} \\| \\**[\\d,]+`, 'm'));
    expect(md).toContain('](r-keepalive.svg)');
    const svg = readFileSync(join(dir, 'r-keepalive.svg'), 'utf8');
    expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    expect(svg).toContain('>node-http<');
    expect(svg).toContain(`>${MODEL}<`);
  });

  it('names a bad flag in one line and exits 2', () => {
    const r = spawnSync(process.execPath, [CLI, '--scenarios', 'keepalive'], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('bench: unknown flag --scenarios\n');
  });

  it('refuses a root without bench.html', () => {
    const r = spawnSync(process.execPath, [CLI, '--root', dir, '--out', join(dir, 'x.json')], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bench\.html does not exist/);
  });

  it('says in one line that wrk is missing, before any run, when it is not on the PATH', async () => {
    const r = await runCli(['--engine', 'wrk', '--duration', '1', '--out', join(dir, 'nowrk.json')], { PATH: '/nonexistent' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('bench: --engine wrk: wrk is not installed (Debian/Ubuntu: apt-get install wrk)\n');
    expect(existsSync(join(dir, 'nowrk.json'))).toBe(false);
  });
});
