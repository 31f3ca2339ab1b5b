// Chat history benchmark: one room with 100,000 messages (bulk-inserted with generate_series,
// 4 authors, 1% private), paged through the way the web client does it: chatHistory over the
// real websocket, limit 50, beforeSeq = the smallest seq of the previous page. Times the
// first page, pages at depth 10, 100, 1000 and the very last page (each requested repeatedly),
// 50 random deep pages, and the full walk; checks that the walk is contiguous and complete
// (every message the reader may see exactly once, in descending seq order, and none of the
// private messages between two others). Prints the plan of the history query for a deep page.
//
//   node --import tsx bench/chat-history.ts [--messages 100000] [--db embedded|postgres|both]
//     [--repeats 30] [--out bench-results/chat-history.json]
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchServerLimits } from './limits.js';
import {
  BenchPeer,
  databaseVersion,
  formatMachine,
  isMain,
  machineInfo,
  markdownTable,
  parseDatabases,
  percentile,
  round,
  writeJson,
  type DbKind,
} from './chat-fanout.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const INSERT_CHUNK = 25_000;

interface HistoryMessage {
  seq: string;
  clientId: string | null;
  author: { id: string } | null;
  recipient: { id: string } | null;
}
interface HistoryPage {
  messages: HistoryMessage[];
  hasMore: boolean;
  lastReadSeq: string;
}

export interface HistoryOptions {
  messages: number;
  databases: DbKind[];
  /** Page size (the client uses 50). */
  limit?: number;
  /** Requests per measured depth. */
  repeats?: number;
  /** Random deep pages requested once each. */
  randomPages?: number;
  /** JSON output path; null: none. */
  out?: string | null;
  log?: (line: string) => void;
}

export interface HistoryChecks {
  pages: number;
  /** Messages of the room the reader may see (everything but private messages between others). */
  expectedVisible: number;
  seen: number;
  missing: number;
  duplicates: number;
  /** Messages returned that are not the reader's to see, or not of this room's bulk. */
  unexpected: number;
  /** Places where seq did not strictly decrease (within or across pages). */
  notDescending: number;
  /** Pages before the last with fewer than `limit` messages. */
  shortPages: number;
  /** hasMore was wrong (false before the last page, or true on it). */
  wrongHasMore: number;
  /** Repeated or random requests whose page differs from the walk's page at that depth. */
  repeatMismatches: number;
}

