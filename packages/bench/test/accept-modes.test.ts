/**
 * The accept-modes script's command line (the measurement itself runs 06 for a minute: it is
 * run by hand, `pnpm --filter bench accept-modes`, not here).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../dist/accept-modes.js', import.meta.url));

describe('accept-modes', () => {
  it('--help prints the usage and exits 0', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: pnpm --filter bench accept-modes/);
  });

  it.each([
    [['--reactors', '1'], /^accept-modes: --reactors expects an integer from 2 to 64, got "1"$/],
    [['--reactors'], /^accept-modes: --reactors expects an integer from 2 to 64, got ""$/],
    [['--workers', '2'], /^accept-modes: unknown flag "--workers"/],
  ])('exits 2 with one line naming the flag: %s', (args, message) => {
    const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(message);
  });
});
