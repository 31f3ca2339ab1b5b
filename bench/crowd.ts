// A crowd on one server: N participants over raw websockets, each with its own identity, join
// R rooms (chat-only: getRouterRtpCapabilities + join; a raw client does no WebRTC), C joins
// at a time; then each sends one chat message that every other participant of its room must
// receive; then one more participant per room joins, one at a time, into the loaded server.
// The real server runs in a child process of its own (bench/load/server-process.ts), so that
// its memory and event loop are its own. Reports join times (median, p95, max), the server
// process's resident memory (idle, all joined, after the chat, settled), its event-loop delay
// in each phase (prom-client's monitorEventLoopDelay from /metrics: how late the loop was
// beyond its 10 ms sampling interval), and checks that every join was accepted and every
// message acknowledged and delivered exactly once (exit code 1 otherwise).
//
//   node --import tsx bench/crowd.ts [--participants 1000] [--rooms 20] [--concurrency 100]
//     [--db embedded|postgres] [--out bench-results/crowd.json]
import { parseArgs } from 'node:util';
import { createIdentity, type TestIdentity } from '../tests/helpers/identity.js';
import { createTestDatabase, type TestDatabase } from '../tests/helpers/postgres.js';
import {
  BenchPeer,
  formatMachine,
  machineInfo,
  markdownTable,
  percentile,
  round,
  writeJson,
} from './chat-fanout.js';
import { sampleProcess } from './load/procstat.js';
import { startMeetServer, type MeetServerProcess } from './load/server-process.js';

