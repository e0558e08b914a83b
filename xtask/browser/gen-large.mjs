#!/usr/bin/env node
// Writes a valid "schema-map/1" document with <n_tables> tables spread over
// about 20 schemas, with foreign keys inside each schema and across schemas
// (some of them refused by Citus), roles and per-schema findings. The output
// is the same for the same arguments (seeded PRNG).
//
//   node xtask/browser/gen-large.mjs 2000 > big.json
//   node xtask/browser/gen-large.mjs 2000 --seed 7 > other.json
const args = process.argv.slice(2);
const n = Number.parseInt(args[0], 10);
if (!Number.isInteger(n) || n < 1) {
  console.error('usage: gen-large.mjs <n_tables> [--seed <int>] > big.json');
  process.exit(2);
}
const seedAt = args.indexOf('--seed');
let seed = seedAt >= 0 ? Number.parseInt(args[seedAt + 1], 10) >>> 0 : 20261206;

// mulberry32
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const chance = (p) => rand() < p;

const SCHEMA_NAMES = [
  'core', 'academy', 'talent', 'vacancy', 'billing', 'messaging', 'search', 'analytics', 'payments', 'identity',
  'catalog', 'inventory', 'shipping', 'support', 'marketing', 'reviews', 'scheduling', 'documents', 'audit', 'notifications',
];
const NOUNS = [
  'account', 'address', 'answer', 'asset', 'attempt', 'badge', 'batch', 'booking', 'campaign', 'category', 'certificate',
  'channel', 'comment', 'contract', 'coupon', 'course', 'credit', 'device', 'discount', 'document', 'event', 'export',
  'feedback', 'file', 'grade', 'group', 'import', 'interview', 'invoice', 'item', 'job', 'lesson', 'license', 'login',
  'message', 'module', 'note', 'offer', 'order', 'page', 'payment', 'plan', 'post', 'price', 'profile', 'question',
  'quiz', 'rating', 'receipt', 'refund', 'report', 'request', 'review', 'reward', 'rule', 'session', 'setting',
  'shipment', 'skill', 'slot', 'subscription', 'tag', 'task', 'template', 'ticket', 'token', 'topic', 'transfer',
  'upload', 'vendor', 'visit', 'vote', 'webhook', 'workflow',
];
const QUALIFIERS = ['', 'draft', 'archived', 'daily', 'pending', 'shared', 'external', 'legacy', 'staged', 'custom', 'public', 'private'];
const SUFFIXES = ['s', '_items', '_events', '_links', '_versions', '_history', '_settings', '_stats'];
const TYPES = [
  ['text', null], ['text', null], ['integer', '0'], ['bigint', null], ['boolean', 'false'], ['jsonb', "'{}'::jsonb"],
  ['numeric(12,2)', null], ['timestamp with time zone', 'now()'], ['date', null], ['uuid', null],
];
const COLUMN_WORDS = ['name', 'title', 'status', 'kind', 'amount', 'total', 'note', 'body', 'code', 'position', 'weight', 'locale', 'source', 'payload', 'starts_at', 'ends_at', 'due_on', 'score', 'flags', 'external_ref'];

const nSchemas = Math.max(1, Math.min(SCHEMA_NAMES.length, Math.round(n / 5) || 1));
const schemas = SCHEMA_NAMES.slice(0, nSchemas);

// Spread n tables over the schemas, unevenly (between 0.5x and 1.5x the mean).
const weights = schemas.map(() => 0.5 + rand());
const wsum = weights.reduce((a, b) => a + b, 0);
const counts = weights.map((w) => Math.max(1, Math.floor((n * w) / wsum)));
let diff = n - counts.reduce((a, b) => a + b, 0);
for (let i = 0; diff !== 0; i = (i + 1) % counts.length) {
  if (diff > 0) { counts[i]++; diff--; } else if (counts[i] > 1) { counts[i]--; diff++; }
}

