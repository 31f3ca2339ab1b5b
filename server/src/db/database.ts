// The chat database: PostgreSQL when DATABASE_URL is set, otherwise an embedded PostgreSQL
// (PGlite, persisted in a data directory) served on a private unix socket so that the same
// driver (pg + Prisma's adapter) talks to both. Migrations are applied on open.
//
// The embedded PostgreSQL runs inside this process's WebAssembly memory, which never
// shrinks: what it touches stays resident. Two things keep that small (docs/footprint.md):
// - shared_buffers is 16 MB instead of initdb's 128 MB, which PGlite allocates and touches at
//   start-up whether used or not. Its data files are read through the operating system's page
//   cache, which does the caching (paging a 400 000-message history is as fast with 4 MB as
//   with 128 MB).
// - A new data directory is created (initdb) by a short-lived child process: PGlite runs
//   initdb in a second PostgreSQL instance, and the memory that takes (and V8's compilation
//   of both) would otherwise stay with the server for good.
// Commits are written to the data files before they are acknowledged, as before (they
// survive the process being killed); PGlite does not fsync them (its default -F, and its
// Node filesystem has no fsync).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { migrate, type MigrationLogger } from './migrate.js';

export type Db = PrismaClient;

export interface Database {
  prisma: PrismaClient;
  kind: 'postgres' | 'embedded';
  /** Where the data lives (URL without password, or the PGlite directory). */
  location: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  /** PGlite data directory, used when databaseUrl is unset. */
  embeddedDir: string;
  log: MigrationLogger;
}

/** shared_buffers of the embedded PostgreSQL (see the top of this file). */
export const EMBEDDED_SHARED_BUFFERS = '16MB';

/** PGlite's start-up parameters (its defaults, then ours: later -c settings win). */
export function embeddedStartParams(defaults: readonly string[]): string[] {
  return [...defaults, '-c', `shared_buffers=${EMBEDDED_SHARED_BUFFERS}`];
}

/**
 * Creates the embedded database in `dir` (initdb) in a child process, which exits when done;
 * does nothing when `dir` already holds one.
 *
 * The child runs with V8's --liftoff-only: initdb is a few seconds of one-off work, and
 * optimizing PGlite's largest functions for it would take about 500 MB more at its peak.
 * Should a future Node not know the flag, the child runs without it.
 */
async function initEmbedded(dir: string, startParams: string[]): Promise<void> {
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  const pglite = import.meta.resolve('@electric-sql/pglite');
  const script = `const { PGlite } = await import(${JSON.stringify(pglite)});
const db = await PGlite.create(process.argv[1], { startParams: JSON.parse(process.argv[2]) });
await db.close();`;
  const args = ['--input-type=module', '--eval', script, dir, JSON.stringify(startParams)];
  const run = (flags: string[]) =>
    promisify(execFile)(process.execPath, [...flags, ...args], { maxBuffer: 16 * 1024 * 1024 });
  const stderrOf = (error: unknown) => String((error as { stderr?: unknown }).stderr ?? '').trim();
  try {
    await run(['--liftoff-only']).catch((error: unknown) => {
      if (/bad option: --liftoff-only/.test(stderrOf(error))) return run([]);
      throw error;
    });
  } catch (error) {
    const reason = stderrOf(error) || (error as Error).message;
    throw new Error(`cannot create the embedded database in ${dir}: ${reason}`, { cause: error });
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

async function migrateWith(config: pg.ClientConfig, log: MigrationLogger): Promise<void> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    await migrate(client, log);
  } finally {
    await client.end();
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const connectionString = options.databaseUrl;
    await migrateWith({ connectionString }, options.log).catch((error: Error) => {
      throw new Error(`cannot prepare the database at ${redact(connectionString)}: ${error.message}`, {
        cause: error,
      });
    });
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString, max: 10 }) });
    return {
      prisma,
      kind: 'postgres',
      location: redact(connectionString),
      close: () => prisma.$disconnect(),
    };
  }

  // Embedded: PGlite in this process, reachable through a unix socket in a private directory.
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  mkdirSync(options.embeddedDir, { recursive: true });
  const startParams = embeddedStartParams(PGlite.defaultStartParams);
  await initEmbedded(options.embeddedDir, startParams);
  const pglite = await PGlite.create(options.embeddedDir, { startParams });
  const socketDir = mkdtempSync(join(tmpdir(), 'meet-pglite-'));
  // PGlite is one PostgreSQL backend: the pool uses one connection, so that the messages of
  // two connections' statements (parse, bind, execute) never interleave in it. The socket
  // server accepts a few more than that: the pg pool replaces a connection after a failed
  // statement, and the replacement must be accepted while the old one is still closing
  // (with pglite-socket's default of one it was refused, and every other user's request
  // failed with EPIPE).
  const socketServer = new PGLiteSocketServer({
    db: pglite,
    path: join(socketDir, '.s.PGSQL.5432'),
    maxConnections: 4,
  });
  await socketServer.start();
  const config = { host: socketDir, port: 5432, user: 'postgres', database: 'postgres' };
  try {
    await migrateWith(config, options.log);
  } catch (error) {
    await socketServer.stop();
    await pglite.close();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg({ ...config, max: 1 }) });
  return {
    prisma,
    kind: 'embedded',
    location: options.embeddedDir,
    async close() {
      await prisma.$disconnect();
      await socketServer.stop();
      await pglite.close();
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