export interface HistoryTiming {
  page: string;
  depth: number | null;
  samples: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

export interface HistoryRun {
  database: DbKind;
  databaseVersion: string;
  messages: number;
  insertMs: number;
  timings: HistoryTiming[];
  /** The first request of the walk (cold: first query of this shape on the connection). */
  coldFirstPageMs: number;
  walkTotalMs: number;
  explain: { depth: number; beforeSeq: string; sql: string; plan: string[] };
  checks: HistoryChecks;
  ok: boolean;
  failures: string[];
}

export interface HistoryResult {
  benchmark: 'chat-history';
  startedAt: string;
  machine: ReturnType<typeof machineInfo>;
  params: { messages: number; limit: number; repeats: number; randomPages: number; databases: DbKind[] };
  runs: HistoryRun[];
  ok: boolean;
}

/**
 * The bulk: message g (1..n) by one of four authors; every 100th is private: every 200th
 * from alice to the reader (visible to it), the others from bob to carol (not visible).
 */
const insertSql = `
INSERT INTO messages (id, room_id, kind, author_id, client_id, recipient_id, text, created_at)
SELECT gen_random_uuid(), $1, 'text',
       CASE WHEN g % 200 = 0 THEN $3::uuid
            WHEN g % 100 = 0 THEN $4::uuid
            ELSE (ARRAY[$2::uuid, $3::uuid, $4::uuid, $5::uuid])[1 + g % 4] END,
       'bulk-' || lpad(g::text, 7, '0'),
       CASE WHEN g % 200 = 0 THEN $2::uuid
            WHEN g % 100 = 0 THEN $5::uuid
            ELSE NULL END,
       'history message ' || g || ': ' || repeat('lorem ipsum ', 1 + g % 8),
       now() - make_interval(secs => ($7::int - g))
FROM generate_series($6::int, $7::int) AS g
ORDER BY g`;

const isVisibleToReader = (g: number) => g % 100 !== 0 || g % 200 === 0;

/**
 * The SQL Prisma sends for `history` in server/src/chat/messages.ts (findMany with where
 * roomId, seq < beforeSeq and the visibility OR, orderBy seq desc, take limit + 1), with the
 * parameters written in. The `include` adds one query per relation (author, recipient,
 * attachment: `WHERE id IN (...)`), and chatHistory one more for the read marker.
 */
function historySql(roomId: string, identityId: string, beforeSeq: string, limit: number): string {
  const q = (value: string) => `'${value.replace(/'/g, "''")}'`;
  return [
    'SELECT m.id, m.seq, m.room_id, m.kind::text, m.author_id, m.client_id, m.recipient_id, m.text,',
    '       m.attachment_id, m.created_at, m.edited_at, m.deleted_at',
    'FROM messages m',
    `WHERE m.room_id = ${q(roomId)} AND m.seq < ${BigInt(beforeSeq).toString()}`,
    `  AND (m.recipient_id IS NULL OR m.author_id = ${q(identityId)} OR m.recipient_id = ${q(identityId)})`,
    `ORDER BY m.seq DESC LIMIT ${limit + 1} OFFSET 0`,
  ].join('\n');
}

/** Deterministic PRNG (mulberry32), so that the random pages are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function timingOf(page: string, depth: number | null, samples: number[]): HistoryTiming {
  return {
    page,
    depth,
    samples: samples.length,
    medianMs: round(percentile(samples, 50), 2),
    p95Ms: round(percentile(samples, 95), 2),
    maxMs: round(Math.max(...samples), 2),
  };
}

async function runOne(
  database: DbKind,
  settings: {
    messages: number;
    limit: number;
    repeats: number;
    randomPages: number;
    log: (line: string) => void;
  },
): Promise<HistoryRun> {
  const { startServer } = await import('../tests/helpers/server.js');
  const { createIdentity } = await import('../tests/helpers/identity.js');
  const { messages: n, limit, repeats, randomPages, log } = settings;
  const server = await startServer({ ...benchServerLimits, LOG_LEVEL: 'warn' }, { database });
  const prisma = server.app.database.prisma;
  let reader: BenchPeer | undefined;
  try {
    const version = await databaseVersion(prisma);
    const roomId = `bench-history-${process.pid}`;
    const [me, alice, bob, carol] = await Promise.all(
      ['reader', 'alice', 'bob', 'carol'].map((name) => createIdentity(server.url, name)),
    );
    if (!me || !alice || !bob || !carol) throw new Error('identities not created');
    // Joining creates the room and the reader's membership.
    reader = await BenchPeer.join(server.wsUrl(roomId), me.cookie, 'reader');

    log(`[history] ${database} (${version}): inserting ${n} messages`);
    const insertStart = performance.now();
    for (let from = 1; from <= n; from += INSERT_CHUNK) {
      const to = Math.min(n, from + INSERT_CHUNK - 1);
      await prisma.$executeRawUnsafe(insertSql, roomId, me.id, alice.id, bob.id, carol.id, from, to);
    }
    await prisma.$executeRawUnsafe('ANALYZE messages');
    const insertMs = performance.now() - insertStart;
    log(`[history] ${database}: inserted in ${(insertMs / 1000).toFixed(1)} s; walking the history`);

    const request = (beforeSeq: string | undefined) =>
      (reader as BenchPeer).request<HistoryPage>(
        'chatHistory',
        beforeSeq === undefined ? { limit } : { beforeSeq, limit },
      );
    const timed = async (beforeSeq: string | undefined) => {
      const start = performance.now();
      const page = await request(beforeSeq);
      return { page, ms: performance.now() - start };
    };

    let expectedVisible = 0;
    for (let g = 1; g <= n; g++) if (isVisibleToReader(g)) expectedVisible++;
    const checks: HistoryChecks = {
      pages: 0,
      expectedVisible,
      seen: 0,
      missing: 0,
      duplicates: 0,
      unexpected: 0,
      notDescending: 0,
      shortPages: 0,
      wrongHasMore: 0,
      repeatMismatches: 0,
    };

    // The walk, as the client pages back: cursor and content of every page.
    const walk: Array<{ beforeSeq: string | undefined; firstSeq: string; lastSeq: string; ms: number }> = [];
    const seen = new Set<number>();
    let previousSeq: bigint | undefined;
    let beforeSeq: string | undefined;
    const walkStart = performance.now();
    for (;;) {
      const { page, ms } = await timed(beforeSeq);
      const first = page.messages[0];
      const last = page.messages.at(-1);
      if (!first || !last) {
        // Only an empty room may answer an empty page.
        if (expectedVisible > 0) checks.wrongHasMore++;
        break;
      }
      walk.push({ beforeSeq, firstSeq: first.seq, lastSeq: last.seq, ms });
      if (page.hasMore && page.messages.length < limit) checks.shortPages++;
      for (const message of page.messages) {
        const seq = BigInt(message.seq);
        if (previousSeq !== undefined && seq >= previousSeq) checks.notDescending++;
        previousSeq = seq;
        const g = /^bulk-(\d{7})$/.exec(message.clientId ?? '')?.[1];
        const index = g === undefined ? undefined : Number(g);
        if (index === undefined || index < 1 || index > n || !isVisibleToReader(index)) checks.unexpected++;
        else if (seen.has(index)) checks.duplicates++;
        else seen.add(index);
      }
      if (!page.hasMore) break;
      beforeSeq = last.seq;
    }
    const walkTotalMs = performance.now() - walkStart;
    checks.pages = walk.length;
    checks.seen = seen.size;
    checks.missing = expectedVisible - seen.size;

    const timings: HistoryTiming[] = [];
    const samePage = (page: HistoryPage, depth: number) => {
      const expected = walk[depth - 1];
      if (page.messages[0]?.seq !== expected?.firstSeq || page.messages.at(-1)?.seq !== expected?.lastSeq)
        checks.repeatMismatches++;
    };
    const depths = [
      { name: 'first', depth: 1 },
      { name: 'depth 10', depth: 10 },
      { name: 'depth 100', depth: 100 },
      { name: 'depth 1000', depth: 1000 },
      { name: 'last', depth: walk.length },
    ].filter(
      ({ depth, name }) => depth >= 1 && depth <= walk.length && (name === 'last' || depth < walk.length),
    );
    for (const { name, depth } of depths) {
      const samples: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const { page, ms } = await timed(walk[depth - 1]?.beforeSeq);
        samePage(page, depth);
        samples.push(ms);
      }
      timings.push(timingOf(name === 'last' ? `last (depth ${depth})` : name, depth, samples));
    }

    // Random deep pages: past depth 100 (or the second half of a shorter history).
    const deepFrom = Math.min(100, Math.ceil(walk.length / 2));
    const random = prng(42);
    const randomSamples: number[] = [];
    for (let i = 0; i < randomPages && walk.length > 0; i++) {
      const depth = deepFrom + Math.floor(random() * (walk.length - deepFrom + 1));
      const { page, ms } = await timed(walk[depth - 1]?.beforeSeq);
      samePage(page, depth);
      randomSamples.push(ms);
    }
    if (randomSamples.length)
      timings.push(
        timingOf(
          `${randomSamples.length} random deep (depth ${deepFrom}–${walk.length})`,
          null,
          randomSamples,
        ),
      );
    timings.push(
      timingOf(
        `full walk, all ${walk.length} pages`,
        null,
        walk.map((page) => page.ms),
      ),
    );

    // The plan of the history query for a deep page.
    const explainDepth = Math.min(1000, walk.length);
    const explainBefore = walk[explainDepth - 1]?.beforeSeq ?? walk[0]?.lastSeq ?? '1';
    const sql = historySql(roomId, me.id, explainBefore, limit);
    const planRows = await prisma.$queryRawUnsafe<Array<Record<string, string>>>(
      `EXPLAIN (ANALYZE false) ${sql}`,
    );
    const plan = planRows.map((row) => Object.values(row)[0] ?? '');

    const failures = Object.entries(checks)
      .filter(([name, count]) => !['pages', 'expectedVisible', 'seen'].includes(name) && count !== 0)
      .map(([name, count]) => `${name}=${count}`);
    log(
      `[history] ${database}: ${walk.length} pages in ${(walkTotalMs / 1000).toFixed(1)} s` +
        (failures.length ? `; FAILED: ${failures.join(', ')}` : '; checks ok'),
    );
    return {
      database,
      databaseVersion: version,
      messages: n,
      insertMs: round(insertMs),
      timings,
      coldFirstPageMs: round(walk[0]?.ms ?? Number.NaN, 2),
      walkTotalMs: round(walkTotalMs),
      explain: { depth: explainDepth, beforeSeq: explainBefore, sql, plan },
      checks,
      ok: failures.length === 0,
      failures,
    };
  } finally {
    await reader?.close();
    await server.close();
  }
}

export function historyTable(runs: HistoryRun[]): string {
  return markdownTable(
    ['database', 'page', 'samples', 'median ms', 'p95 ms', 'max ms'],
    runs.flatMap((run) =>
      run.timings.map((t) => [run.database, t.page, t.samples, t.medianMs, t.p95Ms, t.maxMs]),
    ),
  );
}

export async function runHistory(options: HistoryOptions): Promise<HistoryResult> {
  const settings = {
    messages: options.messages,
    limit: options.limit ?? 50,
    repeats: options.repeats ?? 30,
    randomPages: options.randomPages ?? 50,
    log: options.log ?? ((line: string) => console.error(line)),
  };
  const result: HistoryResult = {
    benchmark: 'chat-history',
    startedAt: new Date().toISOString(),
    machine: machineInfo(),
    params: {
      messages: settings.messages,
      limit: settings.limit,
      repeats: settings.repeats,
      randomPages: settings.randomPages,
      databases: options.databases,
    },
    runs: [],
    ok: true,
  };
  for (const database of options.databases) result.runs.push(await runOne(database, settings));
  result.ok = result.runs.every((run) => run.ok);
  if (options.out) writeJson(options.out, result);
  return result;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<HistoryResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '100000' },
      db: { type: 'string', default: 'both' },
      repeats: { type: 'string', default: '30' },
      out: { type: 'string', default: join(repoRoot, 'bench-results', 'chat-history.json') },
    },
  });
  const messages = Number(values.messages);
  const repeats = Number(values.repeats);
  if (!Number.isInteger(messages) || messages < 1) throw new Error('--messages must be a positive integer');
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error('--repeats must be a positive integer');
  const result = await runHistory({
    messages,
    repeats,
    databases: parseDatabases(values.db),
    out: values.out,
  });
  console.log(`\nChat history: ${messages} messages in one room, pages of ${result.params.limit}`);
  console.log(`Machine: ${formatMachine(result.machine)}\n`);
  for (const run of result.runs) {
    console.log(
      `${run.database} (${run.databaseVersion}): bulk insert + ANALYZE ${(run.insertMs / 1000).toFixed(1)} s; ` +
        `walk ${run.checks.pages} pages (${run.checks.seen} messages visible to the reader) ` +
        `${(run.walkTotalMs / 1000).toFixed(1)} s; cold first page ${run.coldFirstPageMs} ms; checks ` +
        (run.ok ? 'ok' : `FAILED ${run.failures.join(' ')}`),
    );
  }
  console.log('');
  console.log(historyTable(result.runs));
  for (const run of result.runs) {
    console.log(`\nEXPLAIN (ANALYZE false), ${run.database}, page at depth ${run.explain.depth}:`);
    console.log(run.explain.sql);
    console.log(run.explain.plan.join('\n'));
  }
  console.log(`\nJSON: ${values.out}`);
  if (!result.ok) {
    console.error('\ncorrectness checks FAILED');
    process.exitCode = 1;
  }
  return result;
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
