// Builds the Node-API addon with node-gyp.
// node-gyp downloads Node's headers unless told where they are, and that download fails offline.
// Node ships its headers under <prefix>/include/node, so point node-gyp there when they exist.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const prefix = join(dirname(process.execPath), '..');
const args = ['rebuild', '--loglevel=warn']; // compiler output (warnings, errors) still shows
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

let gyp;
try {
  gyp = createRequire(join(pkgDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  gyp = null; // not installed yet (e.g. a bare `node scripts/build-native.mjs`): fall back to npx
}
const cmd = gyp ? process.execPath : 'npx';
const argv = gyp ? [gyp, ...args] : ['--no-install', 'node-gyp', ...args];
const r = spawnSync(cmd, argv, { cwd: pkgDir, stdio: 'inherit' });
process.exit(r.status ?? 1);
