// Spreads the simulated participants over worker threads: werift does ICE, DTLS, SRTP and
// RTCP in JavaScript, so one event loop saturates one core long before the SFU does. Each
// thread hosts whole participants (signaling, transports, sources, receive statistics) and
// answers the runner's requests for their reports. process.cpuUsage() of the load
// generator covers all its threads.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { AudioSourceOptions, VideoSourceOptions } from './media.js';
import type {
  LayerSwitchRequest,
  ParticipantHandle,
  ParticipantReport,
  PeerTile,
  SimulatedParticipant,
} from './participant.js';
import type { SimulcastLayer } from './simulcast.js';
import type { JoinOptions, Target } from './runner.js';

const ROLE = 'meet-load-participants';

/** Where thread-hosted participants join: enough to build the target inside the thread. */
export type ParticipantSpec =
  | {
      kind: 'meet';
      baseUrl: string;
      /** Several nodes of one cluster: participant i joins through baseUrls[i mod length]. */
      baseUrls?: string[];
      media: MediaSpec;
    }
  | { kind: 'janus'; wsUrl: string; media: MediaSpec };

export interface MediaSpec {
  video?: Partial<VideoSourceOptions>;
  audio?: Partial<AudioSourceOptions>;
  /** Cameras publish simulcast (true: the default ladder). */
  simulcast?: SimulcastLayer[] | boolean;
  /** Negotiate transport-cc (default true; see ParticipantOptions). */
  transportCc?: boolean;
}

/** Joins one participant in the current thread. */
export async function joinLocal(spec: ParticipantSpec, options: JoinOptions): Promise<SimulatedParticipant> {
  if (spec.kind === 'meet') {
    const { MeetParticipant } = await import('./participant.js');
    const nodes = spec.baseUrls ?? [];
    const baseUrl = nodes.length ? (nodes[(options.index ?? 0) % nodes.length] as string) : spec.baseUrl;
    const { index: _index, ...join } = options;
    return MeetParticipant.join({ baseUrl, ...join, ...spec.media });
  }
  const { JanusParticipant } = await import('./janus.js');
  return JanusParticipant.join({ wsUrl: spec.wsUrl, ...options, ...spec.media });
}

type Request =
  | { id: number; type: 'join'; options: JoinOptions }
  | { id: number; type: 'report'; participant: number }
  | { id: number; type: 'close'; participant: number }
  | { id: number; type: 'setView'; participant: number; tiles: PeerTile[] }
  | { id: number; type: 'layerSwitch'; participant: number; request: LayerSwitchRequest }
  | { id: number; type: 'loopDelay'; reset: boolean }
  | { id: number; type: 'shutdown' };

type RequestBody = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

class HostThread {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #nextId = 1;
  participants = 0;

  constructor(spec: ParticipantSpec) {
    const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(
      import.meta.url,
    )}); })`;
    this.#worker = new Worker(code, { eval: true, workerData: { role: ROLE, spec } });
    this.#worker.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.value);
      else pending.reject(new Error(reply.error));
    });
    this.#worker.on('error', (error) => {
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    });
  }

  call<T>(request: RequestBody): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

class ThreadParticipant implements ParticipantHandle {
  constructor(
    readonly name: string,
    readonly id: string,
    private readonly thread: HostThread,
    private readonly index: number,
  ) {}
  report(): Promise<ParticipantReport> {
    return this.thread.call({ type: 'report', participant: this.index });
  }
  setView(tiles: PeerTile[]): Promise<void> {
    return this.thread.call({ type: 'setView', participant: this.index, tiles });
  }
  measureLayerSwitch(request: LayerSwitchRequest): Promise<number | undefined> {
    return this.thread.call({ type: 'layerSwitch', participant: this.index, request });
  }
  close(): Promise<void> {
    return this.thread.call({ type: 'close', participant: this.index });
  }
}

/** A target whose participants live in `threads` worker threads (least loaded first). */
export class ThreadedTarget implements Target {
  readonly name: string;
  readonly #threads: HostThread[];
  readonly #base: Pick<Target, 'sfuPids' | 'prepareRoom'>;

  constructor(
    name: string,
    spec: ParticipantSpec,
    threads: number,
    base: Pick<Target, 'sfuPids' | 'prepareRoom'>,
  ) {
    this.name = name;
    this.#base = base;
    this.#threads = Array.from({ length: threads }, () => new HostThread(spec));
  }

  async join(options: JoinOptions): Promise<ParticipantHandle> {
    const thread = this.#threads.reduce((best, t) => (t.participants < best.participants ? t : best));
    thread.participants++;
    try {
      const { index, id } = await thread.call<{ index: number; id: string }>({ type: 'join', options });
      return new ThreadParticipant(options.name, id, thread, index);
    } catch (error) {
      thread.participants--;
      throw error;
    }
  }

  sfuPids(): Promise<number[]> {
    return this.#base.sfuPids();
  }

  async prepareRoom(roomId: string): Promise<void> {
    await this.#base.prepareRoom?.(roomId);
  }

  /** Worst event-loop delay (p99, ms) among the threads since the last reset. */
  async loopDelayP99(reset = false): Promise<number> {
    const values = await Promise.all(this.#threads.map((t) => t.call<number>({ type: 'loopDelay', reset })));
    return Math.max(0, ...values);
  }

  /** Closes the threads' participants (sockets included), then ends the threads. */
  async close(): Promise<void> {
    await Promise.all(
      this.#threads.map(async (t) => {
        await Promise.race([t.call({ type: 'shutdown' }).catch(() => undefined), sleep(10_000)]);
        await sleep(200);
        await t.terminate();
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------
// Inside a host thread.

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const spec = (workerData as { spec: ParticipantSpec }).spec;
  const participants: SimulatedParticipant[] = [];
  let loop: ReturnType<typeof monitorEventLoopDelay> = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const port = parentPort as NonNullable<typeof parentPort>;
  port.on('message', (request: Request) => {
    const reply = (value: unknown) => port.postMessage({ id: request.id, ok: true, value });
    const fail = (error: unknown) =>
      port.postMessage({ id: request.id, ok: false, error: (error as Error).message ?? String(error) });
    switch (request.type) {
      case 'join':
        joinLocal(spec, request.options).then((participant) => {
          participants.push(participant);
          reply({ index: participants.length - 1, id: participant.id });
        }, fail);
        break;
      case 'report':
        Promise.resolve(participants[request.participant]?.report()).then(reply, fail);
        break;
      case 'setView': {
        const p = participants[request.participant];
        if (!p?.setView) fail(new Error('setView: not supported by this participant'));
        else p.setView(request.tiles).then(() => reply(null), fail);
        break;
      }
      case 'layerSwitch': {
        const p = participants[request.participant];
        if (!p?.measureLayerSwitch) fail(new Error('measureLayerSwitch: not supported by this participant'));
        else p.measureLayerSwitch(request.request).then(reply, fail);
        break;
      }
      case 'close':
        Promise.resolve(participants[request.participant]?.close()).then(() => reply(null), fail);
        break;
      case 'shutdown':
        Promise.all(participants.splice(0).map((p) => p.close().catch(() => undefined))).then(
          () => reply(null),
          fail,
        );
        break;
      case 'loopDelay': {
        reply(loop.percentile(99) / 1e6);
        if (request.reset) {
          loop.disable();
          loop = monitorEventLoopDelay({ resolution: 10 });
          loop.enable();
        }
        break;
      }
    }
  });
}
