#!/usr/bin/env node
// Copies the browser libraries of migration-runner/map/node_modules (installed
// by `npm ci --prefix migration-runner/map`) into migration-runner/map/vendor/,
// each unchanged after one header comment naming package@version and license.
//
//   node xtask/browser/vendor-sync.mjs          write vendor/*.js and vendor/ORDER
//   node xtask/browser/vendor-sync.mjs --check  exit 1 if vendor/ differs from node_modules
//
// The order below is the order in which the page concatenates them
// (vendor/ORDER): cytoscape first, then fcose's chain of UMD globals
// layoutBase -> coseBase -> cytoscapeFcose, each reading the one before.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const map = resolve(here, '../../migration-runner/map');
const nm = join(map, 'node_modules');

const LIBS = [
  { pkg: 'cytoscape', file: 'dist/cytoscape.min.js', out: 'cytoscape.min.js', ownHeader: true },
  { pkg: 'layout-base', file: 'layout-base.js', out: 'layout-base.js' },
  { pkg: 'cose-base', file: 'cose-base.js', out: 'cose-base.js' },
  { pkg: 'cytoscape-fcose', file: 'cytoscape-fcose.js', out: 'cytoscape-fcose.js' },
];

function header(lib) {
  const meta = JSON.parse(readFileSync(join(nm, lib.pkg, 'package.json'), 'utf8'));
  let h = `/*! ${lib.pkg}@${meta.version} | license: ${meta.license} | ${lib.pkg}/${lib.file} from the npm package, unchanged below this comment */\n`;
  if (!lib.ownHeader) {
    // The package's file has no license header of its own: carry its LICENSE.
    const license = readFileSync(join(nm, lib.pkg, 'LICENSE'), 'utf8').replace(/\*\//g, '* /').trimEnd();
    h += `/*! ${lib.pkg} LICENSE:\n${license}\n*/\n`;
  }
  return h;
}

const check = process.argv.includes('--check');
let bad = 0;
for (const lib of LIBS) {
  const src = join(nm, lib.pkg, lib.file);
  if (!existsSync(src)) {
    console.error(`missing ${src}: run \`npm ci --prefix migration-runner/map\``);
    process.exit(2);
  }
  const want = header(lib) + readFileSync(src, 'utf8');
  const dest = join(map, 'vendor', lib.out);
  if (check) {
    const have = existsSync(dest) ? readFileSync(dest, 'utf8') : null;
    if (have !== want) { console.error(`vendor/${lib.out} differs from ${lib.pkg}/${lib.file}`); bad++; }
  } else {
    writeFileSync(dest, want);
  }
}
const order = LIBS.map((l) => l.out).join('\n') + '\n';
if (check) {
  const orderFile = join(map, 'vendor', 'ORDER');
  if (!existsSync(orderFile) || readFileSync(orderFile, 'utf8') !== order) { console.error('vendor/ORDER differs'); bad++; }
  if (bad) process.exit(1);
  console.log('vendor/ matches node_modules');
} else {
  writeFileSync(join(map, 'vendor', 'ORDER'), order);
}
