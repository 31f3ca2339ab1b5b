// The SQL migrations and prisma/schema.prisma describe the same database: on both the
// embedded PostgreSQL (PGlite) and a real PostgreSQL, the migrations apply (recorded as
// Prisma Migrate records them), re-applying is a no-op, every table and column the schema
// maps exists, and every model and field is written and read back through the generated
// Prisma client.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDatabase, type Database } from '../src/db/database.js';
import pgClient from 'pg';
import { migrate, migrationsDir, readMigrations } from '../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../../tests/helpers/postgres.js';

const schemaPath = fileURLToPath(new URL('../../prisma/schema.prisma', import.meta.url));
const quiet = { info: () => undefined, warn: () => undefined };

interface SchemaField {
  name: string;
  column: string;
  type: string;
}
interface SchemaModel {
  name: string;
  table: string;
  fields: SchemaField[];
}

/** The models of schema.prisma with their scalar (column-backed) fields. */
function parseSchema(): SchemaModel[] {
  const text = readFileSync(schemaPath, 'utf8');
  const models = [...text.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)];
  const modelNames = new Set(models.map((m) => m[1]));
  return models.map(([, name, body]) => {
    const fields: SchemaField[] = [];
    for (const line of (body ?? '').split('\n')) {
      const match = /^\s+(\w+)\s+(\w+)(\[\])?(\?)?(.*)$/.exec(line);
      if (!match || line.trim().startsWith('//') || line.trim().startsWith('@@')) continue;
      const [, field, type, list] = match;
      if (modelNames.has(type as string) || list) continue; // relation
      fields.push({
        name: field as string,
        type: type as string,
        column: /@map\("(\w+)"\)/.exec(line)?.[1] ?? (field as string),
      });
    }
    return {
      name: name as string,
      table: /@@map\("(\w+)"\)/.exec(body ?? '')?.[1] ?? (name as string),
      fields,
    };
  });
}

