// A pool of mediasoup workers, one per CPU core by default. Each worker has one
// WebRtcServer, so all of its WebRTC transports share one UDP and one TCP port
// (basePort + worker index). A worker that dies is replaced on the same port; the routers
// it hosted emit 'workerclose' and their rooms rebuild themselves on a live worker.
//
// Placement is by measured load: every few seconds the pool reads each worker's CPU time
// (getResourceUsage) and keeps a smoothed share of one core; a new router goes to the
// worker with the lowest share, and only between workers within LOAD_TIE of each other
// (idle ones, say) does the number of routers decide.
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { roomMediaCodecs } from './codecs.js';
import { loadMediasoup } from './worker-binary.js';

/** Receive and send buffer asked for the workers' shared UDP socket (4 MiB). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** How often each worker's CPU time is read for placement (ms). */
const DEFAULT_LOAD_SAMPLE_MS = 2000;
/** Workers whose measured loads differ by less than this share of a core count as equal. */
export const LOAD_TIE = 0.05;
/** Weight of the newest sample in the smoothed load (exponential moving average). */
const LOAD_SMOOTHING = 0.5;

export interface MediaPoolConfig {
  /** Number of workers (default: one per CPU core). */
  numWorkers: number;
  /** IP the WebRtcServers listen on, e.g. 0.0.0.0. */
  listenIp: string;
  /** Address announced in ICE candidates (public IP or hostname); listenIp when unset. */
  announcedAddress?: string | undefined;
  /** First port; worker i listens on basePort + i (UDP and TCP). */
  basePort: number;
  logLevel?: types.WorkerLogLevel;
  /** How often worker CPU is sampled for placement (ms; default 2000). */
  loadSampleMs?: number;
}

/** The minimal logger the pool needs (pino's signature). */
export interface PoolLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WorkerHealth {
  index: number;
  pid: number | undefined;
  alive: boolean;
  port: number;
  routers: number;
  restarts: number;
  /** Measured CPU load, a smoothed share of one core (0 = idle, 1 = one full core). */
  load: number;
  /** Process CPU seconds (user + system) since the worker started. */
  cpuSeconds?: number;
  /** Of which user CPU seconds. */
  userCpuSeconds?: number;
  /** Of which system CPU seconds. */
  systemCpuSeconds?: number;
  /** Peak resident memory, KiB. */
  maxRssKiB?: number;
}

interface Slot {
  index: number;
  port: number;
  worker?: types.Worker;
  webRtcServer?: types.WebRtcServer;
  /** Resolves when the slot has a live worker (pending during a restart). */
  ready: Promise<void>;
  routers: number;
  restarts: number;
  /** Smoothed share of one core used by the worker (see #sampleLoads). */
  load: number;
  /** The last CPU reading: worker CPU ms (user + system) and when it was read. */
  lastCpu?: { cpuMs: number; at: number };
}

export interface WorkerDiedEvent {
  index: number;
  pid: number;
  error: Error;
}

