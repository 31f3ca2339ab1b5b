// The load tool: simulated participants with a real WebRTC stack join rooms through the
// real signaling, publish synthetic VP8 + Opus, receive everyone else, and report what
// arrived. See docs/performance.md.
//
//   npm run load -- --publishers 4 --subscribers 0 --duration 20
//   npm run load -- --url http://localhost:3000 --room standup --publishers 2 --subscribers 10
//   npm run load -- --target janus --publishers 4
//   npm run load -- --publishers 4 --subscribers 2 --simulcast --tile 416x234
//
// Without --url it starts the platform's server in a child process (MEDIA_WORKERS=1 unless
// --workers says otherwise, MAX_PEERS_PER_ROOM=500) and closes it afterwards.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { randomRoomId } from '@meet/protocol';
import { meetTarget } from './meet-target.js';
import { formatResult, isMain, writeJson } from './report.js';
import { simulcastLayersFromKbps, type SimulcastLayer } from './simulcast.js';
import { LoadSession, type LoadResult, type Target } from './runner.js';
import { startMeetServer } from './server-process.js';

export interface LoadCliOptions {
  target: 'meet' | 'janus';
  url: string | undefined;
  room: string;
  rooms: number;
  publishers: number;
  subscribers: number;
  duration: number;
  warmup: number;
  workers: number;
  videoKbps: number;
  audioKbps: number;
  /** Worker threads hosting the participants (0: all in the main thread). */
  threads: number;
  /** Cameras publish simulcast with these layers (this platform only). */
  simulcast?: SimulcastLayer[];
  /** Every subscriber sets a view showing every publisher at this size (device pixels). */
  tile?: { width: number; height: number };
  /**
   * Negotiate transport-cc (default: yes without simulcast, no with it: werift's per-stream
   * feedback would let mediasoup's bandwidth estimate, not the view, pick the layers).
   */
  transportCc?: boolean;
}

