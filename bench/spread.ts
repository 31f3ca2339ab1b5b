// The spread scenario of the media benchmark (`npm run bench -- --scenarios spread --sfu meet`):
// the CPU cost of one room spread over two mediasoup workers against the same room on one.
// The same meeting (N participants, each publishing a camera (one encoding) and a
// microphone and receiving everyone else) runs twice on a fresh server of ours with
// MEDIA_WORKERS=2:
//
//   one-router   MEDIA_ROUTER_PARTICIPANTS = N: the whole room on one router, one worker
//                (the other worker idles);
//   two-routers  MEDIA_ROUTER_PARTICIPANTS = ceil(N/2): the first ceil(N/2) participants on a
//                router of one worker, the others on a router of the other worker; every
//                producer is piped (pipeToRouter, a local PipeTransport pair) to the other
//                router, since someone there consumes it: 2·N piped producers.
//   two-nodes    (only with --spread-modes …,two-nodes) two server processes with
//                MEDIA_WORKERS=1 each, sharing a PostgreSQL database and a Redis started
//                for the run (REDIS_URL): participant i joins node i mod 2, so the room
//                spans both nodes and every producer is piped to the other node over an
//                SRTP PipeTransport pair on loopback: 2·N producers piped in.
//
// MEDIA_ROUTER_MAX_LOAD=1 in both, so that only the participant count decides (the
// measured load of a busy worker must not spread the one-router case). The SFU's CPU is
// both worker processes together (procstat); the routers per worker are read from the
// server's /metrics (meet_media_worker_routers) to show that the two-routers case used both.
// The overhead is the ratio two-routers / one-router of the SFU CPU per forwarded Mbit/s,
// taken per size and repetition (the two cases run one right after the other, in
// alternating order when repeated). Forwarded is what the receivers got; when the
// generator, short of CPU, drops datagrams at its sockets that is less than the SFU sent,
// so the CPU is also given per Mbit the SFU sent to the participants
// (meet_webrtc_sent_bytes_total of /metrics, read at the window's start and end: SRTP and
// RTCP on the WebRTC transports, not the pipes).
import os from 'node:os';
import { createTarget } from './load/meet-target.js';
import { fmt, markdownTable } from './load/report.js';
import { LoadSession, type LoadResult } from './load/runner.js';
import { startMeetServer, type MeetServerProcess } from './load/server-process.js';

export type SpreadMode = 'one-router' | 'two-routers' | 'two-nodes';

export interface SpreadOptions {
  /** Meeting sizes (participants, all publishing and receiving). */
  sizes: number[];
  /** Runs of each (size, mode) pair; the order of the modes alternates. */
  repeats: number;
  /** The cases to run (one-router is the baseline of the ratios). */
  modes: SpreadMode[];
  /** Camera payload bit/s (one encoding, 640x360 at 30 fps) and microphone bit/s. */
  videoBitrate: number;
  audioBitrate: number;
  duration: number;
  warmup: number;
  /** Worker threads of the load generator. */
  threads: number;
  log: (line: string) => void;
}

export const defaultSpreadOptions = {
  sizes: [6, 10],
  repeats: 1,
  modes: ['one-router', 'two-routers'] as SpreadMode[],
  // One packet per delta frame at 30 fps (maxPayload 1100): the generator's receive work stays small.
  videoBitrate: 200_000,
  audioBitrate: 32_000,
};

export interface SpreadWorker {
  index: number;
  pid: number;
  /** Routers on it at the end of the window (meet_media_worker_routers). */
  routers: number;
  /** Its CPU over the window, cores. */
  cpu: number;
  /** What it sent to the participants over the window (WebRTC transports), Mbit/s. */
  sentMbps: number;
}

export interface SpreadCase {
  size: number;
  mode: SpreadMode;
  repeat: number;
  /** MEDIA_ROUTER_PARTICIPANTS of the server. */
  routerParticipants: number;
  workers: SpreadWorker[];
  /** Producers piped to another router, by construction: 2·N with two routers, else 0. */
  expectedPipedProducers: number;
  /** os.loadavg() right after the window (1, 5, 15 minutes). */
  loadAverage: number[];
  /** What both workers sent to the participants, Mbit/s (from /metrics). */
  sfuSentMbps: number;
  /** SFU CPU ms per Mbit it sent to the participants. */
  cpuMsPerSentMbit: number;
  result: LoadResult;
}

