// Metrics read when Prometheus scrapes, not kept up to date in between: the open rooms and
// their participants, transports, producers and consumers (in memory); each media worker's
// CPU time and memory (one getResourceUsage() request per worker); the bytes the WebRTC
// transports received and sent (one getStats() request per open transport); whether the
// database answers. One snapshot serves every metric of a scrape (concurrent scrapes share
// it), and the requests to the workers are bounded in time.
import { readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { types } from 'mediasoup';
import type { MediaWorkerPool, WorkerHealth } from '@meet/media-worker';
import type { MediaSource } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { pingDatabase, probeTimeoutMs, withTimeout } from '../health/health.js';
import type { ViewCounts } from '../participant/participant-media.js';
import type { RoomRegistry } from '../room/registry.js';

const sources: readonly MediaSource[] = ['mic', 'webcam', 'screen', 'screenAudio'];
const directions = ['send', 'recv'] as const;
const viewStates = ['forwarding', 'offView', 'notReady'] as const;
const viewStateLabels: Record<(typeof viewStates)[number], string> = {
  forwarding: 'forwarding',
  offView: 'off_view',
  notReady: 'not_ready',
};

interface ByteCount {
  received: number;
  sent: number;
}

interface TrackedTransport extends ByteCount {
  worker: number;
  closed: boolean;
}

interface WorkerSample extends WorkerHealth {
  /** Current resident memory (Linux: VmRSS of /proc/<pid>/status), bytes. */
  rssBytes?: number | undefined;
}

interface Snapshot {
  rooms: number;
  connections: number;
  participants: { call: number; chat: number };
  transports: Record<(typeof directions)[number], number>;
  producers: Record<MediaSource, number>;
  consumers: Record<MediaSource, number>;
  /** Video consumers: forwarded, paused because off the viewer's screen, or not resumed by it. */
  videoConsumers: ViewCounts;
  workers: WorkerSample[];
  bytes: Map<number, ByteCount>;
  databaseUp: boolean;
  /** Producers piped to another router of their room (workers), or in from another node. */
  piped: { workers: number; nodes: number };
  /** Live nodes of the cluster (undefined: a single node, or Redis did not answer). */
  clusterNodes: number | undefined;
}

const zeroBySource = (): Record<MediaSource, number> => ({ mic: 0, webcam: 0, screen: 0, screenAudio: 0 });

async function residentBytes(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

export interface MediaCollectorSources {
  pool: MediaWorkerPool;
  rooms: RoomRegistry;
  db: Db;
  /** Live nodes of the cluster, when there is one. */
  clusterNodes?: (() => Promise<number>) | undefined;
}

export class MediaCollector {
  readonly #sources: MediaCollectorSources;
  #pending: Promise<Snapshot> | undefined;
  /** Transports seen by a scrape, with the bytes last read from them. */
  readonly #tracked = new Map<string, TrackedTransport>();
  /** Per worker index: the last-read bytes of transports that have closed since. */
  readonly #closedBytes = new Map<number, ByteCount>();

  constructor(sources: MediaCollectorSources) {
    this.#sources = sources;
  }

  /** Whether this node is part of a cluster. */
  get inCluster(): boolean {
    return this.#sources.clusterNodes !== undefined;
  }

  /** The current snapshot: one collection at a time, shared by the metrics of a scrape. */
  snapshot(): Promise<Snapshot> {
    this.#pending ??= this.#collect().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #collect(): Promise<Snapshot> {
    const { pool, rooms, db } = this.#sources;
    const snapshot: Snapshot = {
      rooms: 0,
      connections: 0,
      participants: { call: 0, chat: 0 },
      transports: { send: 0, recv: 0 },
      producers: zeroBySource(),
      consumers: zeroBySource(),
      videoConsumers: { forwarding: 0, offView: 0, notReady: 0, held: 0 },
      workers: [],
      bytes: new Map(),
      databaseUp: false,
      piped: { workers: 0, nodes: 0 },
      clusterNodes: undefined,
    };
    const transports: Array<{ transport: types.WebRtcTransport; worker: number }> = [];
    for (const room of rooms.list()) {
      snapshot.rooms++;
      for (const participant of room.participants.values()) {
        snapshot.connections++;
        if (participant.joined) snapshot.participants[participant.inCall ? 'call' : 'chat']++;
        for (const transport of participant.transports.values()) {
          snapshot.transports[transport.appData.direction]++;
          const place = participant.media?.place;
          if (place) transports.push({ transport, worker: place.workerIndex });
        }
        for (const producer of participant.producers.values()) snapshot.producers[producer.appData.source]++;
        for (const consumer of participant.consumers.values()) snapshot.consumers[consumer.appData.source]++;
        const view = participant.media?.viewCounts();
        if (view) {
          for (const state of viewStates) snapshot.videoConsumers[state] += view[state];
          snapshot.videoConsumers.held += view.held;
        }
      }
    }
    for (const room of rooms.list()) {
      const media = await room.currentMedia();
      snapshot.piped.workers += media?.pipedProducers ?? 0;
      snapshot.piped.nodes += media?.importedProducers ?? 0;
    }
    const [workers, databaseUp, clusterNodes] = await Promise.all([
      this.#sampleWorkers(pool),
      pingDatabase(db),
      this.#sources.clusterNodes
        ? withTimeout(
            this.#sources.clusterNodes().catch(() => undefined),
            probeTimeoutMs,
          )
        : undefined,
      this.#sampleTransports(transports),
    ]);
    snapshot.clusterNodes = clusterNodes;
    snapshot.workers = workers;
    snapshot.databaseUp = databaseUp;
    snapshot.bytes = this.#byteTotals();
    return snapshot;
  }

  async #sampleWorkers(pool: MediaWorkerPool): Promise<WorkerSample[]> {
    const health = await withTimeout(
      pool.health().catch(() => undefined),
      probeTimeoutMs,
    );
    // Workers that do not answer in time are reported down (and without usage figures).
    if (!health)
      return Array.from({ length: pool.size }, (_, index) => ({
        index,
        pid: undefined,
        alive: false,
        port: 0,
        routers: 0,
        restarts: 0,
        load: 0,
      }));
    return Promise.all(
      health.map(async (worker) => ({
        ...worker,
        rssBytes: worker.alive ? await residentBytes(worker.pid) : undefined,
      })),
    );
  }

  /** Reads the byte counters of every open transport (bounded in time; late ones keep their last values). */
  async #sampleTransports(
    transports: Array<{ transport: types.WebRtcTransport; worker: number }>,
  ): Promise<void> {
    const reads = transports.flatMap(({ transport, worker }) => {
      const tracked = this.#track(transport, worker);
      if (!tracked) return [];
      return [
        transport.getStats().then(([stats]) => {
          if (!stats) return;
          // Never backwards: a counter only grows.
          tracked.received = Math.max(tracked.received, stats.bytesReceived);
          tracked.sent = Math.max(tracked.sent, stats.bytesSent);
        }),
      ];
    });
    await withTimeout(Promise.allSettled(reads), probeTimeoutMs);
  }

  #track(transport: types.WebRtcTransport, worker: number): TrackedTransport | undefined {
    const known = this.#tracked.get(transport.id);
    if (known) return known;
    if (transport.closed) return undefined;
    const tracked: TrackedTransport = { worker, received: 0, sent: 0, closed: false };
    this.#tracked.set(transport.id, tracked);
    transport.observer.once('close', () => {
      tracked.closed = true;
    });
    return tracked;
  }

  /**
   * Bytes per worker index: those of closed transports (as last read: what they carried
   * after the last scrape before they closed is not counted) plus those of open ones.
   */
  #byteTotals(): Map<number, ByteCount> {
    for (const [id, tracked] of this.#tracked) {
      if (!tracked.closed) continue;
      const closed = this.#closedBytes.get(tracked.worker) ?? { received: 0, sent: 0 };
      closed.received += tracked.received;
      closed.sent += tracked.sent;
      this.#closedBytes.set(tracked.worker, closed);
      this.#tracked.delete(id);
    }
    const totals = new Map<number, ByteCount>();
    for (const [worker, closed] of this.#closedBytes) totals.set(worker, { ...closed });
    for (const tracked of this.#tracked.values()) {
      const total = totals.get(tracked.worker) ?? { received: 0, sent: 0 };
      total.received += tracked.received;
      total.sent += tracked.sent;
      totals.set(tracked.worker, total);
    }
    return totals;
  }
}

