#!/usr/bin/env node
// Builds the schema map page the way the Rust side does, for trying the page
// by hand and for the harness:
//
//   node xtask/browser/build-page.mjs <data.json> <out.html>
//
// It takes migration-runner/map/assets/page.html and replaces three markers:
//   /*{{STYLE}}*/    with assets/map.css
//   /*{{SCRIPTS}}*/  with vendor/<each file named in vendor/ORDER>, then assets/map.js,
//                    joined with "\n"
//   {{DATA}}         with the JSON document, every "<" written as \u003c
// Each marker is replaced once, in one pass over the template, so text in a
// replacement (a comment in the data, a library) is never read as a marker.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [dataPath, outPath] = process.argv.slice(2);
if (!dataPath || !outPath) {
  console.error('usage: build-page.mjs <data.json> <out.html>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const map = resolve(here, '../../migration-runner/map');
const read = (p) => readFileSync(join(map, p), 'utf8');

const order = read('vendor/ORDER').split('\n').map((l) => l.trim()).filter(Boolean);
const scripts = order.map((f) => read(join('vendor', f))).concat([read('assets/map.js')]).join('\n');
const style = read('assets/map.css');
// Re-serialise so the output is compact and any JSON is checked first.
const data = JSON.stringify(JSON.parse(readFileSync(dataPath, 'utf8'))).replace(/</g, '\\u003c');

const template = read('assets/page.html');
const parts = { '/*{{STYLE}}*/': style, '/*{{SCRIPTS}}*/': scripts, '{{DATA}}': data };
for (const marker of Object.keys(parts)) {
  const count = template.split(marker).length - 1;
  if (count !== 1) {
    console.error(`assets/page.html has ${count} ${marker} markers, want exactly 1`);
    process.exit(1);
  }
}
const html = template.replace(/\/\*\{\{STYLE\}\}\*\/|\/\*\{\{SCRIPTS\}\}\*\/|\{\{DATA\}\}/g, (m) => parts[m]);
writeFileSync(outPath, html);
