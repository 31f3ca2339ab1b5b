// The embedded PostgreSQL (PGlite): it runs with the settings server/src/db/database.ts
// gives it (on top of PGlite's own), a new data directory is created on first open, and a
// commit acknowledged to the server survives the server process being killed (SIGKILL).
// Its memory footprint is measured by bench/footprint.ts, not asserted here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_SHARED_BUFFERS, openDatabase, type Database } from '../src/db/database.js';

const quiet = { info: () => undefined, warn: () => undefined };
const childScript = fileURLToPath(new URL('./support/embedded-db-child.ts', import.meta.url));

describe('embedded database', () => {
  const root = mkdtempSync(join(tmpdir(), 'meet-embedded-'));
  let db: Database | undefined;

  after(async () => {
    await db?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const show = async (setting: string) => {
    const rows = await (db as Database).prisma.$queryRawUnsafe<Array<Record<string, string>>>(
      `SHOW ${setting}`,
    );
    return Object.values(rows[0] ?? {})[0];
  };

  test('a new data directory is created, and runs with our settings on top of PGlite defaults', async () => {
    const dir = join(root, 'settings');
    db = await openDatabase({ databaseUrl: undefined, embeddedDir: dir, log: quiet });
    assert.equal(db.kind, 'embedded');
    assert.ok(existsSync(join(dir, 'PG_VERSION')), 'the data directory holds a database');
    assert.equal(await show('shared_buffers'), EMBEDDED_SHARED_BUFFERS);
    // PGlite's own start-up parameters still apply (ours are added to them).
    assert.equal(await show('search_path'), 'public');
    assert.equal(await show('max_worker_processes'), '0');
    await db.close();
    // Reopened (a restart): the same settings, nothing re-created.
    db = await openDatabase({ databaseUrl: undefined, embeddedDir: dir, log: quiet });
    assert.equal(await show('shared_buffers'), EMBEDDED_SHARED_BUFFERS);
    await db.close();
    db = undefined;
  });

  test('rows acknowledged before the process is killed (SIGKILL) are there after reopening', async () => {
    const dir = join(root, 'durability');
    for (const killAfter of [1, 40]) {
      const child = spawn(process.execPath, ['--import', 'tsx', childScript, dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_code, signal) => resolve(signal)),
      );
      let lastAcknowledged = 0;
      for await (const line of createInterface({ input: child.stdout })) {
        if (line === 'ready') continue;
        lastAcknowledged = Number(line);
        if (lastAcknowledged >= killAfter) {
          child.kill('SIGKILL');
          break;
        }
      }
      assert.equal(await exited, 'SIGKILL');
      assert.ok(lastAcknowledged >= killAfter, 'the child acknowledged inserts before it was killed');

      db = await openDatabase({ databaseUrl: undefined, embeddedDir: dir, log: quiet });
      const rows = await db.prisma.$queryRawUnsafe<Array<{ n: bigint }>>(
        'SELECT count(*) AS n FROM durability_probe WHERE id <= $1',
        lastAcknowledged,
      );
      assert.equal(Number(rows[0]?.n), lastAcknowledged, `rows 1…${lastAcknowledged} survived`);
      await db.prisma.$executeRawUnsafe('TRUNCATE durability_probe');
      await db.close();
      db = undefined;
    }
  });
});