const tables = [];
const bySchema = new Map();
for (let s = 0; s < schemas.length; s++) {
  const schema = schemas[s];
  const used = new Set();
  const list = [];
  for (let k = 0; k < counts[s]; k++) {
    let name;
    for (let tries = 0; ; tries++) {
      const q = pick(QUALIFIERS);
      name = (q ? q + '_' : '') + pick(NOUNS) + pick(SUFFIXES);
      if (tries > 20) name += '_' + k;
      if (!used.has(name)) break;
    }
    used.add(name);
    const columns = [{ name: 'id', type: 'uuid', nullable: false, default: 'gen_random_uuid()', primary_key: true }];
    const ncols = 3 + Math.floor(rand() * 9);
    const colNames = new Set(['id']);
    while (columns.length < ncols) {
      const c = pick(COLUMN_WORDS);
      if (colNames.has(c)) continue;
      colNames.add(c);
      const [type, def] = pick(TYPES);
      columns.push({ name: c, type, nullable: chance(0.4), default: chance(0.5) ? def : null, primary_key: false });
    }
    columns.push({ name: 'created_at', type: 'timestamp with time zone', nullable: false, default: 'now()', primary_key: false });
    const t = {
      id: `${schema}.${name}`, schema, name, comment: chance(0.2) ? `Generated table ${k} of ${schema}.` : null,
      columns,
      indexes: [{ name: `${name}_pkey`, definition: `CREATE UNIQUE INDEX ${name}_pkey ON ${schema}.${name} USING btree (id)` }],
      constraints: [{ name: `${name}_pkey`, kind: 'primary key', definition: 'PRIMARY KEY (id)' }],
      distribution: null,
    };
    if (chance(0.15)) {
      t.constraints.push({ name: `${name}_created_at_check`, kind: 'check', definition: "CHECK (created_at > '2000-01-01'::timestamp with time zone)" });
    }
    tables.push(t);
    list.push(t);
  }
  bySchema.set(schema, list);
}

const citus = true;
for (const t of tables) t.distribution = chance(0.2) ? 'reference' : chance(0.1) ? 'local' : 'distributed (by id)';

const foreign_keys = [];
function addKey(from, to) {
  const col = `${to.name.replace(/s$/, '')}_id`.slice(0, 50);
  let cname = col;
  for (let i = 2; from.columns.some((c) => c.name === cname); i++) cname = `${col}_${i}`;
  from.columns.push({ name: cname, type: 'uuid', nullable: chance(0.3), default: null, primary_key: false });
  const name = `${from.name}_${cname}_fkey`;
  from.constraints.push({ name, kind: 'foreign key', definition: `FOREIGN KEY (${cname}) REFERENCES ${to.id}(id)` });
  from.indexes.push({ name: `${from.name}_${cname}_idx`, definition: `CREATE INDEX ${from.name}_${cname}_idx ON ${from.id} USING btree (${cname})` });
  const cross = from.schema !== to.schema;
  let refused = null;
  if (from.distribution.startsWith('distributed') && to.distribution.startsWith('distributed') && chance(0.25)) {
    refused = `${from.id} and ${to.id} are both distributed but the key ${cname} -> id does not join their distribution columns`;
  } else if (from.distribution === 'reference' && to.distribution.startsWith('distributed') && chance(0.3)) {
    refused = `${from.id} is a reference table and cannot reference the distributed table ${to.id}`;
  }
  foreign_keys.push({ name, from: from.id, from_columns: [cname], to: to.id, to_columns: ['id'], cross_schema: cross, citus_refused: refused });
}

for (const [schema, list] of bySchema) {
  for (let i = 1; i < list.length; i++) {
    // Keys inside the schema: mostly to an earlier table, so each schema is a few trees.
    const k = chance(0.15) ? 0 : chance(0.6) ? 1 : 2;
    for (let j = 0; j < k; j++) addKey(list[i], list[Math.floor(rand() * i)]);
  }
  // Keys across schemas: towards a few "hub" tables of other schemas.
  for (const t of list) {
    if (!chance(0.08)) continue;
    const other = pick(schemas.filter((s) => s !== schema));
    if (!other) continue;
    const targets = bySchema.get(other);
    addKey(t, targets[Math.floor(rand() * Math.min(3, targets.length))]);
  }
}

const BACKFILL_STATES = ['running', 'paused', 'failed', 'pending'];
const doc = {
  format: 'schema-map/1',
  title: `generated: ${n} tables in ${schemas.length} schemas`,
  source: 'history',
  generated_at: '2026-12-06T23:30:00Z',
  citus,
  schemas: schemas.map((name, i) => ({
    name,
    owners: [`@acme/${name}`].concat(chance(0.2) ? ['@acme/platform'] : []),
    pending: chance(0.3) ? [`20261201_0${String(i).padStart(5, '0')}_${name}_add_column`] : [],
    drift: chance(0.2) ? [`${bySchema.get(name)[0].id}: column legacy_flag not in history`] : [],
    backfills: chance(0.2) ? [{ name: `${name}_backfill_totals`, state: pick(BACKFILL_STATES) }] : [],
  })),
  tables,
  foreign_keys,
  roles: schemas.map((name) => ({
    name: `app_${name}`,
    grants: [{ schema: name, table: null, privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] }].concat(
      name === schemas[0] ? [] : [{ schema: schemas[0], table: bySchema.get(schemas[0])[0].name, privileges: ['SELECT'] }],
    ),
  })).concat([{ name: 'reporting', grants: schemas.map((s) => ({ schema: s, table: null, privileges: ['SELECT'] })) }]),
};
process.stdout.write(JSON.stringify(doc) + '\n');
