#!/usr/bin/env node
// Stand-in for Prisma's native `schema-engine` binary, built on @prisma/schema-engine-wasm.
//
// The Prisma CLI's `migrate` commands spawn the native schema engine, which cannot be
// downloaded on this machine. The CLI spawns whatever executable PRISMA_SCHEMA_ENGINE_BINARY
// names instead (scripts/prisma.mjs sets it), so this file speaks the binary's protocol:
//
//   schema-engine --version                        -> prints "schema-engine-cli <hash>"
//   schema-engine --datasource '{"url":..}' cli can-connect-to-database|create-database|drop-database
//                                                  -> one-shot; errors as JSON log lines on stderr
//   schema-engine --datasource '{"url":..}' [--datamodels <schema file>]...
//                                                  -> JSON-RPC 2.0, one message per line on
//                                                     stdin/stdout, logs as JSON lines on stderr
//
// RPC methods are forwarded to the wasm engine's methods of the same name. The engine reaches
// PostgreSQL through a migration-aware driver adapter built on @prisma/adapter-pg, with three
// bugs of adapter-pg 7.10.1 worked around (see createAdapterFactory), and scripts sent whole
// (see adapterOverPool). Background and findings: /work/shared/PRISMA-OFFLINE.md.
//
// Limits: PostgreSQL only; a `shadowDatabaseUrl` in the datasource is ignored (a temporary
// shadow database is always created next to the main one, which needs CREATEDB); errors of RPC
// methods carry the engine's message but no Prisma P-code.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

/** Parses the arguments the CLI passes to the engine binary. Unknown flags are ignored. */
function parseArgs(argv) {
  const args = { datasource: {}, datamodelPaths: [], version: false, cliCommand: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--version' || arg === '-V') args.version = true;
    else if (arg === '--datasource') args.datasource = JSON.parse(argv[++i] ?? '{}');
    else if (arg === '--datamodels') args.datamodelPaths.push(argv[++i]);
    else if (arg === 'cli') args.cliCommand = argv[++i];
    // --enabled-preview-features, --extension-types, ...: take their value, nothing to do.
    else if (arg.startsWith('--') && argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) i++;
  }
  return args;
}

// ---------------------------------------------------------------------------------------------
// Logging: JSON lines on stderr, in the native engine's format (the CLI parses them)
// ---------------------------------------------------------------------------------------------

