/**
 * A document root built to be attacked. The secret lives *outside* the root, next to it, and is
 * reachable from inside only by the tricks a static server must refuse: climbing with `..` in
 * every encoding, symlinks that lead out, a sibling directory whose name starts like the root's
 * (`www-evil` beside `www`: a naive `startsWith(root)` check lets it through), dotfiles.
 *
 *   <tmp>/secret.txt                 SECRET (outside the root)
 *   <tmp>/www-evil/secret.txt        SECRET (outside, with a name that extends the root's)
 *   <tmp>/www/                       the root
 *     index.html, f0.txt … f9.txt    small files (cached by the server), distinct contents
 *     big.bin                        8 MiB of random bytes (sent with sendfile, never cached)
 *     smuggled.txt                   what a smuggled request would fetch
 *     sub/index.html, sub/.hidden
 *     .env, .git/config              dotfiles: 404 however they are reached
 *     %2e%2e/decoy.txt               a directory literally named "%2e%2e": reached only by double encoding
 *     escape.txt   -> ../secret.txt  symlink out of the root: 404
 *     escape-dir   -> ..             symlink to the root's parent: 404 for anything through it
 *     alias.txt    -> .env           symlink to a dotfile: 404
 *     inside.txt   -> index.html     symlink that stays inside: served
 *
 * Owned by the test file that made it; `remove()` deletes it all.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface HostileSite {
  /** The document root to pass as `--root`. */
  root: string;
  /** A random string in every file outside the root (and in the dotfiles): it must never be served. */
  secret: string;
  /** Contents of the regular files inside the root, by URL path (`/f3.txt`). */
  files: ReadonlyMap<string, Buffer>;
  /** The number of small files f0.txt … f(n-1).txt. */
  smallFiles: number;
  remove(): void;
}

/** Size of big.bin: well above the 64 KiB cache limit and several socket buffers. */
export const BIG_FILE_BYTES = 8 * 1024 * 1024;

export function makeHostileSite(): HostileSite {
  const base = mkdtempSync(join(tmpdir(), 'hardening-'));
  const root = join(base, 'www');
  const secret = `SECRET-${randomBytes(12).toString('hex')}`;
  const files = new Map<string, Buffer>();
  const put = (path: string, data: string | Buffer): void => {
    const full = join(base, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, data);
  };
  const serve = (urlPath: string, data: string | Buffer): void => {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    put(join('www', urlPath), bytes);
    files.set(urlPath, bytes);
  };

  put('secret.txt', `${secret}\n`);
  put('www-evil/secret.txt', `${secret}\n`);

  serve('/index.html', '<!doctype html><title>hardening</title><h1>hardening</h1>\n');
  const smallFiles = 10;
  // Distinct contents *and* lengths, so a response in the wrong place cannot pass for the right one.
  for (let i = 0; i < smallFiles; i++) serve(`/f${i}.txt`, `file ${i}\n${'.'.repeat(i * 7)}\n`);
  serve('/big.bin', randomBytes(BIG_FILE_BYTES));
  serve('/smuggled.txt', 'SMUGGLED: this file must never be served by a smuggling test\n');
  serve('/sub/index.html', '<!doctype html><title>sub</title>\n');
  serve('/%2e%2e/decoy.txt', 'LITERAL: the directory is named %2e%2e\n');
  put('www/sub/.hidden', `${secret}\n`);
  put('www/.env', `TOKEN=${secret}\n`);
  put('www/.git/config', `[core]\n# ${secret}\n`);

  symlinkSync('../secret.txt', join(root, 'escape.txt'));
  symlinkSync('..', join(root, 'escape-dir'));
  symlinkSync('.env', join(root, 'alias.txt'));
  symlinkSync('index.html', join(root, 'inside.txt'));

  return { root, secret, files, smallFiles, remove: () => rmSync(base, { recursive: true, force: true }) };
}
