#!/usr/bin/env node
// Opens a schema map page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), does what a person would do and prints ONE
// JSON object on stdout describing what the page drew and answered.
//
//   node xtask/browser/map-check.mjs <page.html> [--search <text>]
//        [--click <schema.table>] [--path <schema.table> <schema.table>]
//        [--screenshot <png>] [--timeout <ms>] [--layout <name>]
//
// Actions go through the UI: the search text is typed into the search box
// and Enter pressed; the click is a mouse click on the table node where the
// canvas draws it; the path inputs are filled and the Path button pressed.
// What was drawn is read from the page's cytoscape instance
// (window.schemaMap), what the panels say from their DOM text.
//
// Exit codes: 0 all done; 1 the page failed or an action did not give what it
// should (the JSON is still printed); 2 bad arguments; 3 chromium or
// playwright-core missing.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const CHROMIUM = '/usr/bin/chromium';
const USAGE = 'usage: map-check.mjs <page.html> [--search <text>] [--click <schema.table>] [--path <schema.table> <schema.table>] [--screenshot <png>] [--timeout <ms>] [--layout <name>]';

function usage(msg) {
  console.error(`map-check: ${msg}\n${USAGE}`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const opts = { timeout: 120000 };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const need = (n) => {
    if (i + n >= argv.length) usage(`${a} needs ${n} value${n > 1 ? 's' : ''}`);
    const v = argv.slice(i + 1, i + 1 + n);
    i += n;
    return v;
  };
  if (a === '--search') [opts.search] = need(1);
  else if (a === '--click') [opts.click] = need(1);
  else if (a === '--path') opts.path = need(2);
  else if (a === '--screenshot') [opts.screenshot] = need(1);
  else if (a === '--timeout') opts.timeout = Number(need(1)[0]);
  else if (a === '--layout') [opts.layout] = need(1);
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else if (!opts.page) opts.page = a;
  else usage(`unexpected argument ${a}`);
}
if (!opts.page) usage('no page given');
const pagePath = resolve(opts.page);
if (!existsSync(pagePath)) usage(`no such file: ${pagePath}`);

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('map-check: playwright-core is missing: run `npm ci --prefix xtask/browser`' + ` (${e.code || e.message})`);
  process.exit(3);
}
if (!existsSync(CHROMIUM)) {
  console.error(`map-check: ${CHROMIUM} is missing: install chromium (apt-get install -y chromium)`);
  process.exit(3);
}

const pageUrl = pathToFileURL(pagePath).href;
const profile = mkdtempSync(join(tmpdir(), 'map-check-'));
const problems = [];
const requests = [];
const consoleErrors = [];
const out = {};
let context;

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    timeout: 60000,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('request', (req) => {
    const url = req.url();
    if (url !== pageUrl) requests.push(url);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));

  // --layout overrides the page's choice (fcose, fcose-draft, schemas-packed,
  // schemas-grid), for measuring; the fragment is not part of any request.
  await page.goto(opts.layout ? `${pageUrl}#layout=${opts.layout}` : pageUrl, { waitUntil: 'load', timeout: opts.timeout });
  await page.waitForFunction(() => document.body && (document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error'),
    null, { timeout: opts.timeout, polling: 50 });
  const state = await page.evaluate(() => ({
    ready: document.body.dataset.ready,
    error: window.schemaMap && window.schemaMap.error,
    renderMs: window.schemaMap && window.schemaMap.renderMs,
  }));
  if (state.ready !== 'true') throw new Error(`the page did not get ready: ${state.error || 'no reason given'}`);

  out.render_ms = state.renderMs;
  Object.assign(out, await page.evaluate(() => {
    const m = window.schemaMap;
    return {
      layout: m.layout, layout_ms: m.layoutMs, timings: m.timings,
      tables: m.tables(), cross_schema_edges: m.crossSchemaEdges(), edges: m.edges(),
    };
  }));

  if (opts.search !== undefined) {
    await page.click('#search');
    await page.fill('#search', '');
    await page.keyboard.type(opts.search);
    await page.keyboard.press('Enter');
    await page.waitForFunction((q) => {
      const p = document.getElementById('search-panel');
      return p.dataset.query === q.trim() && (p.dataset.state === 'found' || p.dataset.state === 'none' || p.dataset.state === 'empty');
    }, opts.search, { timeout: 10000 });
    out.search = await page.evaluate((query) => ({
      query,
      selected: window.schemaMap.selected(),
      matches: [...document.querySelectorAll('#search-results li')].map((li) => li.textContent.trim()),
    }), opts.search);
  }

  if (opts.click !== undefined) {
    const id = opts.click;
    let pos = await page.evaluate((i) => window.schemaMap.screenPosition(i), id);
    if (!pos) {
      problems.push(`--click: no node ${id} on the map`);
      out.click = { table: null, columns: [] };
    } else {
      if (!pos.visible || pos.width < 40 || pos.height < 20) {
        // Too small or off screen to hit: bring it into view first (the same
        // as a person zooming in on it), then click where it is drawn.
        await page.evaluate((i) => window.schemaMap.focus(i), id);
        await page.waitForTimeout(100);
        pos = await page.evaluate((i) => window.schemaMap.screenPosition(i), id);
      }
      // Click inside the node, a little above its centre.
      const y = pos.y - pos.height / 4;
      await page.mouse.click(pos.x, y);
      try {
        await page.waitForFunction((i) => document.getElementById('details').dataset.table === i, id, { timeout: 5000 });
      } catch {
        problems.push(`--click: clicking ${id} at (${Math.round(pos.x)}, ${Math.round(y)}) did not open its details`);
      }
      out.click = await page.evaluate(() => {
        const d = document.getElementById('details');
        return {
          table: d.dataset.table || null,
          columns: [...d.querySelectorAll('table.columns tbody td.col-name')].map((td) => td.textContent.trim()),
        };
      });
    }
  }

  if (opts.path !== undefined) {
    const [from, to] = opts.path;
    await page.fill('#path-from', from);
    await page.fill('#path-to', to);
    await page.click('#path-go');
    await page.waitForFunction(() => ['found', 'none', 'error'].includes(document.getElementById('path-panel').dataset.state), null, { timeout: 10000 });
    out.path = await page.evaluate(([f, t]) => {
      const panel = document.getElementById('path-panel');
      return {
        from: f,
        to: t,
        found: panel.dataset.state === 'found',
        message: document.getElementById('path-status').textContent,
        tables: [...document.querySelectorAll('#path-tables .table-id')].map((el) => el.textContent.trim()),
        highlighted: window.schemaMap.highlighted(),
      };
    }, [from, to]);
  }

  if (opts.screenshot) {
    await page.waitForTimeout(150);
    await page.screenshot({ path: resolve(opts.screenshot) });
  }
} catch (e) {
  problems.push(e.message.split('\n')[0]);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}

out.requests = requests;
out.console_errors = consoleErrors;
for (const p of problems) console.error(`map-check: ${p}`);
// No process.exit here: on a pipe stdout is written asynchronously and
// exiting at once would cut a large JSON object short.
process.exitCode = problems.length ? 1 : 0;
process.stdout.write(JSON.stringify(out) + '\n');