/** Writes one log line. `fields` may carry `error_code`, which the CLI turns into a P-code. */
function log(level, message, fields = {}) {
  const line = { timestamp: new Date().toISOString(), level, fields: { message, ...fields }, target: 'schema_engine::logger' };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

/** The wasm engine's log callback: it already hands over JSON lines in the native format. */
function forwardEngineLog(line) {
  process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
}

// ---------------------------------------------------------------------------------------------
// Loading the wasm engine on Node 20
// ---------------------------------------------------------------------------------------------

/** Last panic message of the wasm engine (its panic hook reports here before trapping). */
let lastPanicMessage;

let wasmGlue;

/** The wasm engine's JavaScript module, instantiated once. */
function loadWasmEngine() {
  return (wasmGlue ??= instantiateWasmEngine());
}

/**
 * Instantiates @prisma/schema-engine-wasm. Its package entry imports the `.wasm` file as an ES
 * module, which Node 20 cannot do, so the `.wasm` is instantiated here with the package's
 * JavaScript glue (`schema_engine_bg.js`) as its import object. Returns the glue module.
 */
async function instantiateWasmEngine() {
  globalThis.PRISMA_WASM_PANIC_REGISTRY = {
    set_message(message) {
      lastPanicMessage = message;
    },
  };
  const gluePath = fileURLToPath(import.meta.resolve('@prisma/schema-engine-wasm/schema_engine_bg'));
  const glue = await import(gluePath);
  const bytes = await readFile(gluePath.replace(/\.js$/, '.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  return glue;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL plumbing
// ---------------------------------------------------------------------------------------------

const PG_CHAR_OID = 18; // the one-byte `"char"` type, e.g. pg_constraint.contype
const PG_TEXT_OID = 25;

/** Reports `"char"` columns of a query result as `text`, which adapter-pg can deserialize. */
function retypeCharColumns(result) {
  for (const one of Array.isArray(result) ? result : [result]) {
    for (const field of one?.fields ?? []) {
      if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
    }
  }
  return result;
}

/**
 * pg client for the engine's pools. Bug 3 of adapter-pg 7.10.1: it cannot deserialize OID 18
 * ("Column type 'char' could not be deserialized"), which breaks every schema read. The value
 * is already a one-character string, so announcing it as text is enough.
 */
class CharAsTextClient extends pg.Client {
  query(config, values, callback) {
    if (typeof values === 'function') [values, callback] = [undefined, values];
    if (typeof callback === 'function') {
      return super.query(config, values, (error, result) => callback(error, error ? result : retypeCharColumns(result)));
    }
    const pending = super.query(config, values);
    return typeof pending?.then === 'function' ? pending.then(retypeCharColumns) : pending;
  }
}

/** The same connection string with another database name. */
function withDatabase(url, database) {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** The database name of a connection string (`postgres` when it has none, as libpq does). */
function databaseName(url) {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';
}

/** `host:port` of a connection string, for error messages. */
function serverAddress(url) {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || 5432}`;
}

function quoteIdent(name) {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Runs statements on a short-lived connection of their own. */
async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // a dropped connection surfaces through the query instead
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs one statement on the server's maintenance database (`postgres`, else `template1`). */
async function onMaintenanceDb(url, sql) {
  try {
    return await withClient(withDatabase(url, 'postgres'), (client) => client.query(sql));
  } catch (error) {
    if (error?.code !== '3D000') throw error;
    return withClient(withDatabase(url, 'template1'), (client) => client.query(sql));
  }
}

// Every pool this process opens, so that all of them are closed before it exits: the engine
// holds a session advisory lock on one of them, and `engine.free()` does not close anything.
const openPools = new Set();

function createPool(url) {
  const pool = new pg.Pool({ connectionString: url, Client: CharAsTextClient });
  openPools.add(pool);
  return pool;
}

/** Closes a pool once; later calls are no-ops (pg rejects a second `end()`). */
async function endPool(pool) {
  if (!openPools.delete(pool)) return;
  await pool.end().catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// Driver adapters for the wasm engine
// ---------------------------------------------------------------------------------------------

/**
 * An adapter-pg adapter over `pool`, with `dispose` replaced by `onDispose` (run once), and
 * `executeScript` sending the whole script in one simple query, as the native engine does:
 * adapter-pg splits scripts at every `;`, which breaks function bodies and string literals.
 */
async function adapterOverPool(pool, onDispose) {
  const adapter = await new PrismaPg(pool).connect();
  adapter.executeScript = async (script) => {
    try {
      await pool.query(script);
    } catch (error) {
      adapter.onError(error); // throws the adapter's DriverAdapterError
    }
  };
  let disposed;
  adapter.dispose = () => (disposed ??= onDispose());
  return adapter;
}

// Shadow databases created and not dropped yet, dropped at exit if the engine did not.
const shadowDatabases = new Map(); // name -> drop function

/** Drops a shadow database: pool closed first, then DROP ... WITH (FORCE). */
async function dropShadowDatabase(mainUrl, name, pool) {
  await endPool(pool);
  await withClient(mainUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
  shadowDatabases.delete(name);
}

/**
 * Creates a fresh shadow database next to the main one and connects to it. Bug 1 of adapter-pg
 * 7.10.1: its connectToShadowDb() connects to the main database (migrations would be replayed
 * on real data). Bug 2: its dispose() drops the database before closing its pool, which fails
 * and leaks the database.
 */
async function connectShadowDb(mainUrl) {
  const name = `prisma_migrate_shadow_db_${randomUUID()}`;
  await withClient(mainUrl, (client) => client.query(`CREATE DATABASE ${quoteIdent(name)}`));
  const pool = createPool(withDatabase(mainUrl, name));
  const drop = () => dropShadowDatabase(mainUrl, name, pool);
  shadowDatabases.set(name, drop);
  return adapterOverPool(pool, drop);
}

/** The migration-aware adapter factory `SchemaEngine.new` takes, for the datasource URL. */
function createAdapterFactory(datasource) {
  const requireUrl = () => {
    if (!datasource.url) throw new Error('No datasource URL: set datasource.url in prisma.config.ts.');
    return datasource.url;
  };
  return bindMigrationAwareSqlAdapterFactory({
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    async connect() {
      const pool = createPool(requireUrl());
      return adapterOverPool(pool, () => endPool(pool));
    },
    async connectToShadowDb() {
      return connectShadowDb(requireUrl());
    },
  });
}

// ---------------------------------------------------------------------------------------------
// One-shot `cli` subcommands
// ---------------------------------------------------------------------------------------------

/** Prisma's P-code and message for a connection or DDL error of `pg`, when there is one. */
function prismaErrorOf(error, url) {
  const database = databaseName(url);
  const address = serverAddress(url);
  switch (error?.code) {
    case '3D000':
      return { code: 'P1003', message: `Database \`${database}\` does not exist on the database server at \`${address}\`.` };
    case '42P04':
      return { code: 'P1009', message: `Database \`${database}\` already exists on the database server at \`${address}\`` };
    case '28P01':
    case '28000':
      return { code: 'P1000', message: `Authentication failed against database server at \`${address}\`: ${error.message}` };
    case '42501':
      return { code: 'P1010', message: `User was denied access on the database \`${database}\`` };
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return { code: 'P1001', message: `Can't reach database server at \`${address}\`` };
    default:
      return { code: undefined, message: error?.message ?? String(error) };
  }
}

const cliCommands = {
  'can-connect-to-database': (url) => withClient(url, (client) => client.query('SELECT 1')),
  'create-database': (url) => onMaintenanceDb(url, `CREATE DATABASE ${quoteIdent(databaseName(url))}`),
  'drop-database': (url) => onMaintenanceDb(url, `DROP DATABASE ${quoteIdent(databaseName(url))} WITH (FORCE)`),
};

/** Runs a `cli` subcommand; returns the exit code (errors are logged as the native engine does). */
async function runCliCommand(command, datasource) {
  // The CLI ignores the first stderr line of these commands.
  log('INFO', `Starting schema engine stand-in: cli ${command}`);
  const run = cliCommands[command];
  if (!run) {
    log('ERROR', `Unknown cli subcommand: ${command}`);
    return 1;
  }
  try {
    if (!datasource.url) throw new Error('No datasource URL: pass --datasource \'{"url": ...}\'.');
    await run(datasource.url);
    return 0;
  } catch (error) {
    const { code, message } = prismaErrorOf(error, datasource.url ?? 'postgres://localhost');
    log('ERROR', message, code ? { error_code: code } : {});
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC server
// ---------------------------------------------------------------------------------------------

/** RPC method names of the CLI that the wasm engine spells differently. */
const ENGINE_METHOD_OF = { getDatabaseVersion: 'version' };

/** Methods of the wasm `SchemaEngine` that the CLI may call. */
const ENGINE_METHODS = new Set([
  'applyMigrations',
  'createMigration',
  'dbExecute',
  'debugPanic',
  'devDiagnostic',
  'diagnoseMigrationHistory',
  'diff',
  'ensureConnectionValidity',
  'evaluateDataLoss',
  'introspect',
  'introspectSql',
  'markMigrationApplied',
  'markMigrationRolledBack',
  'reset',
  'schemaPush',
  'version',
]);

function send(message) {
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
}

/** A JSON-RPC error reply in the native engine's shape (the CLI reads `error.data`). */
function errorReply(id, error) {
  const isPanic = error instanceof WebAssembly.RuntimeError;
  const message = isPanic ? (lastPanicMessage ?? error.message) : (error?.message ?? String(error));
  return {
    id,
    error: {
      code: 4466,
      message: 'An error happened. Check the data field for details.',
      data: { is_panic: isPanic, message, meta: {} },
    },
  };
}

/**
 * Serves the CLI's requests one at a time over stdin/stdout. `engineHandle` creates the wasm
 * engine on first use (creating it connects to the database).
 */
function serveJsonRpc(engineHandle, datasource) {
  const pendingPrints = new Map(); // id of a `print` request to the CLI -> resolve
  let printCount = 0;
  let queue = Promise.resolve();

  /** Asks the CLI to print `content` on its stdout (how `diff` output reaches the user). */
  function print(content) {
    const id = `print-${++printCount}`;
    const acknowledged = new Promise((resolve) => pendingPrints.set(id, resolve));
    send({ id, method: 'print', params: { content } });
    return acknowledged;
  }

  /** Methods the wasm engine lacks or whose result the CLI expects differently. */
  const specialMethods = {
    async diff(params) {
      const engine = await engineHandle.get();
      const { exitCode, stdout } = await engine.diff(params);
      if (stdout != null) await print(stdout);
      return { exitCode };
    },
    // Needs no engine: the database it creates may well be the engine's own.
    async createDatabase(params) {
      const url = params?.datasource?.url ?? datasource.url;
      await onMaintenanceDb(url, `CREATE DATABASE ${quoteIdent(databaseName(url))}`);
      return { databaseName: databaseName(url) };
    },
  };

  async function call(method, params) {
    if (Object.hasOwn(specialMethods, method)) return specialMethods[method](params);
    const engineMethod = ENGINE_METHOD_OF[method] ?? method;
    if (!ENGINE_METHODS.has(engineMethod)) throw new Error(`Method not supported by the wasm schema engine: ${method}`);
    const engine = await engineHandle.get();
    return engine[engineMethod](params ?? undefined);
  }

  async function handleRequest({ id, method, params }) {
    try {
      const result = await call(method, params);
      send({ id, result: result ?? {} });
    } catch (error) {
      send(errorReply(id, error));
      // After a panic the wasm instance is unusable: exit as the native engine does.
      if (error instanceof WebAssembly.RuntimeError) await shutdown(101);
    }
  }

  function onLine(line) {
    if (!line.trim()) return;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      send({ id: null, error: { code: -32700, message: 'Parse error' } });
      return;
    }
    if (message.method === undefined) {
      // A reply of the CLI to one of our requests (`print`).
      pendingPrints.get(message.id)?.();
      pendingPrints.delete(message.id);
      return;
    }
    queue = queue.then(() => handleRequest(message));
  }

  const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
  input.on('line', onLine);
  // The CLI ends stdin when it is done with the engine: finish pending work, then exit.
  input.on('close', () => queue.then(() => shutdown(0)));
}

/** Lazily created wasm engine; a failed creation is retried by the next request. */
function createEngineHandle(args) {
  let engine;
  return {
    async get() {
      engine ??= createEngine(args).catch((error) => {
        engine = undefined;
        throw error;
      });
      return engine;
    },
  };
}

async function createEngine({ datasource, datamodelPaths }) {
  const glue = await loadWasmEngine();
  // `datamodels: []` panics the engine: no schema is `undefined`.
  const datamodels = datamodelPaths.length
    ? await Promise.all(datamodelPaths.map(async (path) => [path, await readFile(path, 'utf8')]))
    : undefined;
  return glue.SchemaEngine.new({ datamodels }, forwardEngineLog, createAdapterFactory(datasource));
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

const SHUTDOWN_GRACE_MS = 5000;
let shuttingDown;

/**
 * Drops leftover shadow databases, closes every pool (releasing the engine's advisory lock at
 * once, or the next engine waits ~10 s for it) and exits: the wasm leaves timers running, so
 * the process would not end by itself. Not `engine.free()`: it closes nothing.
 */
function shutdown(exitCode) {
  shuttingDown ??= (async () => {
    const giveUp = setTimeout(() => process.exit(exitCode), SHUTDOWN_GRACE_MS);
    giveUp.unref();
    await Promise.allSettled([...shadowDatabases.values()].map((drop) => drop()));
    await Promise.allSettled([...openPools].map(endPool));
    process.exit(exitCode);
  })();
  return shuttingDown;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.version) {
    const glue = await loadWasmEngine();
    process.stdout.write(`schema-engine-cli ${glue.version()}\n`);
    return process.exit(0);
  }
  if (args.cliCommand) return process.exit(await runCliCommand(args.cliCommand, args.datasource));

  // The CLI stops an engine by ending its stdin and sending SIGTERM right away.
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => shutdown(0));
  serveJsonRpc(createEngineHandle(args), args.datasource);
}

main().catch((error) => {
  log('ERROR', error?.stack ?? String(error));
  process.exit(1);
});
