// Schema map: draws the "schema-map/1" document of #schema-map-data with
// cytoscape (canvas) and lays it out with cytoscape-fcose. Plain ES2020, no
// modules: it runs after the vendored libraries in the same <script>.
//
// window.schemaMap is what a harness reads: ready, error, renderMs (ms from
// navigation start to the first drawn, laid-out map), timings (the same clock
// at each step: script, cy, panels, layout, fit), layout, layoutMs, cy,
// tables(), edges(), crossSchemaEdges(), highlighted(), selected(),
// screenPosition(id), focus(id), and the actions search(q), path(a, b),
// showTable(id), showSchema(name), fit().
(function () {
  'use strict';

  // Above this many tables the map uses the cheaper "large" settings: one
  // draft fcose layout per schema, schema areas packed in rows and drawn as
  // plain boxes behind their tables rather than as compound nodes (compound
  // bookkeeping costs cytoscape seconds at 2,000 tables), short labels and a
  // texture while panning.
  const LARGE = 300;
  // Up to this many tables, each table node lists its first few columns.
  const COLUMNS_IN_NODE = 150;
  const COLUMN_LINES = 6;
  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", "DejaVu Sans", Arial, sans-serif';
  const READ = new Set(['SELECT']);
  const WRITE = new Set(['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']);

  const api = {
    timings: { script: Math.round(performance.now()) },
    ready: false,
    error: null,
    renderMs: null,
    layoutMs: null,
    layout: null,
    cy: null,
    data: null,
  };
  window.schemaMap = api;

  const $ = (id) => document.getElementById(id);

  // h('li', {class: 'x', dataset: {id: 'a'}, onclick: f}, 'text', child...)
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k === 'style') el.style.cssText = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const badge = (text, kind) => h('span', { class: 'badge' + (kind ? ' ' + kind : '') }, text);

  function fail(message) {
    api.error = message;
    const box = $('loading');
    box.textContent = 'The schema map cannot be shown: ' + message;
    box.classList.add('error');
    document.body.dataset.ready = 'error';
    console.error('schema map: ' + message);
  }

  // ---------------------------------------------------------------- data --

  let data;
  try {
    data = JSON.parse($('schema-map-data').textContent);
  } catch (e) {
    fail('the embedded data is not valid JSON (' + e.message + ')');
    return;
  }
  if (!data || typeof data !== 'object' || typeof data.format !== 'string' || !/^schema-map\/1(\.|$)/.test(data.format)) {
    fail('unknown data format ' + JSON.stringify(data && data.format) + ', this page reads "schema-map/1"');
    return;
  }
  if (typeof window.cytoscape !== 'function') {
    fail('the cytoscape library is missing from the page');
    return;
  }
  if (typeof window.cytoscapeFcose === 'function') {
    window.cytoscape.use(window.cytoscapeFcose);
  }
  api.data = data;

  const arr = (x) => (Array.isArray(x) ? x : []);
  const schemas = arr(data.schemas).map((s) => ({
    name: String(s.name),
    owners: arr(s.owners).map(String),
    pending: arr(s.pending).map(String),
    drift: arr(s.drift).map(String),
    backfills: arr(s.backfills),
  }));
  const schemaByName = new Map(schemas.map((s) => [s.name, s]));
  const tables = arr(data.tables).map((t) => {
    const schema = String(t.schema ?? String(t.id).split('.')[0]);
    const name = String(t.name ?? String(t.id).slice(schema.length + 1));
    return {
      id: String(t.id ?? schema + '.' + name),
      schema, name,
      comment: t.comment ?? null,
      columns: arr(t.columns),
      indexes: arr(t.indexes),
      constraints: arr(t.constraints),
      distribution: t.distribution ?? null,
    };
  });
  const tableById = new Map(tables.map((t) => [t.id, t]));
  // A table in a schema the document does not list still gets an area.
  for (const t of tables) {
    if (!schemaByName.has(t.schema)) {
      const s = { name: t.schema, owners: [], pending: [], drift: [], backfills: [] };
      schemas.push(s);
      schemaByName.set(s.name, s);
    }
  }
  const fks = arr(data.foreign_keys).map((k, i) => ({
    i,
    name: String(k.name),
    from: String(k.from),
    to: String(k.to),
    from_columns: arr(k.from_columns).map(String),
    to_columns: arr(k.to_columns).map(String),
    citus_refused: k.citus_refused ? String(k.citus_refused) : null,
  }));
  // A key to or from a table outside the mapped schemas: draw that table as
  // an outline node of its own so the key still shows.
  const outside = new Set();
  for (const k of fks) {
    for (const end of [k.from, k.to]) if (!tableById.has(end)) outside.add(end);
  }
  const schemaOf = (id) => (tableById.has(id) ? tableById.get(id).schema : id.split('.')[0]);
  for (const k of fks) k.cross = schemaOf(k.from) !== schemaOf(k.to);
  const roles = arr(data.roles).map((r) => ({
    name: String(r.name),
    grants: arr(r.grants).map((g) => ({
      schema: String(g.schema),
      table: g.table === null || g.table === undefined ? null : String(g.table),
      privileges: arr(g.privileges).map((p) => String(p).toUpperCase()),
    })),
  }));

  const large = tables.length > LARGE;
  const hashLayout = (location.hash.match(/layout=([a-z-]+)/) || [])[1];
  const layoutName = hashLayout || (large ? 'schemas-packed' : 'fcose');
  // fcose over the whole map needs the schemas as compound nodes; the packed
  // layouts draw each schema area as a box after placing its tables.
  const compound = layoutName === 'fcose' || layoutName === 'fcose-draft';

  // Which roles may read or write a table: schema-wide grants and grants on
  // the table itself, merged per role.
  function accessFor(t) {
    const out = [];
    for (const r of roles) {
      const privs = new Set();
      const via = new Set();
      for (const g of r.grants) {
        if (g.schema !== t.schema) continue;
        if (g.table !== null && g.table !== t.name) continue;
        g.privileges.forEach((p) => privs.add(p));
        via.add(g.table === null ? t.schema + '.*' : t.id);
      }
      if (privs.size) out.push({ role: r.name, privileges: [...privs], via: [...via] });
    }
    return out;
  }
  const canRead = (privs) => privs.some((p) => READ.has(p) || p === 'ALL' || p === 'ALL PRIVILEGES');
  const canWrite = (privs) => privs.some((p) => WRITE.has(p) || p === 'ALL' || p === 'ALL PRIVILEGES');

  // ------------------------------------------------------------ elements --

  // Pastel area colours, one hue per schema (golden-angle spacing).
  function schemaColours(i) {
    const hue = Math.round((i * 137.508 + 200) % 360);
    return { fill: `hsl(${hue}, 70%, 96%)`, stroke: `hsl(${hue}, 45%, 58%)`, dot: `hsl(${hue}, 60%, 80%)` };
  }
  schemas.forEach((s, i) => Object.assign(s, schemaColours(i)));

  const showColumns = tables.length <= COLUMNS_IN_NODE;
  function tableLabel(t) {
    const lines = [t.name];
    if (showColumns) {
      for (const c of t.columns.slice(0, COLUMN_LINES)) lines.push((c.primary_key ? '\u25C6 ' : '\u00A0\u00A0 ') + c.name);
      if (t.columns.length > COLUMN_LINES) lines.push(`+${t.columns.length - COLUMN_LINES} more`);
    } else {
      lines.push(`${t.columns.length} col${t.columns.length === 1 ? '' : 's'}`);
    }
    return lines;
  }
  // Node size from its label: an estimate of the text's width is enough, the
  // label is drawn by cytoscape inside the box.
  function sizeFor(lines, fontSize) {
    const longest = lines.reduce((m, l) => Math.max(m, l.length), 0);
    return { w: Math.max(60, Math.ceil(longest * fontSize * 0.6) + 18), h: Math.ceil(lines.length * fontSize * 1.3) + 12 };
  }

  function schemaElement(s, box) {
    const counts = [];
    if (s.pending.length) counts.push(`${s.pending.length} pending`);
    if (s.drift.length) counts.push(`${s.drift.length} drift`);
    if (s.backfills.length) counts.push(`${s.backfills.length} backfill${s.backfills.length === 1 ? '' : 's'}`);
    const label = s.name + (s.owners.length ? '  \u00B7  ' + s.owners.join(' ') : '') + (counts.length ? '\n' + counts.join(' \u00B7 ') : '');
    const el = {
      group: 'nodes',
      data: { id: 'schema:' + s.name, kind: 'schema', schema: s.name, label, fill: s.fill, stroke: s.stroke },
      classes: 'schema' + (s.drift.length ? ' drift' : '') + (box ? ' area' : ''),
    };
    if (box) {
      el.data.w = box.w;
      el.data.h = box.h;
      el.position = { x: box.x, y: box.y };
    }
    return el;
  }

  const elements = [];
  if (compound) for (const s of schemas) elements.push(schemaElement(s, null));
  const tableFont = showColumns ? 11 : 12;
  for (const t of tables) {
    const lines = tableLabel(t);
    const size = sizeFor(lines, tableFont);
    elements.push({
      group: 'nodes',
      data: { id: t.id, kind: 'table', schema: t.schema, name: t.name, parent: compound ? 'schema:' + t.schema : undefined, label: lines.join('\n'), w: size.w, h: size.h },
      classes: 'table',
    });
  }
  for (const id of outside) {
    const size = sizeFor([id, '(not mapped)'], tableFont);
    elements.push({
      group: 'nodes',
      data: { id, kind: 'outside', schema: id.split('.')[0], label: id + '\n(not mapped)', w: size.w, h: size.h },
      classes: 'outside',
    });
  }
  // A key from a table to itself is drawn as a loop that must reach out of
  // the (possibly tall) node to be seen.
  const sizeById = new Map();
  for (const el of elements) if (el.data.w) sizeById.set(el.data.id, el.data);
  function loopSize(k) {
    if (k.from !== k.to) return 0;
    const d = sizeById.get(k.from);
    return d ? Math.round(Math.max(d.w, d.h) * 0.6) : 40;
  }
  for (const k of fks) {
    elements.push({
      group: 'edges',
      data: { id: 'fk:' + k.i, kind: 'fk', fk: k.i, name: k.name, source: k.from, target: k.to, loop: loopSize(k) },
      classes: 'fk' + (k.cross ? ' cross' : '') + (k.citus_refused ? ' refused' : '') + (k.from === k.to ? ' loop' : ''),
    });
  }

  const style = [
    { selector: 'node', style: { 'font-family': FONT, color: '#1f2937', 'min-zoomed-font-size': large ? 7 : 0 } },
    // Without compound nodes the areas are drawn under the keys and tables.
    { selector: 'node, edge', style: compound ? {} : { 'z-index-compare': 'manual', 'z-index': 2 } },
    { selector: 'edge', style: compound ? {} : { 'z-index': 1 } },
    {
      selector: 'node.schema',
      style: {
        shape: 'round-rectangle', 'background-color': 'data(fill)', 'background-opacity': 1,
        'border-color': 'data(stroke)', 'border-width': 2, label: 'data(label)', 'text-wrap': 'wrap',
        'text-valign': 'top', 'text-halign': 'center', 'text-margin-y': -4, 'font-size': large ? 28 : 14,
        'font-weight': 'bold', padding: large ? 24 : 16, 'min-zoomed-font-size': 0,
      },
    },
    { selector: 'node.schema.area', style: { width: 'data(w)', height: 'data(h)', padding: 0, 'z-index': 0 } },
    { selector: 'node.schema.drift', style: { 'border-style': 'dashed' } },
    { selector: 'node.schema:selected, node.schema.focus', style: { 'border-width': 4, 'border-color': '#2563eb' } },
    {
      selector: 'node.table, node.outside',
      style: {
        shape: 'round-rectangle', width: 'data(w)', height: 'data(h)', 'background-color': '#ffffff',
        'border-color': '#94a3b8', 'border-width': 1, label: 'data(label)', 'text-wrap': 'wrap',
        'text-valign': 'center', 'text-halign': 'center', 'font-size': tableFont,
        'text-justification': showColumns ? 'left' : 'center', 'line-height': 1.3,
      },
    },
    { selector: 'node.outside', style: { 'border-style': 'dashed', 'background-color': '#f3f4f6', color: '#6b7280' } },
    { selector: 'node.table.match', style: { 'border-color': '#059669', 'border-width': 3 } },
    { selector: 'node.table:selected', style: { 'border-color': '#2563eb', 'border-width': 4, 'background-color': '#eff6ff' } },
    {
      selector: 'edge',
      style: {
        width: 1.5, 'line-color': '#94a3b8', 'target-arrow-color': '#94a3b8', 'target-arrow-shape': 'triangle',
        'arrow-scale': 0.9, 'curve-style': large ? 'straight' : 'bezier', opacity: 0.9,
      },
    },
    { selector: 'edge.loop', style: { 'curve-style': 'bezier', 'loop-direction': '45deg', 'loop-sweep': '-50deg', 'control-point-step-size': 'data(loop)' } },
    {
      selector: 'edge.cross',
      style: { 'line-color': '#d97706', 'target-arrow-color': '#d97706', 'line-style': 'dashed', 'line-dash-pattern': [7, 4], width: 2 },
    },
    { selector: 'edge.refused', style: { 'line-color': '#dc2626', 'target-arrow-color': '#dc2626', width: 3 } },
    { selector: 'edge:selected, edge.hover', style: { width: 5, 'z-index': compound ? 20 : 3 } },
    { selector: '.faded', style: { opacity: 0.18 } },
    { selector: 'node.schema.faded', style: { opacity: 0.35 } },
    { selector: 'node.path', style: { 'border-color': '#7c3aed', 'border-width': 5, 'background-color': '#f5f3ff', opacity: 1 } },
    { selector: 'edge.path', style: { 'line-color': '#7c3aed', 'target-arrow-color': '#7c3aed', width: 5, opacity: 1, 'z-index': compound ? 30 : 3 } },
  ];

  const cy = window.cytoscape({
    container: $('cy'),
    elements,
    style: style.filter((rule) => Object.keys(rule.style).length),
    layout: { name: 'preset' },
    minZoom: 0.01,
    maxZoom: 4,
    boxSelectionEnabled: false,
    selectionType: 'single',
    // Cheaper drawing while panning and zooming a large map.
    textureOnViewport: large,
    hideEdgesOnViewport: large,
    motionBlur: false,
    pixelRatio: large ? 1 : 'auto',
  });
  api.cy = cy;
  api.timings.cy = Math.round(performance.now());

  // ------------------------------------------------------------- layout --

  // fcose starts from random positions; a seeded Math.random while it runs
  // makes the same document give the same picture every time it is opened.
  function withSeededRandom(seed, fn) {
    const saved = Math.random;
    let s = seed >>> 0;
    Math.random = function () {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    try {
      return fn();
    } finally {
      Math.random = saved;
    }
  }

  function runSync(layout) {
    // Layouts without animation finish inside run(); layoutstop fires there.
    let done = false;
    layout.one('layoutstop', () => { done = true; });
    layout.run();
    if (!done) console.warn('schema map: layout did not stop synchronously');
  }

  const fcoseCommon = {
    name: 'fcose', animate: false, fit: false, randomize: true, nodeDimensionsIncludeLabels: true,
    packComponents: true, tile: true, uniformNodeDimensions: false,
  };

  function layoutWhole(quality) {
    runSync(cy.layout(Object.assign({}, fcoseCommon, {
      quality,
      idealEdgeLength: showColumns ? 90 : 60,
      nodeRepulsion: showColumns ? 9000 : 4500,
      nestingFactor: 0.1,
      gravity: 0.25,
      gravityCompound: 1.0,
      gravityRangeCompound: 1.5,
      numIter: quality === 'draft' ? 1000 : 2500,
      nodeSeparation: 60,
      tilingPaddingVertical: 20,
      tilingPaddingHorizontal: 20,
    })));
  }

  // Large maps: each schema's tables get their own draft fcose layout (its
  // keys inside the schema only), then the schema areas are placed in rows
  // like words in a paragraph and drawn as boxes behind their tables. Keys
  // between schemas do not move anything; they are drawn over the result.
  function layoutSchemasPacked(inner) {
    const PAD = 24;
    const GAP = 80;
    // Room above each area for its two-line name, which sizeForScreen keeps
    // about 15px high on screen: so the room is set from the zoom at which
    // the whole map will fit, estimated from the areas' total size.
    let LABEL = 84;
    const bySchema = new Map();
    cy.nodes('.table').forEach((n) => {
      const k = n.data('schema');
      if (!bySchema.has(k)) bySchema.set(k, []);
      bySchema.get(k).push(n);
    });
    const boxes = [];
    for (const s of schemas) {
      const kids = cy.collection(bySchema.get(s.name) || []);
      if (kids.empty()) continue;
      const inside = kids.connectedEdges().filter((e) => e.source().data('schema') === s.name && e.target().data('schema') === s.name);
      const eles = kids.union(inside);
      if (inner === 'grid' || kids.length === 1) {
        runSync(eles.layout({ name: 'grid', fit: false, animate: false, avoidOverlap: true, avoidOverlapPadding: 12, condense: true }));
      } else {
        runSync(eles.layout(Object.assign({}, fcoseCommon, {
          quality: 'default', idealEdgeLength: 50, nodeRepulsion: 4500, numIter: 600, nodeSeparation: 40,
          tilingPaddingVertical: 12, tilingPaddingHorizontal: 12,
        })));
      }
      const bb = kids.boundingBox({ includeLabels: true });
      boxes.push({ s, kids, bb, w: bb.w + 2 * PAD, h: bb.h + 2 * PAD });
    }
    // Rows as wide as makes the whole map about the canvas's shape.
    const aspect = Math.min(3, Math.max(0.5, cy.width() / Math.max(1, cy.height())));
    let area = 0;
    for (let i = 0; i < 3; i++) {
      area = boxes.reduce((a, b) => a + (b.w + GAP) * (b.h + LABEL + GAP), 0);
      const fitZoom = Math.max(1, cy.height()) / Math.sqrt(area / aspect);
      LABEL = Math.min(4000, Math.max(84, 44 / fitZoom));
    }
    const rowWidth = Math.max(Math.sqrt(area * aspect), ...boxes.map((b) => b.w));
    let x = 0;
    let y = 0;
    let rowH = 0;
    const areas = [];
    cy.batch(() => {
      for (const b of boxes) {
        if (x > 0 && x + b.w > rowWidth) {
          x = 0;
          y += rowH;
          rowH = 0;
        }
        const dx = x + PAD - b.bb.x1;
        const dy = y + LABEL + PAD - b.bb.y1;
        b.kids.positions((n) => ({ x: n.position('x') + dx, y: n.position('y') + dy }));
        areas.push(schemaElement(b.s, { x: x + b.w / 2, y: y + LABEL + b.h / 2, w: b.w, h: b.h }));
        x += b.w + GAP;
        rowH = Math.max(rowH, b.h + LABEL + GAP);
      }
      // Tables outside the mapped schemas go in a row under everything.
      let ox = 0;
      cy.nodes('.outside').positions((n) => {
        const p = { x: ox + n.width() / 2, y: y + rowH + 40 };
        ox += n.width() + 30;
        return p;
      });
    });
    // Schemas without tables still get a small area, after the others.
    for (const s of schemas) {
      if (!bySchema.has(s.name)) {
        areas.push(schemaElement(s, { x: x + 100, y: y + LABEL + 40, w: 200, h: 80 }));
        x += 200 + GAP;
      }
    }
    cy.add(areas);
  }

  function runLayout() {
    const t0 = performance.now();
    withSeededRandom(20261206, () => {
      if (layoutName === 'fcose') layoutWhole('default');
      else if (layoutName === 'fcose-draft') layoutWhole('draft');
      else if (layoutName === 'schemas-grid') layoutSchemasPacked('grid');
      else layoutSchemasPacked('fcose');
    });
    api.layout = layoutName;
    api.layoutMs = Math.round(performance.now() - t0);
  }

  // --------------------------------------------------------- side panels --

  function renderMeta() {
    const title = data.title ? String(data.title) : 'Schema map';
    $('map-title').textContent = 'Schema map: ' + title;
    document.title = 'Schema map: ' + title;
    const meta = $('map-meta');
    meta.replaceChildren(...[
      data.source === 'history'
        ? badge('replay of the migration history, no live database', 'warn')
        : badge('read from the database', 'info'),
      data.citus ? badge('Citus', 'info') : null,
      data.generated_at ? h('span', null, 'generated ' + data.generated_at) : null,
    ].filter(Boolean));
  }

  function renderSummary() {
    const cross = fks.filter((k) => k.cross).length;
    const refused = fks.filter((k) => k.citus_refused).length;
    $('summary').replaceChildren(...[
      h('h2', null, 'Summary'),
      h('div', null,
        `${schemas.length} schema${schemas.length === 1 ? '' : 's'}, ${tables.length} table${tables.length === 1 ? '' : 's'}, `,
        `${fks.length} foreign key${fks.length === 1 ? '' : 's'} (${cross} between teams`,
        refused ? `, ${refused} refused by Citus` : '', ')'),
      outside.size ? h('div', { class: 'muted small' }, `${outside.size} referenced table(s) outside the map drawn as outlines`) : null,
    ].filter(Boolean));
  }

  function renderSchemaList() {
    $('schema-list').replaceChildren(...schemas.map((s) => {
      const n = tables.filter((t) => t.schema === s.name).length;
      return h('li', { class: 'link', dataset: { schema: s.name }, onclick: () => showSchema(s.name, true) },
        h('span', { class: 'dot', style: `background:${s.dot}` }),
        h('span', { class: 'name' }, s.name),
        h('span', { class: 'muted small' }, s.owners.join(' ') || 'no owner'),
        h('span', { class: 'muted small' }, `${n} table${n === 1 ? '' : 's'}`),
        s.pending.length ? badge(`${s.pending.length} pending`, 'warn') : null,
        s.drift.length ? badge(`${s.drift.length} drift`, 'bad') : null,
        s.backfills.length ? badge(`${s.backfills.length} backfill${s.backfills.length === 1 ? '' : 's'}`, 'info') : null);
    }));
  }

  function renderCrossKeys() {
    const cross = fks.filter((k) => k.cross);
    $('cross-count').textContent = `(${cross.length})`;
    const list = $('cross-keys');
    if (!cross.length) {
      list.replaceChildren(h('li', { class: 'muted' }, 'none'));
      return;
    }
    list.replaceChildren(...cross.map((k) => h('li', {
      class: 'link' + (k.citus_refused ? ' refused' : ''), dataset: { fk: k.i }, title: k.citus_refused || k.name,
      onclick: () => showKey(k.i, true),
    }, h('span', { class: 'mono' }, k.from), h('span', { class: 'arrow' }, ' \u2192 '), h('span', { class: 'mono' }, k.to),
    h('span', { class: 'kname' }, k.name + (k.from_columns.length ? ` (${k.from_columns.join(', ')})` : '')),
    k.citus_refused ? h('span', { class: 'reason' }, 'Citus refuses: ' + k.citus_refused) : null)));
  }

  function grantTarget(g) {
    return g.table === null ? g.schema + '.*' : g.schema + '.' + g.table;
  }
  function renderRoles() {
    const box = $('roles');
    if (!roles.length) {
      box.replaceChildren(h('p', { class: 'muted' }, 'No roles in the document.'));
      return;
    }
    box.replaceChildren(...roles.map((r) => {
      const reads = r.grants.filter((g) => canRead(g.privileges)).map(grantTarget);
      const writes = r.grants.filter((g) => canWrite(g.privileges)).map((g) => {
        const w = g.privileges.filter((p) => WRITE.has(p));
        return grantTarget(g) + (w.length && w.length < 4 ? ` (${w.join(', ').toLowerCase()})` : '');
      });
      return h('div', { class: 'role', dataset: { role: r.name } },
        h('div', { class: 'rname' }, r.name),
        h('div', { class: 'grants' }, h('span', { class: 'muted' }, 'reads'), reads.length ? reads.join(', ') : 'nothing'),
        h('div', { class: 'grants' }, h('span', { class: 'muted' }, 'writes'), writes.length ? writes.join(', ') : 'nothing'));
    }));
  }

  function tableLink(id) {
    return h('span', { class: 'link mono', onclick: () => (tableById.has(id) ? showTable(id, true) : null) }, id);
  }

  function setDetails(kind, key, ...content) {
    const d = $('details');
    d.dataset.kind = kind;
    d.dataset.table = kind === 'table' ? key : '';
    d.dataset.schema = kind === 'schema' ? key : '';
    d.replaceChildren(...content.filter((c) => c !== null && c !== undefined && c !== false));
    d.scrollIntoView({ block: 'nearest' });
    $('right').scrollTop = 0;
  }

  function showTable(id, centre) {
    const t = tableById.get(id);
    if (!t) return false;
    const node = cy.getElementById(id);
    cy.$(':selected').unselect();
    node.select();
    if (centre) centreOn(node);
    const access = accessFor(t);
    const outgoing = fks.filter((k) => k.from === id);
    const incoming = fks.filter((k) => k.to === id && k.from !== id);
    const s = schemaByName.get(t.schema);
    setDetails('table', id,
      h('h2', null, t.id),
      t.comment ? h('p', { class: 'comment' }, t.comment) : null,
      h('div', { class: 'facts' },
        h('span', { class: 'link badge', onclick: () => showSchema(t.schema, true) }, 'schema ' + t.schema),
        s && s.owners.length ? badge(s.owners.join(' ')) : null,
        badge('distribution: ' + (t.distribution || (data.citus ? 'local' : 'none (not Citus)')), t.distribution ? 'info' : null)),
      h('h3', null, `Columns (${t.columns.length})`),
      h('table', { class: 'columns' },
        h('thead', null, h('tr', null, h('th', null, 'PK'), h('th', null, 'name'), h('th', null, 'type'), h('th', null, 'null'), h('th', null, 'default'))),
        h('tbody', null, t.columns.map((c) => h('tr', { dataset: { column: String(c.name) } },
          h('td', { class: 'col-pk', title: c.primary_key ? 'primary key' : null }, c.primary_key ? 'PK' : ''),
          h('td', { class: 'col-name' }, String(c.name)),
          h('td', { class: 'mono' }, String(c.type ?? '')),
          h('td', null, c.nullable ? 'yes' : 'no'),
          h('td', { class: 'col-default' }, c.default === null || c.default === undefined ? '' : String(c.default)))))),
      h('h3', null, `Indexes (${t.indexes.length})`),
      t.indexes.length
        ? h('ul', { class: 'indexes' }, t.indexes.map((i) => h('li', null, h('span', { class: 'mono' }, String(i.name)), h('span', { class: 'def' }, String(i.definition ?? '')))))
        : h('p', { class: 'muted' }, 'none'),
      h('h3', null, `Constraints (${t.constraints.length})`),
      t.constraints.length
        ? h('ul', { class: 'constraints' }, t.constraints.map((c) => h('li', null, h('span', { class: 'mono' }, String(c.name)), ' ', badge(String(c.kind ?? '')), h('span', { class: 'def' }, String(c.definition ?? '')))))
        : h('p', { class: 'muted' }, 'none'),
      h('h3', null, 'Keys'),
      outgoing.length || incoming.length
        ? h('ul', { class: 'keys' },
          outgoing.map((k) => h('li', { class: k.citus_refused ? 'refused' : null }, 'references ', tableLink(k.to), ` (${k.from_columns.join(', ')}) `, h('span', { class: 'link muted', onclick: () => showKey(k.i, true) }, k.name), k.cross ? ' ' : null, k.cross ? badge('between teams', 'warn') : null, k.citus_refused ? h('span', { class: 'def refused' }, 'Citus refuses: ' + k.citus_refused) : null)),
          incoming.map((k) => h('li', { class: k.citus_refused ? 'refused' : null }, 'referenced by ', tableLink(k.from), ` (${k.from_columns.join(', ')}) `, h('span', { class: 'link muted', onclick: () => showKey(k.i, true) }, k.name), k.cross ? ' ' : null, k.cross ? badge('between teams', 'warn') : null, k.citus_refused ? h('span', { class: 'def refused' }, 'Citus refuses: ' + k.citus_refused) : null)))
        : h('p', { class: 'muted' }, 'none'),
      h('h3', null, 'Who may read or write it'),
      access.length
        ? h('table', { class: 'access' },
          h('thead', null, h('tr', null, h('th', null, 'role'), h('th', null, 'read'), h('th', null, 'write'), h('th', null, 'granted on'))),
          h('tbody', null, access.map((a) => h('tr', { dataset: { role: a.role } },
            h('td', { class: 'mono' }, a.role),
            h('td', null, canRead(a.privileges) ? 'yes' : 'no'),
            h('td', null, canWrite(a.privileges) ? a.privileges.filter((p) => WRITE.has(p) || p.startsWith('ALL')).join(', ').toLowerCase() : 'no'),
            h('td', { class: 'mono' }, a.via.join(', '))))))
        : h('p', { class: 'muted' }, 'No role in the document is granted anything on it.'));
    return true;
  }

  function showSchema(name, centre) {
    const s = schemaByName.get(name);
    if (!s) return false;
    const node = cy.getElementById('schema:' + name);
    cy.$(':selected').unselect();
    node.select();
    if (centre) cy.fit(node, 40);
    const ts = tables.filter((t) => t.schema === name);
    const out = fks.filter((k) => k.cross && schemaOf(k.from) === name);
    const inc = fks.filter((k) => k.cross && schemaOf(k.to) === name);
    const rs = roles.map((r) => {
      const gs = r.grants.filter((g) => g.schema === name);
      return gs.length ? { r, gs } : null;
    }).filter(Boolean);
    setDetails('schema', name,
      h('h2', null, name),
      h('div', { class: 'facts' }, s.owners.length ? s.owners.map((o) => badge(o)) : badge('no owner', 'warn'), badge(`${ts.length} tables`)),
      h('h3', null, `Pending migrations (${s.pending.length})`),
      s.pending.length ? h('ul', { class: 'pending' }, s.pending.map((p) => h('li', { class: 'mono' }, p))) : h('p', { class: 'muted' }, 'none: the schema is up to date'),
      h('h3', null, `Drift (${s.drift.length})`),
      s.drift.length ? h('ul', { class: 'drift' }, s.drift.map((p) => h('li', null, p))) : h('p', { class: 'muted' }, 'none'),
      h('h3', null, `Backfills in flight (${s.backfills.length})`),
      s.backfills.length
        ? h('ul', { class: 'backfills' }, s.backfills.map((b) => h('li', null, h('span', { class: 'mono' }, String(b.name)), ' ', badge(String(b.state ?? ''), b.state === 'failed' ? 'bad' : b.state === 'running' ? 'info' : 'warn'))))
        : h('p', { class: 'muted' }, 'none'),
      h('h3', null, 'Roles with grants here'),
      rs.length
        ? h('ul', null, rs.map(({ r, gs }) => h('li', null, h('span', { class: 'mono' }, r.name), ': ', gs.map((g) => `${grantTarget(g)} ${g.privileges.join(', ').toLowerCase()}`).join('; '))))
        : h('p', { class: 'muted' }, 'none'),
      h('h3', null, `Keys to other teams (${out.length}), from other teams (${inc.length})`),
      out.length || inc.length
        ? h('ul', null, out.concat(inc).map((k) => h('li', { class: k.citus_refused ? 'refused' : null }, tableLink(k.from), ' \u2192 ', tableLink(k.to), ' ', h('span', { class: 'link muted', onclick: () => showKey(k.i, true) }, k.name))))
        : h('p', { class: 'muted' }, 'none'),
      h('h3', null, 'Tables'),
      h('ul', { class: 'links' }, ts.map((t) => h('li', null, tableLink(t.id)))));
    return true;
  }

  function showKey(i, centre) {
    const k = fks[i];
    if (!k) return false;
    const edge = cy.getElementById('fk:' + i);
    cy.$(':selected').unselect();
    edge.select();
    if (centre) cy.fit(edge.connectedNodes(), 80);
    setDetails('key', k.name,
      h('h2', null, k.name),
      h('div', { class: 'facts' }, k.cross ? badge('between teams', 'warn') : badge('inside ' + schemaOf(k.from)), k.citus_refused ? badge('refused by Citus', 'bad') : null),
      h('p', null, tableLink(k.from), ` (${k.from_columns.join(', ')})`, ' references ', tableLink(k.to), ` (${k.to_columns.join(', ')})`),
      k.citus_refused ? h('p', { class: 'refused' }, 'Citus refuses this key: ' + k.citus_refused) : null);
    return true;
  }

  function centreOn(node) {
    const z = Math.max(cy.zoom(), large ? 0.9 : 1);
    cy.viewport({ zoom: Math.min(z, cy.maxZoom()), pan: cy.pan() });
    cy.center(node);
  }

  // -------------------------------------------------------------- search --

  // Case-insensitive partial match on "schema.table" and on the table name;
  // exact matches first, then prefixes, then anything containing the text.
  function rank(t, q) {
    const id = t.id.toLowerCase();
    const name = t.name.toLowerCase();
    if (id === q) return 0;
    if (name === q) return 1;
    if (id.startsWith(q)) return 2;
    if (name.startsWith(q)) return 3;
    if (name.includes(q)) return 4;
    if (id.includes(q)) return 5;
    return -1;
  }
  function findTables(query) {
    const q = String(query).trim().toLowerCase();
    if (!q) return [];
    const hits = [];
    for (const t of tables) {
      const r = rank(t, q);
      if (r >= 0) hits.push({ t, r });
    }
    hits.sort((a, b) => a.r - b.r || a.t.name.length - b.t.name.length || (a.t.id < b.t.id ? -1 : a.t.id > b.t.id ? 1 : 0));
    return hits.map((x) => x.t);
  }

  function search(query) {
    const panel = $('search-panel');
    const status = $('search-status');
    const list = $('search-results');
    cy.nodes('.match').removeClass('match');
    const q = String(query).trim();
    panel.hidden = false;
    panel.dataset.query = q;
    if (!q) {
      panel.hidden = true;
      list.replaceChildren();
      panel.dataset.state = 'empty';
      return { query: q, selected: null, matches: [] };
    }
    const found = findTables(q);
    if (!found.length) {
      status.textContent = `No table matches \u201C${q}\u201D.`;
      status.className = 'none';
      list.replaceChildren();
      panel.dataset.state = 'none';
      return { query: q, selected: null, matches: [] };
    }
    status.textContent = `${found.length} table${found.length === 1 ? '' : 's'} match \u201C${q}\u201D; the best is selected.`;
    status.className = '';
    cy.batch(() => found.forEach((t) => cy.getElementById(t.id).addClass('match')));
    list.replaceChildren(...found.map((t, i) => h('li', { class: i === 0 ? 'best' : null, dataset: { id: t.id }, onclick: () => showTable(t.id, true) }, t.id)));
    showTable(found[0].id, true);
    panel.dataset.state = 'found';
    return { query: q, selected: found[0].id, matches: found.map((t) => t.id) };
  }

  // ---------------------------------------------------------------- path --

  function resolveTable(text) {
    const q = String(text).trim().toLowerCase();
    if (!q) return null;
    for (const t of tables) if (t.id.toLowerCase() === q) return t.id;
    const byName = tables.filter((t) => t.name.toLowerCase() === q);
    return byName.length === 1 ? byName[0].id : null;
  }

  function clearPath() {
    cy.batch(() => {
      cy.elements('.path').removeStyle('width border-width').removeClass('path');
      cy.elements('.faded').removeClass('faded');
    });
    cy.scratch('_pathOrder', []);
    const panel = $('path-panel');
    panel.hidden = true;
    panel.dataset.state = '';
    $('path-tables').replaceChildren();
  }

  // Shortest path over foreign keys, direction ignored (cytoscape's A* with
  // no heuristic is Dijkstra; every key weighs 1).
  function path(fromText, toText) {
    clearPath();
    const panel = $('path-panel');
    const status = $('path-status');
    const list = $('path-tables');
    panel.hidden = false;
    const a = resolveTable(fromText);
    const b = resolveTable(toText);
    const unknown = [[fromText, a], [toText, b]].filter(([t, id]) => !id).map(([t]) => String(t).trim() || '(empty)');
    if (unknown.length) {
      status.textContent = `Unknown table: ${unknown.join(', ')}. Write schema.table (the list offers them).`;
      status.className = 'none';
      panel.dataset.state = 'error';
      return { from: a, to: b, found: false, tables: [] };
    }
    const graph = cy.elements('node.table, node.outside, edge.fk');
    const res = graph.aStar({ root: cy.getElementById(a), goal: cy.getElementById(b), directed: false, weight: () => 1 });
    if (!res.found) {
      status.textContent = `No path between ${a} and ${b}: no chain of foreign keys joins them, in either direction.`;
      status.className = 'none';
      panel.dataset.state = 'none';
      return { from: a, to: b, found: false, tables: [] };
    }
    const nodes = res.path.nodes();
    const order = nodes.map((n) => n.id());
    const edges = res.path.edges();
    cy.batch(() => {
      // A compound's opacity applies to its children too: the areas holding
      // the path stay unfaded.
      cy.elements().not(res.path).not(nodes.parents()).addClass('faded');
      res.path.addClass('path');
    });
    cy.scratch('_pathOrder', order);
    status.textContent = order.length === 1
      ? `${a} is the same table.`
      : `${order.length} tables, ${edges.length} key${edges.length === 1 ? '' : 's'} from ${a} to ${b}:`;
    status.className = '';
    const via = (x, y) => {
      const e = edges.filter((e) => (e.source().id() === x && e.target().id() === y) || (e.source().id() === y && e.target().id() === x))[0];
      if (!e) return null;
      const k = fks[e.data('fk')];
      return `\u2193 ${k.name} (${k.from} \u2192 ${k.to})`;
    };
    list.replaceChildren(...order.map((id, i) => h('li', { dataset: { id } },
      h('span', { class: 'table-id', onclick: () => showTable(id, true) }, id),
      i + 1 < order.length ? h('span', { class: 'via' }, via(id, order[i + 1])) : null)));
    panel.dataset.state = 'found';
    cy.fit(nodes, 60);
    api.sizeForScreen();
    return { from: a, to: b, found: true, tables: order };
  }

  // ------------------------------------------------------------- tooltip --

  const tip = $('tooltip');
  function showTip(edge, ev) {
    const k = fks[edge.data('fk')];
    tip.replaceChildren(h('div', null,
      h('span', { class: 'mono' }, k.name), h('br'),
      `${k.from} (${k.from_columns.join(', ')}) \u2192 ${k.to} (${k.to_columns.join(', ')})`,
      k.cross ? h('span', null, ' \u00B7 between teams') : null,
      k.citus_refused ? h('span', { class: 'reason' }, 'Citus refuses: ' + k.citus_refused) : null));
    tip.hidden = false;
    moveTip(ev);
  }
  function moveTip(ev) {
    const oe = ev.originalEvent;
    if (!oe) return;
    tip.style.left = Math.min(oe.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + 'px';
    tip.style.top = Math.min(oe.clientY + 14, window.innerHeight - tip.offsetHeight - 8) + 'px';
  }

  // -------------------------------------------------------------- wiring --

  function wire() {
    cy.on('tap', 'node.table', (ev) => showTable(ev.target.id(), false));
    cy.on('tap', 'node.schema', (ev) => showSchema(ev.target.data('schema'), false));
    cy.on('tap', 'edge.fk', (ev) => showKey(ev.target.data('fk'), false));
    cy.on('mouseover', 'edge.fk', (ev) => { ev.target.addClass('hover'); showTip(ev.target, ev); });
    cy.on('mousemove', 'edge.fk', (ev) => moveTip(ev));
    cy.on('mouseout', 'edge.fk', (ev) => { ev.target.removeClass('hover'); tip.hidden = true; });
    cy.on('viewport', () => { tip.hidden = true; });
    // Keep a few things a readable size on screen at any zoom: the schema
    // names over the areas (large maps, where the fitted map is small) and
    // the highlighted path. Few elements, so style bypasses are cheap.
    let lastZoom = 0;
    const sizeForScreen = (force) => {
      const z = cy.zoom();
      if (!force && Math.abs(z - lastZoom) / z < 0.08) return;
      lastZoom = z;
      cy.batch(() => {
        if (!compound) {
          cy.nodes('.schema.area').forEach((n) => {
            const chars = String(n.data('label')).split('\n').reduce((m, l) => Math.max(m, l.length), 1);
            const fits = n.data('w') / (chars * 0.62);
            n.style('font-size', Math.round(Math.max(10, Math.min(15 / z, fits, 600))));
          });
        }
        const path = cy.elements('.path');
        if (path.nonempty()) {
          path.edges().style('width', Math.max(5, 4 / z));
          path.nodes().style('border-width', Math.max(5, 4 / z));
        }
      });
    };
    cy.on('zoom', () => sizeForScreen(false));
    api.sizeForScreen = () => sizeForScreen(true);
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      search($('search').value);
    });
    $('path-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      path($('path-from').value, $('path-to').value);
    });
    $('path-clear').addEventListener('click', () => {
      clearPath();
      api.fit();
    });
    $('fit').addEventListener('click', () => api.fit());
    const dl = $('table-ids');
    const frag = document.createDocumentFragment();
    for (const t of tables) frag.append(h('option', { value: t.id }));
    dl.append(frag);
  }

  // ----------------------------------------------------------------- api --

  Object.assign(api, {
    tables: () => cy.nodes('.table').map((n) => n.id()),
    edges: () => cy.edges('.fk').map((e) => ({ name: e.data('name'), from: e.source().id(), to: e.target().id() })),
    crossSchemaEdges: () => cy.edges('.fk').filter((e) => e.source().data('schema') !== e.target().data('schema'))
      .map((e) => ({ name: e.data('name'), from: e.source().id(), to: e.target().id() })),
    refusedEdges: () => cy.edges('.fk.refused').map((e) => ({ name: e.data('name'), from: e.source().id(), to: e.target().id(), reason: fks[e.data('fk')].citus_refused })),
    // Ids of the table nodes the canvas highlights as the path, in path order.
    highlighted: () => {
      const lit = new Set(cy.nodes('.path').map((n) => n.id()));
      const order = (cy.scratch('_pathOrder') || []).filter((id) => lit.has(id));
      return order.concat([...lit].filter((id) => !order.includes(id)));
    },
    selected: () => cy.nodes('.table:selected').map((n) => n.id())[0] || null,
    // Where a node is drawn, in CSS pixels of the page (for page.mouse.click).
    screenPosition: (id) => {
      const n = cy.getElementById(id);
      if (n.empty()) return null;
      const r = cy.container().getBoundingClientRect();
      const p = n.renderedPosition();
      const w = n.renderedWidth();
      const hgt = n.renderedHeight();
      const x = r.left + p.x;
      const y = r.top + p.y;
      return { x, y, width: w, height: hgt, visible: x >= r.left && x <= r.right && y >= r.top && y <= r.bottom };
    },
    focus: (id) => {
      const n = cy.getElementById(id);
      if (n.empty()) return false;
      centreOn(n);
      return true;
    },
    fit: () => cy.fit(cy.elements(), 30),
    search,
    path,
    clearPath,
    showTable: (id) => showTable(id, true),
    showSchema: (name) => showSchema(name, true),
    showKey: (i) => showKey(i, true),
    findTables: (q) => findTables(q).map((t) => t.id),
  });

  // ---------------------------------------------------------------- boot --

  renderMeta();
  renderSummary();
  renderSchemaList();
  renderCrossKeys();
  renderRoles();
  wire();
  api.timings.panels = Math.round(performance.now());

  // The layout runs before the canvas first draws (cytoscape draws on the
  // next animation frame), so the map is drawn once, laid out; the page is
  // marked ready after that frame has been painted.
  try {
    runLayout();
  } catch (e) {
    fail('the layout failed: ' + (e && e.message ? e.message : e));
    return;
  }
  api.timings.layout = Math.round(performance.now());
  api.fit();
  api.sizeForScreen();
  api.timings.fit = Math.round(performance.now());
  requestAnimationFrame(() => requestAnimationFrame(() => {
    api.renderMs = Math.round(performance.now());
    api.timings.ready = api.renderMs;
    api.ready = true;
    document.body.dataset.ready = 'true';
  }));
})();
