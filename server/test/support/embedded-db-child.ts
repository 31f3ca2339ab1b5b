// Child process of embedded-database.test.ts: opens the embedded database in argv[2], then
// inserts rows 1, 2, 3, … one at a time (through Prisma and the socket, as the chat does) and
// prints each id once its INSERT is acknowledged, until it is killed.
import { openDatabase } from '../../src/db/database.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: embedded-db-child.ts <dir>');
const quiet = { info: () => undefined, warn: () => undefined };
const db = await openDatabase({ databaseUrl: undefined, embeddedDir: dir, log: quiet });
await db.prisma.$executeRawUnsafe('CREATE TABLE IF NOT EXISTS durability_probe (id integer PRIMARY KEY)');
process.stdout.write('ready\n');
for (let id = 1; ; id++) {
  await db.prisma.$executeRawUnsafe('INSERT INTO durability_probe (id) VALUES ($1)', id);
  process.stdout.write(`${id}\n`);
}