export async function runLoadTool(
  options: LoadCliOptions,
  log: (line: string) => void = console.log,
): Promise<LoadResult> {
  const closers: Array<() => Promise<void>> = [];
  try {
    const media = {
      video: { bitrate: options.videoKbps * 1000 },
      audio: { bitrate: options.audioKbps * 1000 },
      ...(options.simulcast ? { simulcast: options.simulcast } : {}),
      transportCc: options.transportCc ?? !options.simulcast,
    };
    let target: Target;
    if (options.target === 'janus') {
      const { startJanus } = await import('./janus.js');
      const janus = await startJanus();
      closers.push(() => janus.close());
      log(`janus ${janus.version} started (pid ${janus.pid})`);
      target = janus.target(media, options.threads);
    } else {
      let url = options.url;
      // With --url, the server's METRICS_TOKEN (from the environment) gives its worker pids.
      let metricsToken = process.env.METRICS_TOKEN;
      if (!url) {
        const server = await startMeetServer({
          MEDIA_WORKERS: String(options.workers),
          MAX_PEERS_PER_ROOM: '500',
        });
        closers.push(() => server.close());
        url = server.url;
        metricsToken = server.metricsToken;
        log(`server started at ${url} (mediasoup workers: ${server.workerPids.join(', ')})`);
      }
      target = meetTarget(url, media, options.threads, metricsToken);
    }
    const t = target;
    closers.unshift(async () => t.close?.());
    const session = new LoadSession(target);
    closers.unshift(() => session.close());
    const roomIds =
      options.rooms > 1
        ? Array.from({ length: options.rooms }, (_, i) => `${options.room}-${i + 1}`)
        : [options.room];
    log(
      `joining ${roomIds.length} room(s) × (${options.publishers} publishers + ${options.subscribers} subscribers)`,
    );
    await session.addRooms(roomIds, { publishers: options.publishers, subscribers: options.subscribers });
    const tile = options.tile;
    if (tile) {
      await session.waitForMedia();
      log(`setting every subscriber's view: every publisher at ${tile.width}x${tile.height}`);
      await Promise.all(
        session.members
          .filter((m) => m.subscribe)
          .map((m) =>
            m.participant.setView?.(
              session.members
                .filter((p) => p.publish && p.roomId === m.roomId && p !== m)
                .map((p) => ({ peerId: p.participant.id, ...tile })),
            ),
          ),
      );
    }
    log(`measuring for ${options.duration} s after ${options.warmup} s of warm-up`);
    return await session.measure({ duration: options.duration, warmup: options.warmup });
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

/** One participant thread per core (werift's JavaScript media stack is the generator's limit). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

export function parseLoadArgs(args: string[]): LoadCliOptions & { json: string | undefined } {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: 'string', default: 'meet' },
      url: { type: 'string' },
      room: { type: 'string' },
      rooms: { type: 'string', default: '1' },
      publishers: { type: 'string', default: '2' },
      subscribers: { type: 'string', default: '0' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      workers: { type: 'string', default: '1' },
      threads: { type: 'string', default: String(defaultThreads()) },
      'video-kbps': { type: 'string', default: '600' },
      'audio-kbps': { type: 'string', default: '32' },
      simulcast: { type: 'boolean', default: false },
      'layers-kbps': { type: 'string', default: '150,500,1500' },
      tile: { type: 'string' },
      'transport-cc': { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'npm run load -- [--target meet|janus] [--url URL] [--room R] [--rooms K] [--publishers N]\n' +
        '  [--subscribers M] [--duration S] [--warmup S] [--workers W] [--video-kbps 600]\n' +
        '  [--audio-kbps 32] [--threads T] [--json FILE]\n' +
        '  [--simulcast [--layers-kbps 150,500,1500]]  cameras as 320x180/640x360/1280x720 encodings\n' +
        '  [--tile WxH]  subscribers set a view: every publisher in a tile of WxH device pixels\n' +
        '  [--transport-cc]  negotiate transport-cc even with --simulcast (werift gets it wrong)',
    );
    process.exit(0);
  }
  const int = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  if (values.target !== 'meet' && values.target !== 'janus') throw new Error('--target is meet or janus');
  if (values.target === 'janus' && values.url) throw new Error('--url is for --target meet');
  if (values.target === 'janus' && (values.simulcast || values.tile))
    throw new Error('--simulcast and --tile are for --target meet');
  const tile = values.tile ? /^(\d+)x(\d+)$/.exec(values.tile) : undefined;
  if (tile === null) throw new Error('--tile is WIDTHxHEIGHT, e.g. 416x234');
  return {
    target: values.target,
    url: values.url,
    room: values.room ?? `load-${randomRoomId()}`,
    rooms: int('rooms', values.rooms, 1),
    publishers: int('publishers', values.publishers, 0),
    subscribers: int('subscribers', values.subscribers, 0),
    duration: int('duration', values.duration, 1),
    warmup: int('warmup', values.warmup, 0),
    workers: int('workers', values.workers, 1),
    videoKbps: int('video-kbps', values['video-kbps'], 10),
    audioKbps: int('audio-kbps', values['audio-kbps'], 6),
    threads: int('threads', values.threads, 0),
    ...(values.simulcast
      ? {
          simulcast: simulcastLayersFromKbps(
            values['layers-kbps'].split(',').map((k) => int('layers-kbps', k, 10)),
          ),
        }
      : {}),
    ...(tile ? { tile: { width: Number(tile[1]), height: Number(tile[2]) } } : {}),
    ...(values['transport-cc'] !== undefined ? { transportCc: values['transport-cc'] } : {}),
    json: values.json,
  };
}

if (isMain(import.meta.url)) {
  const options = parseLoadArgs(process.argv.slice(2));
  const result = await runLoadTool(options);
  console.log(formatResult(result));
  if (options.json) writeJson(options.json, result);
  process.exitCode = result.check.ok && result.errors.length === 0 ? 0 : 1;
  // werift keeps sockets and timers of closed peer connections alive for a while.
  setTimeout(() => process.exit(), 500).unref();
}
