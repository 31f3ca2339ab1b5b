// A pool of mediasoup workers, one per CPU core by default. Each worker has one
// WebRtcServer, so all of its WebRTC transports share one UDP and one TCP port
// (basePort + worker index). A worker that dies is replaced on the same port; the routers
// it hosted emit 'workerclose' and their rooms rebuild themselves on a live worker.
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { roomMediaCodecs } from './codecs.js';
import { loadMediasoup } from './worker-binary.js';

/** Receive and send buffer asked for the workers' shared UDP socket (4 MiB). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

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
   * Creates a router for a room on the least loaded live worker (fewest routers), waiting
   * for a restarting worker only when no worker is alive.
   */
  async createRouter(
    appData: Record<string, unknown> = {},
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
    const slot = live.reduce((best, s) => (s.routers < best.routers ? s : best), live[0] as Slot);
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
    for (const slot of this.#slots) slot.worker?.close();
  }
}