const log = (line: string) => console.error(`[crowd ${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `task` over `items` with at most `limit` at once. */
async function pool<T, R>(
  items: T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Values of the server's /metrics (Prometheus text), by name with labels as written. */
async function scrape(server: MeetServerProcess): Promise<Map<string, number>> {
  const response = await fetch(`${server.url}/metrics`, {
    headers: { authorization: `Bearer ${server.metricsToken}` },
  });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  const values = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

/** prom-client samples the event loop every 10 ms (monitorEventLoopDelay): idle, it reads 10 ms. */
const LOOP_SAMPLING_MS = 10;

/**
 * Event-loop delay since the previous scrape (prom-client resets its histogram on each): how
 * late the loop was beyond the sampling interval, ms.
 */
function loopDelay(metrics: Map<string, number>) {
  const ms = (name: string) => {
    const seconds = metrics.get(`nodejs_eventloop_lag_${name}_seconds`) ?? Number.NaN;
    return round(Math.max(0, seconds * 1000 - LOOP_SAMPLING_MS), 1);
  };
  return { p50: ms('p50'), p99: ms('p99'), max: ms('max') };
}

function memoryOf(server: MeetServerProcess) {
  const node = sampleProcess(server.pid);
  const workers = server.workerPids.map((pid) => sampleProcess(pid)?.rssKiB ?? 0);
  return {
    rssMiB: round((node?.rssKiB ?? 0) / 1024, 1),
    peakRssMiB: round((node?.peakRssKiB ?? 0) / 1024, 1),
    workersRssMiB: round(workers.reduce((sum, kib) => sum + kib, 0) / 1024, 1),
  };
}

export interface CrowdOptions {
  participants: number;
  rooms: number;
  concurrency: number;
  db: 'embedded' | 'postgres';
}

export async function runCrowd(options: CrowdOptions) {
  const { participants, rooms, concurrency, db } = options;
  const perRoom = Math.ceil(participants / rooms);
  if (perRoom < 1 || perRoom > 499) throw new Error('--participants / --rooms must be 1..499 per room');
  const machine = machineInfo();
  let database: TestDatabase | undefined;
  if (db === 'postgres') database = await createTestDatabase();
  // startMeetServer lifts the per-address limits (bench/limits.ts): every client is 127.0.0.1.
  const server = await startMeetServer({
    // Room for one more each (the late joins at the end).
    MAX_PEERS_PER_ROOM: String(Math.max(2, perRoom + 1)),
    ...(database ? { DATABASE_URL: database.url } : {}),
  });
  const peers: BenchPeer[] = [];
  try {
    log(`server up (pid ${server.pid}, ${db} database); settling`);
    await sleep(3000);
    await scrape(server);
    const idle = memoryOf(server);

    log(`creating ${participants} identities`);
    const identities = await pool(
      Array.from({ length: participants }, (_, i) => i),
      20,
      (i): Promise<TestIdentity> => createIdentity(server.url, `Crowd ${i}`),
    );

    // Rooms of the crowd; participant i joins room i % rooms.
    const roomIds = Array.from({ length: rooms }, (_, r) => `crowd-${process.pid}-${r}`);
    const roomOf = (i: number) => roomIds[i % rooms] as string;
    const delivered = new Map<string, number>(); // `${receiver}:${clientId}` -> count
    let duplicates = 0;
    let joinErrors = 0;
    log(`joining ${participants} participants into ${rooms} rooms, ${concurrency} at a time`);
    const joinStarted = performance.now();
    const joinMs = await pool(identities, concurrency, async (identity, i) => {
      const started = performance.now();
      try {
        const peer = await BenchPeer.join(
          `${server.url.replace(/^http/, 'ws')}/ws?roomId=${roomOf(i)}`,
          identity.cookie,
          `Crowd ${i}`,
        );
        peer.onNotification = (method, data) => {
          // One message, or several stored in one batch (chatMessages).
          if (method !== 'chatMessage' && method !== 'chatMessages') return;
          const { message, messages } = data as {
            message?: { clientId: string };
            messages?: Array<{ clientId: string }>;
          };
          for (const { clientId } of messages ?? (message ? [message] : [])) {
            const key = `${i}:${clientId}`;
            const count = (delivered.get(key) ?? 0) + 1;
            if (count > 1) duplicates++;
            delivered.set(key, count);
          }
        };
        peers[i] = peer;
        return performance.now() - started;
      } catch (error) {
        joinErrors++;
        if (joinErrors <= 5) log(`join ${i} failed: ${(error as Error).message}`);
        return Number.NaN;
      }
    });
    const joinPhaseMs = performance.now() - joinStarted;
    const joinTimes = joinMs.filter((ms) => Number.isFinite(ms));
    await sleep(1000);
    const joinedLoop = loopDelay(await scrape(server));
    const joined = memoryOf(server);
    const serverCounts = await scrape(server);
    const participantsOnServer = [...serverCounts.entries()]
      .filter(([name]) => name.startsWith('meet_participants'))
      .reduce((sum, [, value]) => sum + value, 0);

    log('each participant sends one chat message');
    const chatStarted = performance.now();
    let chatErrors = 0;
    const ackMs: number[] = [];
    await Promise.all(
      peers.map(async (peer, i) => {
        if (!peer) return;
        const started = performance.now();
        try {
          await peer.request('chatSend', { clientId: `crowd-${i}-message`, text: `hello from ${i}` });
          ackMs.push(performance.now() - started);
        } catch (error) {
          chatErrors++;
          if (chatErrors <= 5) log(`chatSend ${i} failed: ${(error as Error).message}`);
        }
      }),
    );
    // Every participant of a room receives every other one's message once.
    const members = new Map<string, number[]>();
    peers.forEach((peer, i) => {
      if (peer) members.set(roomOf(i), [...(members.get(roomOf(i)) ?? []), i]);
    });
    const expected: string[] = [];
    for (const ids of members.values())
      for (const receiver of ids)
        for (const sender of ids)
          if (sender !== receiver) expected.push(`${receiver}:crowd-${sender}-message`);
    const deadline = Date.now() + 60_000;
    while (expected.some((key) => !delivered.has(key)) && Date.now() < deadline) await sleep(50);
    const allDeliveredMs = performance.now() - chatStarted;
    const missing = expected.filter((key) => !delivered.has(key)).length;
    const chatLoop = loopDelay(await scrape(server));
    const afterChat = memoryOf(server);
    await sleep(5000);
    const settled = memoryOf(server);

    log(`${rooms} more participants join, one at a time, into the loaded server`);
    const lateMs: number[] = [];
    for (const [r, roomId] of roomIds.entries()) {
      const identity = await createIdentity(server.url, `Late ${r}`);
      const started = performance.now();
      try {
        peers.push(
          await BenchPeer.join(
            `${server.url.replace(/^http/, 'ws')}/ws?roomId=${roomId}`,
            identity.cookie,
            `Late ${r}`,
          ),
        );
        lateMs.push(performance.now() - started);
      } catch (error) {
        joinErrors++;
        log(`late join ${r} failed: ${(error as Error).message}`);
      }
    }

    const result = {
      benchmark: 'crowd',
      startedAt: new Date().toISOString(),
      machine,
      machineLine: formatMachine(machine),
      settings: { participants, rooms, perRoom, concurrency, db },
      joins: {
        accepted: joinTimes.length,
        errors: joinErrors,
        participantsOnServer,
        phaseSeconds: round(joinPhaseMs / 1000, 2),
        medianMs: round(percentile(joinTimes, 50)),
        p95Ms: round(percentile(joinTimes, 95)),
        maxMs: round(Math.max(...joinTimes)),
        lateMedianMs: round(percentile(lateMs, 50)),
        lateMaxMs: round(Math.max(...lateMs)),
      },
      chat: {
        acknowledged: ackMs.length,
        errors: chatErrors,
        ackMedianMs: round(percentile(ackMs, 50)),
        ackP95Ms: round(percentile(ackMs, 95)),
        expectedDeliveries: expected.length,
        missing,
        duplicates,
        allDeliveredMs: round(allDeliveredMs),
      },
      serverMemory: { idle, joined, afterChat, settled },
      eventLoopDelayMs: { joins: joinedLoop, chat: chatLoop },
    };
    return result;
  } finally {
    await pool(peers.filter(Boolean), 100, (peer) => peer.close());
    await server.close();
    await database?.drop();
  }
}

export function crowdReport(result: Awaited<ReturnType<typeof runCrowd>>): string {
  const { settings, joins, chat, serverMemory: m, eventLoopDelayMs: loop } = result;
  return [
    `${settings.participants} participants in ${settings.rooms} rooms of ${settings.perRoom} (${settings.db} database), ` +
      `${settings.concurrency} joins at a time (late joins: one more per room, one at a time, once all are in); ` +
      result.machineLine,
    '',
    markdownTable(
      [
        'joins accepted',
        'errors',
        'on the server',
        'all in (s)',
        'join p50 ms',
        'join p95 ms',
        'join max ms',
        'late join p50 ms',
        'late join max ms',
      ],
      [
        [
          joins.accepted,
          joins.errors,
          joins.participantsOnServer,
          joins.phaseSeconds,
          joins.medianMs,
          joins.p95Ms,
          joins.maxMs,
          joins.lateMedianMs,
          joins.lateMaxMs,
        ],
      ],
    ),
    '',
    markdownTable(
      [
        'messages acked',
        'errors',
        'ack p50 ms',
        'ack p95 ms',
        'deliveries',
        'missing',
        'duplicates',
        'all delivered ms',
      ],
      [
        [
          chat.acknowledged,
          chat.errors,
          chat.ackMedianMs,
          chat.ackP95Ms,
          chat.expectedDeliveries,
          chat.missing,
          chat.duplicates,
          chat.allDeliveredMs,
        ],
      ],
    ),
    '',
    markdownTable(
      ['server process', 'idle', 'all joined', 'after the chat', 'settled 5 s'],
      [
        ['RSS MiB', m.idle.rssMiB, m.joined.rssMiB, m.afterChat.rssMiB, m.settled.rssMiB],
        [
          'media workers RSS MiB',
          m.idle.workersRssMiB,
          m.joined.workersRssMiB,
          m.afterChat.workersRssMiB,
          m.settled.workersRssMiB,
        ],
      ],
    ),
    '',
    markdownTable(
      ['server event-loop delay ms', 'p50', 'p99', 'max'],
      [
        ['during the joins', loop.joins.p50, loop.joins.p99, loop.joins.max],
        ['during the chat', loop.chat.p50, loop.chat.p99, loop.chat.max],
      ],
    ),
  ].join('\n');
}

const { values } = parseArgs({
  options: {
    participants: { type: 'string', default: '1000' },
    rooms: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '100' },
    db: { type: 'string', default: 'embedded' },
    out: { type: 'string' },
  },
});
if (values.db !== 'embedded' && values.db !== 'postgres')
  throw new Error('--db must be embedded or postgres');
const result = await runCrowd({
  participants: Number(values.participants),
  rooms: Number(values.rooms),
  concurrency: Number(values.concurrency),
  db: values.db,
});
console.log(crowdReport(result));
if (values.out) writeJson(values.out, result);
const failed = result.joins.errors + result.chat.errors + result.chat.missing + result.chat.duplicates;
if (failed > 0) {
  console.error(`crowd: ${failed} failures (joins, sends, missing or duplicate deliveries)`);
  process.exitCode = 1;
}