for (const kind of ['embedded', 'postgres'] as const) {
  describe(`migrations and schema (${kind})`, () => {
    let dir: string | undefined;
    let pg: TestDatabase | undefined;
    let db: Database | undefined;

    const open = async () => {
      if (kind === 'postgres') pg ??= await createTestDatabase();
      else dir ??= mkdtempSync(join(tmpdir(), 'meet-migrate-'));
      return openDatabase({ databaseUrl: pg?.url, embeddedDir: join(dir ?? tmpdir(), 'pglite'), log: quiet });
    };

    after(async () => {
      await db?.close();
      await pg?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('migrations are applied once and recorded like Prisma Migrate', async () => {
      db = await open();
      const rows = await db.prisma.$queryRawUnsafe<
        Array<{
          migration_name: string;
          checksum: string;
          finished_at: Date | null;
          applied_steps_count: number;
        }>
      >(
        'SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name',
      );
      const files = readMigrations(migrationsDir);
      assert.ok(files.length >= 1);
      assert.deepEqual(
        rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count]),
        files.map((f) => [f.name, createHash('sha256').update(f.sql).digest('hex'), 1]),
      );
      assert.ok(rows.every((r) => r.finished_at instanceof Date));
      await db.close();
      // Opening again (a restart) applies nothing and keeps the records.
      db = await open();
      const again = await db.prisma.$queryRawUnsafe<Array<{ n: bigint }>>(
        'SELECT count(*) AS n FROM "_prisma_migrations"',
      );
      assert.equal(Number(again[0]?.n), files.length);
    });

    test('every table and column of schema.prisma exists', async () => {
      db ??= await open();
      const columns = await db.prisma.$queryRawUnsafe<Array<{ table_name: string; column_name: string }>>(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'",
      );
      const present = new Set(columns.map((c) => `${c.table_name}.${c.column_name}`));
      for (const model of parseSchema()) {
        for (const field of model.fields) {
          assert.ok(
            present.has(`${model.table}.${field.column}`),
            `${model.name}.${field.name} → ${model.table}.${field.column} is missing`,
          );
        }
      }
    });

    test('every model and field is written and read back through the Prisma client', async () => {
      db ??= await open();
      const p = db.prisma;
      const at = new Date('2026-11-22T10:00:00.123Z');
      const room = await p.room.create({
        data: { id: `room-${kind}`, createdAt: at, locked: true, name: 'Team ✨', topic: 'Plans' },
      });
      const author = await p.identity.create({
        data: {
          displayName: 'Author',
          createdAt: at,
          email: `author-${kind}@example.com`,
          passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
          oidcIssuer: 'https://id.example.com',
          oidcSubject: `author-${kind}`,
          status: 'busy',
        },
      });
      const reader = await p.identity.create({
        data: { displayName: 'Reader 📖' },
      });
      const membership = await p.membership.create({
        data: {
          roomId: room.id,
          identityId: reader.id,
          displayName: 'Reader',
          joinedAt: at,
          lastReadSeq: 9007199254740993n,
          role: 'host',
          starred: true,
          notify: 'all',
        },
      });
      const attachment = await p.attachment.create({
        data: {
          roomId: room.id,
          uploaderId: author.id,
          fileName: 'a.png',
          mimeType: 'image/png',
          size: 68,
          storageKey: `key-${kind}`,
          createdAt: at,
          durationMs: 2140,
        },
      });
      const message = await p.message.create({
        data: {
          roomId: room.id,
          kind: 'text',
          authorId: author.id,
          authorName: 'Author then',
          clientId: 'client-1',
          recipientId: reader.id,
          recipientName: 'Reader then',
          text: 'hello 👋',
          attachmentId: attachment.id,
          createdAt: at,
          editedAt: at,
          deletedAt: at,
          version: 3,
          mentions: [reader.id],
        },
      });
      const reaction = await p.reaction.create({
        data: { messageId: message.id, emoji: '👩‍💻', identityId: reader.id, createdAt: at },
      });
      const system = await p.message.create({
        data: { roomId: room.id, kind: 'system', text: 'Reader joined' },
      });

      const apiToken = await p.apiToken.create({
        data: {
          identityId: reader.id,
          name: 'bot',
          tokenHash: `token-hash-${kind}`,
          scopes: ['rooms:read', 'messages:write'],
          createdAt: at,
          expiresAt: at,
          lastUsedAt: at,
          revokedAt: at,
        },
      });
      const session = await p.session.create({
        data: {
          identityId: author.id,
          tokenHash: `session-hash-${kind}`,
          userAgent: 'Mozilla/5.0 (test)',
          createdAt: at,
          lastSeenAt: at,
        },
      });
      const oidcLogin = await p.oidcLogin.create({
        data: {
          state: `state-${kind}`,
          provider: 'kc',
          nonce: 'nonce',
          codeVerifier: 'verifier',
          returnTo: '/r/room',
          sessionId: session.id,
          bindingHash: 'binding-hash',
          createdAt: at,
        },
      });
      const pushSubscription = await p.pushSubscription.create({
        data: {
          identityId: reader.id,
          endpoint: `https://push.example/${kind}`,
          p256dh: 'BP256',
          auth: 'auth',
          createdAt: at,
        },
      });
      const serverKey = await p.serverKey.create({
        data: { name: `test-key-${kind}`, value: '{"publicKey":"x"}', createdAt: at },
      });
      const written: Record<string, Record<string, unknown>> = {
        Room: room,
        Identity: author,
        Membership: membership,
        Attachment: attachment,
        Message: message,
        Reaction: reaction,
        ApiToken: apiToken,
        Session: session,
        OidcLogin: oidcLogin,
        PushSubscription: pushSubscription,
        ServerKey: serverKey,
      };
      const readBack: Record<string, Record<string, unknown> | null> = {
        Room: await p.room.findUnique({ where: { id: room.id } }),
        Identity: await p.identity.findUnique({ where: { id: author.id } }),
        Membership: await p.membership.findUnique({
          where: { roomId_identityId: { roomId: room.id, identityId: reader.id } },
        }),
        Attachment: await p.attachment.findUnique({ where: { id: attachment.id } }),
        Message: await p.message.findUnique({ where: { id: message.id } }),
        ApiToken: await p.apiToken.findUnique({ where: { id: apiToken.id } }),
        Session: await p.session.findUnique({ where: { id: session.id } }),
        OidcLogin: await p.oidcLogin.findUnique({ where: { state: `state-${kind}` } }),
        PushSubscription: await p.pushSubscription.findUnique({ where: { id: pushSubscription.id } }),
        ServerKey: await p.serverKey.findUnique({ where: { name: `test-key-${kind}` } }),
        Reaction: await p.reaction.findUnique({
          where: {
            messageId_emoji_identityId: { messageId: message.id, emoji: '👩‍💻', identityId: reader.id },
          },
        }),
      };
      for (const model of parseSchema()) {
        const wrote = written[model.name];
        const read = readBack[model.name];
        assert.ok(wrote && read, `the test writes and reads model ${model.name}`);
        for (const field of model.fields) {
          assert.notEqual(wrote[field.name], undefined, `${model.name}.${field.name} was written`);
          assert.notEqual(wrote[field.name], null, `${model.name}.${field.name} was written with a value`);
          assert.deepEqual(read[field.name], wrote[field.name], `${model.name}.${field.name} reads back`);
        }
      }
      // Relations and the seq order.
      const withRelations = await p.message.findUniqueOrThrow({
        where: { id: message.id },
        include: { author: true, recipient: true, attachment: true, room: true },
      });
      assert.equal(withRelations.author?.displayName, 'Author');
      assert.equal(withRelations.recipient?.displayName, 'Reader 📖');
      assert.equal(withRelations.attachment?.fileName, 'a.png');
      assert.ok(system.seq > message.seq);
      assert.equal(system.kind, 'system');
      // One reaction per person and emoji; a new message starts at version 0.
      await assert.rejects(
        p.reaction.create({ data: { messageId: message.id, emoji: '👩‍💻', identityId: reader.id } }),
        (error: { code?: string }) => error.code === 'P2002',
      );
      assert.equal(system.version, 0);
      // The search's expression index (made by SQL: Prisma cannot describe it).
      const indexes = await p.$queryRawUnsafe<Array<{ indexdef: string }>>(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'messages_text_search_idx'",
      );
      assert.match(indexes[0]?.indexdef ?? '', /USING gin \(to_tsvector\('simple'::regconfig, text\)\)/);
      // (roomId, authorId, clientId) is unique: the idempotency of chat sends rests on it.
      await assert.rejects(
        p.message.create({
          data: { roomId: room.id, authorId: author.id, clientId: 'client-1', text: 'dup' },
        }),
        (error: { code?: string }) => error.code === 'P2002',
      );
      // ... within a room: the same client id in another room is another message.
      const other = await p.room.create({ data: { id: `other-room-${kind}` } });
      await p.message.create({
        data: { roomId: other.id, authorId: author.id, clientId: 'client-1', text: 'elsewhere' },
      });
      // New rooms are unlocked; new members are members, not hosts.
      assert.equal(other.locked, false);
      const member = await p.membership.create({
        data: { roomId: other.id, identityId: author.id, displayName: 'Author' },
      });
      assert.equal(member.role, 'member');
    });
  });
}