export class MediaWorkerPool extends EventEmitter<{
  workerDied: [WorkerDiedEvent];
  workerRestarted: [number];
}> {
  readonly #config: MediaPoolConfig;
  readonly #log: PoolLogger;
  readonly #slots: Slot[] = [];
  #closed = false;
  #rtpCapabilities: types.RtpCapabilities | undefined;
  #loadTimer: NodeJS.Timeout | undefined;

  private constructor(config: MediaPoolConfig, log: PoolLogger) {
    super();
    this.#config = config;
    this.#log = log;
  }

  static async start(config: MediaPoolConfig, log: PoolLogger): Promise<MediaWorkerPool> {
    if (!Number.isInteger(config.numWorkers) || config.numWorkers < 1) {
      throw new Error(`numWorkers must be a positive integer, got ${config.numWorkers}`);
    }
    const pool = new MediaWorkerPool(config, log);
    for (let index = 0; index < config.numWorkers; index++) {
      const slot: Slot = {
        index,
        port: config.basePort + index,
        ready: Promise.resolve(),
        routers: 0,
        restarts: 0,
        load: 0,
      };
      pool.#slots.push(slot);
      slot.ready = pool.#startWorker(slot);
    }
    try {
      await Promise.all(pool.#slots.map((slot) => slot.ready));
      // Every router has the same codecs, so the same capabilities: read them once from a
      // router made for that, so that a browser can ask for them before any room has one.
      const probe = await pool.#slots[0]?.worker?.createRouter({ mediaCodecs: roomMediaCodecs });
      pool.#rtpCapabilities = probe?.rtpCapabilities;
      probe?.close();
    } catch (error) {
      pool.close();
      throw error;
    }
    pool.#loadTimer = setInterval(
      () => void pool.#sampleLoads(),
      config.loadSampleMs ?? DEFAULT_LOAD_SAMPLE_MS,
    );
    pool.#loadTimer.unref();
    return pool;
  }

  /** The RTP capabilities of this pool's routers (all alike). */
  get rtpCapabilities(): types.RtpCapabilities {
    if (!this.#rtpCapabilities) throw new Error('media worker pool is not started');
    return this.#rtpCapabilities;
  }

  get size(): number {
    return this.#slots.length;
  }

  async #startWorker(slot: Slot): Promise<void> {
    const mediasoup = await loadMediasoup();
    const worker = await mediasoup.createWorker({
      logLevel: this.#config.logLevel ?? 'warn',
      logTags: ['ice', 'dtls', 'srtp'],
      appData: { index: slot.index },
    });
    try {
      const listen = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
        protocol,
        ip: this.#config.listenIp,
        port: slot.port,
        // One UDP socket carries every transport of the worker: a default-sized buffer
        // overflows (drops everyone's packets) when the worker is descheduled for a moment.
        // The kernel caps these at net.core.rmem_max / wmem_max (docs/deploy.md).
        ...(protocol === 'udp'
          ? { recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES }
          : {}),
        ...(this.#config.announcedAddress ? { announcedAddress: this.#config.announcedAddress } : {}),
      });
      slot.webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
    } catch (error) {
      worker.close();
      throw new Error(
        `worker ${slot.index}: cannot listen on port ${slot.port} (UDP/TCP): ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (this.#closed) {
      // The pool was closed while this worker was starting (a restart): do not keep it.
      worker.close();
      throw new Error('media worker pool is closed');
    }
    slot.worker = worker;
    slot.routers = 0;
    slot.load = 0;
    slot.lastCpu = undefined;
    worker.on('died', (error) => this.#onDied(slot, worker, error));
    this.#log.info({ index: slot.index, pid: worker.pid, port: slot.port }, 'media worker started');
  }

  #onDied(slot: Slot, worker: types.Worker, error: Error): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.webRtcServer = undefined;
    this.#log.error({ index: slot.index, pid: worker.pid, err: error }, 'media worker died; restarting it');
    if (this.#closed) {
      this.emit('workerDied', { index: slot.index, pid: worker.pid, error });
      return;
    }
    slot.restarts++;
    const restart = async (attempt: number): Promise<void> => {
      try {
        await this.#startWorker(slot);
        this.emit('workerRestarted', slot.index);
      } catch (err) {
        if (this.#closed || attempt >= 5) throw err;
        this.#log.warn({ index: slot.index, attempt, err }, 'media worker restart failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        return restart(attempt + 1);
      }
    };
    // The restart is under way before anyone hears of the death: a listener that asks for
    // a router waits for it instead of finding no worker at all.
    slot.ready = restart(1);
    slot.ready.catch((err: unknown) =>
      this.#log.error({ index: slot.index, err }, 'media worker could not be restarted'),
    );
    this.emit('workerDied', { index: slot.index, pid: worker.pid, error });
  }

  /**
   * Reads every live worker's CPU time and updates its smoothed load (share of one core
   * since the previous reading). A worker that cannot answer (dying) keeps its last load.
   */
  async #sampleLoads(): Promise<void> {
    await Promise.all(
      this.#slots.map(async (slot) => {
        const worker = slot.worker;
        if (!worker || worker.closed || worker.died) return;
        try {
          const usage = await worker.getResourceUsage();
          const now = performance.now();
          const cpuMs = usage.ru_utime + usage.ru_stime;
          const last = slot.lastCpu;
          if (slot.worker !== worker) return;
          slot.lastCpu = { cpuMs, at: now };
          if (!last || now <= last.at) return;
          const share = Math.max(0, (cpuMs - last.cpuMs) / (now - last.at));
          slot.load = LOAD_SMOOTHING * share + (1 - LOAD_SMOOTHING) * slot.load;
        } catch {
          // The worker is going away: its death is handled by #onDied.
        }
      }),
    );
  }

  /** The measured load of a worker (smoothed share of one core; 0 when unknown). */
  loadOf(index: number): number {
    return this.#slots[index]?.load ?? 0;
  }

  /** Indexes of the workers that are alive now. */
  liveWorkers(): number[] {
    return this.#slots.filter((slot) => slot.worker && slot.webRtcServer).map((slot) => slot.index);
  }

  /**
   * Creates a router on the least loaded live worker (measured CPU; fewer routers between
   * workers of about the same load), waiting for a restarting worker only when no worker
   * is alive. Workers in `avoid` (those a room already has a router on) are chosen only
   * when no other is alive.
   */
  async createRouter(
    appData: Record<string, unknown> = {},
    { avoid }: { avoid?: ReadonlySet<number> } = {},
  ): Promise<{ router: types.Router; webRtcServer: types.WebRtcServer; workerIndex: number }> {
    if (this.#closed) throw new Error('media worker pool is closed');
    let live = this.#slots.filter((slot) => slot.worker && slot.webRtcServer);
    if (live.length === 0) {
      await Promise.any(this.#slots.map((slot) => slot.ready)).catch(() => {
        throw new Error('no media worker is available');
      });
      live = this.#slots.filter((slot) => slot.worker && slot.webRtcServer);
      if (live.length === 0) throw new Error('no media worker is available');
    }
    const preferred = avoid ? live.filter((slot) => !avoid.has(slot.index)) : live;
    const slot = leastLoaded(preferred.length > 0 ? preferred : live);
    const worker = slot.worker as types.Worker;
    const webRtcServer = slot.webRtcServer as types.WebRtcServer;
    const router = await worker.createRouter({ mediaCodecs: roomMediaCodecs, appData });
    slot.routers++;
    router.observer.once('close', () => {
      if (slot.worker === worker) slot.routers--;
    });
    return { router, webRtcServer, workerIndex: slot.index };
  }

  async health(): Promise<WorkerHealth[]> {
    return Promise.all(
      this.#slots.map(async (slot): Promise<WorkerHealth> => {
        const base = {
          index: slot.index,
          pid: slot.worker?.pid,
          alive: Boolean(slot.worker && !slot.worker.closed && !slot.worker.died),
          port: slot.port,
          routers: slot.routers,
          restarts: slot.restarts,
          load: slot.load,
        };
        if (!slot.worker || !base.alive) return base;
        try {
          const usage = await slot.worker.getResourceUsage();
          return {
            ...base,
            cpuSeconds: (usage.ru_utime + usage.ru_stime) / 1000,
            userCpuSeconds: usage.ru_utime / 1000,
            systemCpuSeconds: usage.ru_stime / 1000,
            maxRssKiB: usage.ru_maxrss,
          };
        } catch {
          return { ...base, alive: false };
        }
      }),
    );
  }

  /** Pids of the live workers (for tests and benchmarks). */
  pids(): number[] {
    return this.#slots.flatMap((slot) => (slot.worker ? [slot.worker.pid] : []));
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#loadTimer);
    for (const slot of this.#slots) slot.worker?.close();
  }
}

/** The slot with the lowest measured load; between loads within LOAD_TIE, the fewest routers. */
function leastLoaded(slots: Slot[]): Slot {
  return slots.reduce((best, slot) => {
    if (slot.load < best.load - LOAD_TIE) return slot;
    if (slot.load > best.load + LOAD_TIE) return best;
    return slot.routers < best.routers ? slot : best;
  }, slots[0] as Slot);
}