export interface SpreadResult {
  options: Omit<SpreadOptions, 'log'>;
  cases: SpreadCase[];
  table: string;
  ratios: string;
  /** Cases that failed (not in `cases`). */
  errors: string[];
  /** Cases the generator limited or that were not placed as their name says (spreadNotes). */
  notes: string[];
}

interface WorkerMetric {
  index: number;
  pid: number;
  routers: number;
  sentBytes: number;
}

/** Pid, routers and bytes sent of each live media worker, from the server's /metrics. */
async function workerMetrics(baseUrl: string, token: string): Promise<WorkerMetric[]> {
  const response = await fetch(new URL('/metrics', baseUrl), {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  const text = await response.text();
  const gauge = (name: string) =>
    new Map(
      [...text.matchAll(new RegExp(`^${name}\\{[^}]*worker="(\\d+)"[^}]*\\} ([\\d.e+]+)$`, 'gm'))].map(
        (m) => [Number(m[1]), Number(m[2])],
      ),
    );
  const pids = gauge('meet_media_worker_pid');
  const routers = gauge('meet_media_worker_routers');
  const sent = gauge('meet_webrtc_sent_bytes_total');
  return [...pids].map(([index, pid]) => ({
    index,
    pid,
    routers: routers.get(index) ?? 0,
    sentBytes: sent.get(index) ?? 0,
  }));
}

/** The servers of a case: one with two workers, or two nodes of one worker each. */
async function startServers(mode: SpreadMode, routerParticipants: number) {
  const common = {
    MEDIA_ROUTER_PARTICIPANTS: String(routerParticipants),
    MEDIA_ROUTER_MAX_LOAD: '1',
    MAX_PEERS_PER_ROOM: '500',
  };
  if (mode !== 'two-nodes') {
    const server = await startMeetServer({ ...common, MEDIA_WORKERS: '2' });
    return { servers: [server], close: () => server.close() };
  }
  const { startRedis } = await import('../tests/helpers/redis.js');
  const { createTestDatabase } = await import('../tests/helpers/postgres.js');
  const redis = await startRedis();
  const database = await createTestDatabase();
  const servers: MeetServerProcess[] = [];
  try {
    for (const nodeId of ['spread-a', 'spread-b'])
      servers.push(
        await startMeetServer({
          ...common,
          MEDIA_WORKERS: '1',
          REDIS_URL: redis.url,
          DATABASE_URL: database.url,
          NODE_ID: nodeId,
          // The room is meant to span both nodes: no node moves a socket to the room's node.
          CLUSTER_PLACEMENT: 'false',
        }),
      );
  } catch (error) {
    for (const server of servers) await server.close();
    await database.drop();
    await redis.stop();
    throw error;
  }
  return {
    servers,
    async close() {
      for (const server of servers) await server.close();
      await database.drop();
      await redis.stop();
    },
  };
}

/** Every server's workers, numbered across servers (node b's worker 0 is worker 1). */
async function allWorkerMetrics(
  servers: Array<{ url: string; metricsToken: string }>,
): Promise<WorkerMetric[]> {
  const perServer = await Promise.all(
    servers.map((server) => workerMetrics(server.url, server.metricsToken)),
  );
  let offset = 0;
  return perServer.flatMap((workers) => {
    const numbered = workers.map((w) => ({ ...w, index: w.index + offset }));
    offset += workers.length;
    return numbered;
  });
}

async function runCase(
  size: number,
  mode: SpreadMode,
  repeat: number,
  options: SpreadOptions,
): Promise<SpreadCase> {
  const routerParticipants = mode === 'two-routers' ? Math.ceil(size / 2) : size;
  const { servers, close } = await startServers(mode, routerParticipants);
  const server = servers[0] as (typeof servers)[number];
  const media = {
    video: { bitrate: options.videoBitrate },
    audio: { bitrate: options.audioBitrate },
  };
  // The SFU's pids are read (from /metrics) just before the window: its byte counters then too.
  let before: { at: number; workers: WorkerMetric[] } | undefined;
  const spec = {
    kind: 'meet' as const,
    baseUrl: server.url,
    ...(servers.length > 1 ? { baseUrls: servers.map((s) => s.url) } : {}),
    media,
  };
  const target = createTarget('meet', spec, options.threads, {
    sfuPids: async () => {
      before = { at: performance.now(), workers: await allWorkerMetrics(servers) };
      return before.workers.map((w) => w.pid);
    },
  });
  const session = new LoadSession(target);
  try {
    await session.addToRoom(`spread-${size}-${mode}-${Date.now().toString(36)}`, {
      publishers: size,
      subscribers: 0,
    });
    const result = await session.measure({ duration: options.duration, warmup: options.warmup });
    const after = { at: performance.now(), workers: await allWorkerMetrics(servers) };
    const loadAverage = os.loadavg().map((v) => Math.round(v * 100) / 100);
    const seconds = (after.at - (before?.at ?? NaN)) / 1000;
    const workers: SpreadWorker[] = after.workers.map(({ sentBytes, ...w }) => ({
      ...w,
      cpu: result.sfu.cpuByPid[w.pid] ?? NaN,
      sentMbps:
        ((sentBytes - (before?.workers.find((b) => b.index === w.index)?.sentBytes ?? NaN)) * 8) /
        seconds /
        1e6,
    }));
    const sfuSentMbps = workers.reduce((sum, w) => sum + w.sentMbps, 0);
    const spread: SpreadCase = {
      size,
      mode,
      repeat,
      routerParticipants,
      workers,
      expectedPipedProducers: mode === 'one-router' ? 0 : 2 * size,
      loadAverage,
      sfuSentMbps,
      cpuMsPerSentMbit: (result.sfu.cpu * 1000) / sfuSentMbps,
      result,
    };
    options.log(
      `  spread N=${size} ${mode} (MEDIA_ROUTER_PARTICIPANTS=${routerParticipants}): SFU CPU ${fmt(result.sfu.cpu, 3)} cores (${workers.map((w) => `worker ${w.index}: ${fmt(w.cpu, 3)}, ${w.routers} router(s)`).join('; ')}), SFU sent ${fmt(sfuSentMbps, 1)} Mbit/s, ${fmt(result.forwardedMbps, 1)} Mbit/s forwarded (received), ${fmt(result.sfuCpuMsPerMbit, 2)} CPU ms per forwarded Mbit, ${fmt(spread.cpuMsPerSentMbit, 2)} per sent Mbit, loss ${fmt(result.lossPct, 3)} %, generator ${fmt(result.generator.cpu, 2)} cores, ${result.udpRcvbufErrors} UDP rcvbuf drops, load average ${loadAverage.join(' ')}${result.check.ok ? '' : `, ${result.check.missing.length} streams missing`}`,
    );
    return spread;
  } finally {
    await session.close();
    await target.close?.();
    await close();
  }
}

/** Routers per worker, e.g. "1+1" (both workers) or "1+0". */
const routerSplit = (c: SpreadCase) =>
  [...c.workers]
    .sort((a, b) => a.index - b.index)
    .map((w) => String(w.routers))
    .join('+');

const workerCpus = (c: SpreadCase) =>
  [...c.workers]
    .sort((a, b) => a.index - b.index)
    .map((w) => fmt(w.cpu, 3))
    .join(' + ');

export function spreadTable(cases: SpreadCase[]): string {
  return markdownTable(
    [
      'N',
      'run',
      'case',
      'routers per worker',
      'piped producers',
      'consumers',
      'SFU sent Mbit/s',
      'fwd (received) Mbit/s',
      'loss %',
      'SFU CPU cores (w0 + w1)',
      'SFU CPU total',
      'CPU ms / fwd Mbit',
      'CPU ms / sent Mbit',
      'generator CPU',
      'UDP rcvbuf drops',
      'machine CPU',
      'load avg 1/5/15',
    ],
    cases.map((c) => {
      const r = c.result;
      return [
        String(c.size),
        String(c.repeat),
        `${c.mode} (${c.routerParticipants}/router)`,
        routerSplit(c),
        String(c.expectedPipedProducers),
        r.activeStreams === r.expectedStreams
          ? String(r.expectedStreams)
          : `${r.activeStreams}/${r.expectedStreams}`,
        fmt(c.sfuSentMbps, 1),
        fmt(r.forwardedMbps, 1),
        fmt(r.lossPct, 3),
        workerCpus(c),
        fmt(r.sfu.cpu, 3),
        fmt(r.sfuCpuMsPerMbit, 2),
        fmt(c.cpuMsPerSentMbit, 2),
        fmt(r.generator.cpu, 2),
        String(r.udpRcvbufErrors),
        fmt(r.machineCpu, 2),
        c.loadAverage.map((v) => fmt(v, 2)).join(' / '),
      ];
    }),
  );
}

/**
 * Per size and run: two-routers / one-router of the CPU per forwarded Mbit and per Mbit the
 * SFU sent, and the extra CPU per piped producer.
 */
export function spreadRatios(cases: SpreadCase[]): string {
  const rows: string[][] = [];
  for (const two of cases.filter((c) => c.mode !== 'one-router')) {
    const one = cases.find((c) => c.mode === 'one-router' && c.size === two.size && c.repeat === two.repeat);
    if (!one) continue;
    const a = one.result;
    const b = two.result;
    const lossy = a.lossPct > lossyPct || b.lossPct > lossyPct ? ' (lossy)' : '';
    rows.push([
      String(one.size),
      String(one.repeat),
      two.mode,
      `${fmt(a.sfuCpuMsPerMbit, 2)} → ${fmt(b.sfuCpuMsPerMbit, 2)}`,
      `${fmt(b.sfuCpuMsPerMbit / a.sfuCpuMsPerMbit, 2)}${lossy}`,
      `${fmt(one.cpuMsPerSentMbit, 2)} → ${fmt(two.cpuMsPerSentMbit, 2)}`,
      `${fmt(two.cpuMsPerSentMbit / one.cpuMsPerSentMbit, 2)}${lossy}`,
      `${fmt(a.sfu.cpu, 3)} → ${fmt(b.sfu.cpu, 3)}`,
      // The extra CPU per piped producer, ms per second (meaningful when both cases sent alike).
      fmt(((b.sfu.cpu - a.sfu.cpu) * 1000) / Math.max(1, two.expectedPipedProducers), 2),
      `${fmt(a.lossPct, 3)} / ${fmt(b.lossPct, 3)}`,
    ]);
  }
  return markdownTable(
    [
      'N',
      'run',
      'spread over',
      'CPU ms / fwd Mbit: one router → spread',
      'ratio spread / one',
      'CPU ms / sent Mbit: one → spread',
      'ratio spread / one (sent)',
      'SFU CPU cores: one → spread',
      'extra CPU per piped producer (ms/s)',
      'loss %: one / two',
    ],
    rows,
  );
}

/** Loss above which a case measures the generator rather than the SFU (its row is marked). */
const lossyPct = 1;

/** Notes on the cases: those the generator limited, those not placed as their name says. */
export function spreadNotes(cases: SpreadCase[]): string[] {
  const notes: string[] = [];
  for (const c of cases) {
    const r = c.result;
    if (r.lossPct > lossyPct)
      notes.push(
        `N=${c.size} ${c.mode} run ${c.repeat}: not a measurement of the SFU: loss ${fmt(r.lossPct, 1)} %, ${r.udpRcvbufErrors} datagrams dropped at the generator's full sockets, the SFU sent ${fmt(c.sfuSentMbps, 1)} Mbit/s and the receivers got ${fmt(r.forwardedMbps, 1)}, while the machine's CPU was ${fmt(r.machineCpu, 2)} of ${os.availableParallelism()} cores (generator ${fmt(r.generator.cpu, 2)}, SFU ${fmt(r.sfu.cpu, 2)}): the load generator, short of CPU, was the limit (retransmissions asked for by its losses are also in what the SFU sent)`,
      );
    const used = c.workers.filter((w) => w.routers > 0).length;
    const expected = c.mode === 'one-router' ? 1 : 2;
    if (used !== expected)
      notes.push(
        `N=${c.size} ${c.mode} run ${c.repeat}: routers on ${used} worker(s), expected ${expected}: the case is not what its name says`,
      );
  }
  return notes;
}

export async function runSpread(options: SpreadOptions): Promise<SpreadResult> {
  const cases: SpreadCase[] = [];
  const errors: string[] = [];
  for (let repeat = 1; repeat <= options.repeats; repeat++) {
    for (const size of options.sizes) {
      const modes = repeat % 2 === 1 ? options.modes : [...options.modes].reverse();
      for (const mode of modes) {
        options.log(`meet: spread scenario, N=${size}, ${mode}, run ${repeat}`);
        try {
          cases.push(await runCase(size, mode, repeat, options));
        } catch (error) {
          const note = `N=${size} ${mode} run ${repeat}: ${(error as Error).message}`;
          errors.push(note);
          options.log(`  ${note}`);
        }
      }
    }
  }
  const { log: _log, ...recorded } = options;
  return {
    options: recorded,
    cases,
    table: spreadTable(cases),
    ratios: spreadRatios(cases),
    errors,
    notes: spreadNotes(cases),
  };
}