describe('the hosts migration on a database with rooms (postgres)', () => {
  let pgDb: TestDatabase | undefined;
  after(async () => {
    await pgDb?.drop();
  });

  test("each existing room's earliest member becomes its host; rooms stay unlocked", async () => {
    pgDb = await createTestDatabase();
    const client = new pgClient.Client({ connectionString: pgDb.url });
    await client.connect();
    const dir = mkdtempSync(join(tmpdir(), 'meet-migrations-'));
    try {
      // The database as it was before the hosts migration.
      const before = readMigrations(migrationsDir).filter((m) => m.name < '20261123000000_hosts');
      for (const m of before) {
        mkdirSync(join(dir, m.name));
        writeFileSync(join(dir, m.name, 'migration.sql'), m.sql);
      }
      assert.deepEqual(
        await migrate(client, quiet, dir),
        before.map((m) => m.name),
      );
      await client.query(`INSERT INTO rooms (id) VALUES ('r1'), ('r2'), ('empty')`);
      const ids: string[] = [];
      for (const name of ['first', 'second', 'elsewhere']) {
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO identities (id, token_hash, display_name) VALUES (gen_random_uuid(), $1, $1) RETURNING id`,
          [name],
        );
        ids.push((rows[0] as { id: string }).id);
      }
      const [first, second, elsewhere] = ids;
      await client.query(
        `INSERT INTO memberships (room_id, identity_id, display_name, joined_at) VALUES
          ('r1', $2, 'second', '2026-01-02'), ('r1', $1, 'first', '2026-01-01'), ('r2', $3, 'elsewhere', '2026-01-03')`,
        [first, second, elsewhere],
      );
      assert.deepEqual(
        await migrate(client, quiet),
        readMigrations(migrationsDir)
          .filter((m) => m.name >= '20261123000000_hosts')
          .map((m) => m.name),
      );
      const { rows } = await client.query<{ room_id: string; display_name: string; role: string }>(
        'SELECT room_id, display_name, role::text AS role FROM memberships ORDER BY room_id, display_name',
      );
      assert.deepEqual(
        rows.map((r) => [r.room_id, r.display_name, r.role]),
        [
          ['r1', 'first', 'host'],
          ['r1', 'second', 'member'],
          ['r2', 'elsewhere', 'host'],
        ],
      );
      const locked = await client.query<{ locked: boolean }>('SELECT DISTINCT locked FROM rooms');
      assert.deepEqual(
        locked.rows.map((r) => r.locked),
        [false],
      );
      // The sessions migration: each browser's cookie (its token's hash) is now its session's,
      // so nobody is signed out by the upgrade; nobody is an account yet.
      const sessions = await client.query<{ token_hash: string; display_name: string; email: string | null }>(
        `SELECT s.token_hash, i.display_name, i.email FROM sessions s JOIN identities i ON i.id = s.identity_id
         ORDER BY s.token_hash`,
      );
      assert.deepEqual(
        sessions.rows.map((r) => [r.token_hash, r.display_name, r.email]),
        [
          ['elsewhere', 'elsewhere', null],
          ['first', 'first', null],
          ['second', 'second', null],
        ],
      );
    } finally {
      await client.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
