/**
 * StaticSite.resolve: mapping request paths to files, and the root confinement that no encoding
 * trick may escape. Runs against a temporary tree:
 *
 *   outer/secret.txt                 ← outside the root: must never be served
 *   outer/root/                      ← the document root
 *     index.html a.txt noext %2e .secret é.txt
 *     docs/index.html  empty/  sub/.hidden  dir with space/x.txt
 *     link-in → a.txt   link-out → ../secret.txt   link-dir-out → ..   link-dot → .secret
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { DEMO_SITE_ROOT, StaticSite, createProtocol, type Resolution } from '../src/index.js';
import { decodePath } from '../src/http/static.js';

let outer: string;
let root: string;
let site: StaticSite;

beforeAll(() => {
  outer = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'static-test-')));
  root = path.join(outer, 'root');
  const files: Record<string, string> = {
    'secret.txt': 'outside',
    'root/index.html': '<h1>home</h1>',
    'root/a.txt': 'hello',
    'root/noext': 'bytes',
    'root/%2e': 'a file literally named %2e',
    'root/.secret': 'dotfile',
    'root/é.txt': 'accent',
    'root/docs/index.html': '<h1>docs</h1>',
    'root/sub/.hidden': 'hidden',
    'root/dir with space/x.txt': 'x',
  };
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(outer, name)), { recursive: true });
    fs.writeFileSync(path.join(outer, name), text);
  }
  fs.mkdirSync(path.join(root, 'empty'));
  fs.symlinkSync('a.txt', path.join(root, 'link-in'));
  fs.symlinkSync('../secret.txt', path.join(root, 'link-out'));
  fs.symlinkSync('..', path.join(root, 'link-dir-out'));
  fs.symlinkSync('.secret', path.join(root, 'link-dot'));
  site = new StaticSite(root);
});

afterAll(() => {
  fs.rmSync(outer, { recursive: true, force: true });
});

/** The file a path resolves to, relative to the root, or the resolution's kind. */
function outcome(rawPath: string): string {
  const r: Resolution = site.resolve(rawPath);
  switch (r.kind) {
    case 'file':
      return 'file:' + path.relative(root, r.path);
    case 'redirect':
      return 'redirect:' + r.location;
    default:
      return r.kind;
  }
}

describe('StaticSite.resolve: ordinary paths', () => {
  it.each([
    ['/', 'file:index.html'],
    ['/a.txt', 'file:a.txt'],
    ['/docs/', 'file:docs/index.html'],
    ['/docs/index.html', 'file:docs/index.html'],
    ['//a.txt', 'file:a.txt'],
    ['/./a.txt', 'file:a.txt'],
    ['/docs/../a.txt', 'file:a.txt'],
    ['/docs/%2e%2e/a.txt', 'file:a.txt'], // climbs, but stays inside
    ['/%61.txt', 'file:a.txt'],
    ['/%C3%A9.txt', 'file:é.txt'],
    ['/dir%20with%20space/x.txt', 'file:dir with space/x.txt'],
    ['/%252e', 'file:%2e'], // decoded once: the literal name "%2e"
  ])('%s → %s', (raw, expected) => {
    expect(outcome(raw)).toBe(expected);
  });

  it.each([
    ['/docs', 'redirect:/docs/'],
    ['//docs', 'redirect:/docs/'], // never a protocol-relative Location
    ['/dir%20with%20space', 'redirect:/dir%20with%20space/'],
    ['/.', 'redirect:/'],
    ['/docs/..', 'redirect:/'],
  ])('directory without its slash %s → %s', (raw, expected) => {
    expect(outcome(raw)).toBe(expected);
  });

  it.each([
    '/missing.html',
    '/empty/', // a directory without index.html: no listing
    '/a.txt/', // a file with a trailing slash
    '/a.txt/more',
    '/%252e%252e/secret.txt', // decoded once: a literal "%2e%2e" directory, which does not exist
  ])('%s → not-found', (raw) => {
    expect(outcome(raw)).toBe('not-found');
  });
});

