import pg from 'pg';
const db = process.argv[2]; const seconds = Number(process.argv[3] ?? 60);
const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/postgres` }); await c.connect();
const counts = new Map(); let samples = 0; const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  const { rows } = await c.query(`SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q, wait_event_type AS w FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()`, [db]);
  samples++; for (const r of rows) { const k = `${r.w ?? 'CPU'} | ${r.q}`; counts.set(k, (counts.get(k) ?? 0) + 1); }
  await new Promise((r) => setTimeout(r, 20));
}
console.log('samples', samples);
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((v / samples).toFixed(3), k);
await c.end();