/** Registers the metrics read on scrape from `collector` in `registry`. */
export function registerMediaMetrics(registry: Registry, collector: MediaCollector): void {
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (metric: Gauge<L>, snapshot: Snapshot) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const snapshot = await collector.snapshot();
        this.reset();
        fill(this, snapshot);
      },
    });
  // Counters whose totals are kept elsewhere (by the workers, or by the collector): set to
  // the total on each scrape.
  const counter = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (set: (labels: Record<L, string>, total: number) => void, snapshot: Snapshot) => void,
  ) =>
    new Counter<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const snapshot = await collector.snapshot();
        this.reset();
        fill((labels, total) => this.inc(labels as never, total), snapshot);
      },
    });
  const alive = (snapshot: Snapshot) => snapshot.workers.filter((w) => w.alive);

  gauge('meet_rooms', 'Open rooms (rooms with at least one connected participant).', [], (m, s) =>
    m.set(s.rooms),
  );
  gauge(
    'meet_piped_producers',
    'Producers carried to another router of their room: between this node\'s workers (between="workers"), or in from another node (between="nodes").',
    ['between'],
    (m, s) => {
      m.set({ between: 'workers' }, s.piped.workers);
      m.set({ between: 'nodes' }, s.piped.nodes);
    },
  );
  if (collector.inCluster)
    gauge(
      'meet_cluster_nodes',
      'Live nodes of the cluster as this node sees them in Redis (0 when Redis does not answer; absent on a single node).',
      [],
      (m, s) => m.set(s.clusterNodes ?? 0),
    );
  gauge(
    'meet_signaling_connections',
    'Signaling websockets attached to a room (joined or not yet).',
    [],
    (m, s) => m.set(s.connections),
  );
  gauge(
    'meet_participants',
    'Participants who joined a room: in the call (asked for media, did not leave the call) or in the chat only.',
    ['state'],
    (m, s) => {
      m.set({ state: 'call' }, s.participants.call);
      m.set({ state: 'chat' }, s.participants.chat);
    },
  );
  gauge('meet_webrtc_transports', 'Open WebRTC transports, by direction.', ['direction'], (m, s) => {
    for (const direction of directions) m.set({ direction }, s.transports[direction]);
  });
  gauge('meet_producers', 'Open producers (media sent by participants), by source.', ['source'], (m, s) => {
    for (const source of sources) m.set({ source }, s.producers[source]);
  });
  gauge('meet_consumers', 'Open consumers (media sent to participants), by source.', ['source'], (m, s) => {
    for (const source of sources) m.set({ source }, s.consumers[source]);
  });
  gauge(
    'meet_video_consumers',
    'Open video consumers by state: forwarding, paused because off the viewer screen (off_view), or not resumed by the viewer (not_ready).',
    ['state'],
    (m, s) => {
      for (const state of viewStates) m.set({ state: viewStateLabels[state] }, s.videoConsumers[state]);
    },
  );
  gauge(
    'meet_video_consumers_held',
    "Forwarded video consumers held below the layer the viewer's tile asks, after the viewer's downlink dropped them (upswitch backoff).",
    [],
    (m, s) => m.set(s.videoConsumers.held),
  );
  gauge('meet_database_up', 'Whether the chat database answers a query (1) or not (0).', [], (m, s) =>
    m.set(s.databaseUp ? 1 : 0),
  );

  gauge(
    'meet_media_worker_up',
    'Whether the media worker is alive and answers (1) or not (0).',
    ['worker'],
    (m, s) => {
      for (const w of s.workers) m.set({ worker: String(w.index) }, w.alive ? 1 : 0);
    },
  );
  gauge('meet_media_worker_pid', 'Process id of the live media worker.', ['worker'], (m, s) => {
    for (const w of alive(s)) if (w.pid !== undefined) m.set({ worker: String(w.index) }, w.pid);
  });
  gauge('meet_media_worker_routers', 'Room routers hosted by the media worker.', ['worker'], (m, s) => {
    for (const w of s.workers) m.set({ worker: String(w.index) }, w.routers);
  });
  gauge(
    'meet_media_worker_load',
    'Measured CPU load of the media worker (smoothed share of one core) that room placement uses.',
    ['worker'],
    (m, s) => {
      for (const w of alive(s)) m.set({ worker: String(w.index) }, w.load);
    },
  );
  counter(
    'meet_media_worker_restarts_total',
    'Times the media worker died and was replaced.',
    ['worker'],
    (set, s) => {
      for (const w of s.workers) set({ worker: String(w.index) }, w.restarts);
    },
  );
  counter(
    'meet_media_worker_cpu_seconds_total',
    'CPU time of the media worker process (getrusage ru_utime/ru_stime), by mode; restarts from 0 with the process.',
    ['worker', 'mode'],
    (set, s) => {
      for (const w of alive(s)) {
        const worker = String(w.index);
        if (w.userCpuSeconds !== undefined) set({ worker, mode: 'user' }, w.userCpuSeconds);
        if (w.systemCpuSeconds !== undefined) set({ worker, mode: 'system' }, w.systemCpuSeconds);
      }
    },
  );
  gauge(
    'meet_media_worker_max_rss_bytes',
    'Peak resident memory of the media worker process since it started (getrusage ru_maxrss).',
    ['worker'],
    (m, s) => {
      for (const w of alive(s))
        if (w.maxRssKiB !== undefined) m.set({ worker: String(w.index) }, w.maxRssKiB * 1024);
    },
  );
  gauge(
    'meet_media_worker_resident_memory_bytes',
    'Current resident memory of the media worker process (Linux only: VmRSS).',
    ['worker'],
    (m, s) => {
      for (const w of alive(s)) if (w.rssBytes !== undefined) m.set({ worker: String(w.index) }, w.rssBytes);
    },
  );
  counter(
    'meet_webrtc_received_bytes_total',
    'Bytes received from browsers on WebRTC transports (media, RTCP, DTLS; read at each scrape), by media worker.',
    ['worker'],
    (set, s) => {
      for (const w of s.workers) set({ worker: String(w.index) }, s.bytes.get(w.index)?.received ?? 0);
    },
  );
  counter(
    'meet_webrtc_sent_bytes_total',
    'Bytes sent to browsers on WebRTC transports (media, RTCP, DTLS, ICE; read at each scrape), by media worker.',
    ['worker'],
    (set, s) => {
      for (const w of s.workers) set({ worker: String(w.index) }, s.bytes.get(w.index)?.sent ?? 0);
    },
  );
}