describe('StaticSite.resolve: root confinement', () => {
  it.each([
    ['/../secret.txt', 'plain ..'],
    ['/docs/../../secret.txt', '.. after a directory'],
    ['/%2e%2e/secret.txt', 'percent-encoded ..'],
    ['/%2E%2E/secret.txt', 'upper-case escapes'],
    ['/.%2e/secret.txt', 'half-encoded ..'],
    ['/..%2fsecret.txt', 'encoded slash'],
    ['/docs/..%2f..%2fsecret.txt', 'encoded slashes'],
    ['/..%5csecret.txt', 'encoded backslash'],
    ['/..\\secret.txt', 'raw backslash'],
    ['/a.txt%00.html', 'NUL'],
    ['/%00', 'NUL alone'],
    ['/%c0%ae%c0%ae/secret.txt', 'overlong UTF-8 dot (2 bytes)'],
    ['/%e0%80%ae%e0%80%ae/secret.txt', 'overlong UTF-8 dot (3 bytes)'],
    ['/%ed%a0%80', 'UTF-16 surrogate in UTF-8'],
    ['/%ff', 'invalid UTF-8 byte'],
    ['/%', 'truncated escape'],
    ['/%4', 'truncated escape'],
    ['/%zz', 'non-hex escape'],
    ['/é.txt', 'raw non-ASCII'],
    ['/a b', 'raw space'],
    ['/%0a', 'control character'],
    ['a.txt', 'no leading slash'],
    ['*', 'asterisk form'],
  ])('%s (%s) → bad-request', (raw) => {
    expect(outcome(raw)).toBe('bad-request');
  });

  it('follows a symlink whose target stays inside the root', () => {
    expect(outcome('/link-in')).toBe('file:a.txt');
  });

  it.each(['/link-out', '/link-dir-out/secret.txt', '/link-dir-out'])('refuses %s, which a symlink leads out of the root', (raw) => {
    expect(outcome(raw)).toBe('not-found');
  });

  it('judges where a path finally leads, not the way there', () => {
    // Out through link-dir-out and back into the root: the file is one the root serves anyway.
    expect(outcome('/link-dir-out/root/a.txt')).toBe('file:a.txt');
  });

  it.each(['/.secret', '/%2esecret', '/sub/.hidden', '/link-dot', '/.git/config'])('hides dotfile %s', (raw) => {
    expect(outcome(raw)).toBe('not-found');
  });

  it('never resolves to a file outside the root, whatever the path (property)', () => {
    const pieces = [
      '..', '.', '%2e%2e', '%2E%2e', '.%2e', '%2f', '%2F', '%5c', '\\', '%00', '%c0%ae', '%252e', '%25',
      'a.txt', 'docs', 'secret.txt', 'link-out', 'link-dir-out', 'link-in', 'root', '', '%', 'é', '%c3%a9',
    ];
    const arbitraryPath = fc
      .array(fc.constantFrom(...pieces), { maxLength: 8 })
      .chain((segs) => fc.constantFrom('/' + segs.join('/'), '/' + segs.join('')));
    fc.assert(
      fc.property(arbitraryPath, (raw) => {
        const r = site.resolve(raw);
        if (r.kind === 'file') {
          expect(r.path.startsWith(root + '/')).toBe(true);
          expect(path.relative(root, r.path).split('/').some((s) => s.startsWith('.'))).toBe(false);
        }
        if (r.kind === 'redirect') expect(r.location).toMatch(/^\/(?!\/)/);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodePath', () => {
  it('normalises segments and remembers the trailing slash', () => {
    expect(decodePath('/a//b/./c/../d/')).toEqual({ segments: ['a', 'b', 'd'], trailingSlash: true });
    expect(decodePath('/a%2Fb')).toEqual({ segments: ['a', 'b'], trailingSlash: false });
  });

  it('says why a path is bad', () => {
    expect(decodePath('/..')).toMatch(/above the root/);
    expect(decodePath('/%c0%ae')).toMatch(/UTF-8/);
    expect(decodePath('/%5c')).toMatch(/backslash/);
    expect(decodePath('/%00')).toMatch(/NUL/);
  });
});

describe('StaticSite construction', () => {
  it('refuses a root that does not exist or is not a directory', () => {
    expect(() => new StaticSite(path.join(outer, 'nope'))).toThrow(/ENOENT/);
    expect(() => new StaticSite(path.join(root, 'a.txt'))).toThrow(/not a directory/);
  });
});

describe('the demo site and the package entry point', () => {
  it('DEMO_SITE_ROOT holds the site, with bench.html exactly 540 bytes', () => {
    expect(fs.statSync(path.join(DEMO_SITE_ROOT, 'bench.html')).size).toBe(540);
    const demo = new StaticSite(DEMO_SITE_ROOT);
    for (const p of ['/', '/docs/', '/style.css', '/logo.svg', '/favicon.ico', '/favicon.png']) {
      expect(demo.resolve(p).kind, p).toBe('file');
    }
  });

  it('createProtocol builds http and echo, and refuses other names', () => {
    const http = createProtocol('http', { root: DEMO_SITE_ROOT });
    expect([http.name, http.scheme]).toEqual(['http', 'http']);
    const echo = createProtocol('echo', { root: DEMO_SITE_ROOT });
    expect([echo.name, echo.scheme]).toEqual(['echo', 'tcp']);
    expect(() => createProtocol('ftp' as 'http', { root: DEMO_SITE_ROOT })).toThrow(/unknown protocol/);
  });
});
