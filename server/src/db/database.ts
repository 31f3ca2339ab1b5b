// The chat database: PostgreSQL when DATABASE_URL is set, otherwise an embedded PostgreSQL
// (PGlite, persisted in a data directory) served on a private unix socket so that the same
// driver (pg + Prisma's adapter) talks to both. Migrations are applied on open.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  const pglite = await PGlite.create(options.embeddedDir);
  const socketDir = mkdtempSync(join(tmpdir(), 'meet-pglite-'));
  const socketServer = new PGLiteSocketServer({ db: pglite, path: join(socketDir, '.s.PGSQL.5432') });
  await socketServer.start();
  const config = { host: socketDir, port: 5432, user: 'postgres', database: 'postgres' };
  try {
    await migrateWith(config, options.log);
  } catch (error) {
    await socketServer.stop();
    await pglite.close();
    throw error;
  }
  // PGlite is one connection: the pool holds one, queries queue.
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
