// Capacity of one mediasoup worker core, measured: how many video consumers one worker
// forwards at < 1 % loss, and at what CPU. The media is generated and received by a Go
// process built on pion (bench/pion/: far cheaper per packet than the werift load tool,
// so that the worker, not the generator, runs out first); the signaling is the platform's
// real protoo protocol, spoken here (bench/load/signaling.ts). See docs/performance.md,
// "Capacity of one worker core (pion generator)".
//
//   bash scripts/setup-system.sh --bench        # once, as root: Go and pion from Debian
//   node --import tsx bench/capacity.ts         # about 5–10 minutes on a quiet machine
//   node --import tsx bench/capacity.ts --publishers 4 --steps 200,400,800 --hold 15
//
// One server (a child process, MEDIA_WORKERS=1: one worker forwards everything), one room;
// `--publishers` cameras (synthetic VP8, 600 kbit/s), then receive-only viewers that consume
// every camera (video only), added in steps of total video consumers. Every step is held:
// wait until every consumer received a keyframe, warm-up, then a window whose counters are
// differenced between its start and end. The receivers count SRTP headers at their sockets
// without decrypting (bench/pion/main.go says why); MEET_PION_ARGS passes extra flags to the
// generator, e.g. MEET_PION_ARGS=-decrypt for pion's whole receive path, or
// MEET_PION_ARGS=-cpuprofile=/tmp/gen.prof.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { randomRoomId, type RtpCapabilities } from '@meet/protocol';
import { createIdentity } from '../tests/helpers/identity.js';
import {
  machineBusySeconds,
  procWindow,
  sampleProcess,
  udpCounters,
  type ProcSample,
  type UdpCounters,
} from './load/procstat.js';
import { fmt, isMain, markdownTable, writeJson } from './load/report.js';
import { startMeetServer } from './load/server-process.js';
import { signalingUrl, SignalingClient } from './load/signaling.js';
import { buildPionGenerator, PionGenerator, type GeneratorStats } from './pion/generator.js';

export interface CapacityOptions {
  publishers: number;
  /** Total video consumers per step (viewers = ceil(consumers / publishers)). */
  steps: number[];
  /** Seconds of each measured window. */
  hold: number;
  warmup: number;
  videoKbps: number;
  fps: number;
  /** The loss (%) a step must stay under to count (default 1). */
  maxLoss: number;
  /** Stop after a step with more loss than this (%): the steps past maxLoss show the knee. */
  stopLoss: number;
  /** The address mediasoup listens on and announces (pion gathers no loopback candidates). */
  rtcIp: string;
  /** Viewers joining at the same time. */
  concurrency: number;
  /** SRTP profile the generator offers first: AEAD_AES_128_GCM or AES128_CM_HMAC_SHA1_80. */
  srtp: 'gcm' | 'cm';
  json: string;
}

export interface CapacityStep {
  consumers: number;
  activeConsumers: number;
  viewers: number;
  windowSeconds: number;
  sentMbps: number;
  forwardedMbps: number;
  forwardedKpps: number;
  deliveredPct: number;
  lossPct: number;
  /** Consumers whose own loss in the window exceeded maxLoss. */
  consumersOverMaxLoss: number;
  workerCpu: number;
  workerRssMiB: number;
  /** Worker CPU µs per packet forwarded (received by the viewers). */
  workerUsPerPacket: number;
  generatorCpu: number;
  generatorRssMiB: number;
  /** The platform's Node process (signaling, no media). */
  serverCpu: number;
  /** This process (signaling clients of every participant). */
  driverCpu: number;
  /** Busy CPU of the whole machine, cores (everything, other people's work included). */
  machineCpu: number;
  loadAverage: number[];
  udpRcvbufErrors: number;
  /** Of those, datagrams dropped at the mediasoup worker's own sockets (its media input). */
  workerSocketDrops: number;
  udpInDatagrams: number;
  joinSeconds: number;
  missing: number;
}

export interface CapacityResult {
  date: string;
  machine: { cpu: string; cores: number; memGiB: number; kernel: string; node: string };
  options: CapacityOptions;
  mediasoup: string;
  steps: CapacityStep[];
  /** The largest step with loss < maxLoss (and nothing missing). */
  capacity: CapacityStep | undefined;
  /** The first step at which the worker used ≥ 0.95 of a core. */
  fullCore: CapacityStep | undefined;
  errors: string[];
}

/**
 * Datagrams dropped at a full receive buffer, for the UDP sockets of one process: the
 * `drops` column of /proc/net/udp for the socket inodes in /proc/<pid>/fd.
 */
function socketDrops(pid: number): number {
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return '';
        }
      })();
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m?.[1]) inodes.add(m[1]);
    }
    let drops = 0;
    for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 13 && inodes.has(f[9] ?? '')) drops += Number(f[12]);
    }
    return drops;
  } catch {
    return NaN;
  }
}

function mediasoupVersion(): string {
  try {
    const path = new URL('../node_modules/mediasoup/package.json', import.meta.url);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The first non-loopback IPv4 address of this machine. */
function defaultRtcIp(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('no non-loopback IPv4 address: pass --rtc-ip');
}

/** What a pion client receives: VP8 with PLI/FIR, no RTX, no header extensions (so no BWE). */
function clientCapabilities(router: RtpCapabilities): RtpCapabilities {
  const keep = new Set(['nack:pli', 'ccm:fir']);
  return {
    codecs: router.codecs
      .filter((c) => c.mimeType.toLowerCase() === 'video/vp8')
      .map((c) => ({
        ...c,
        rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => keep.has(`${f.type}:${f.parameter ?? ''}`)),
      })),
    headerExtensions: [],
  };
}

interface Peer {
  signaling: SignalingClient;
  peerId: string;
}

interface Session {
  url: string;
  roomId: string;
  generator: PionGenerator;
  caps: RtpCapabilities;
  vp8PayloadType: number;
  /** Producer id → publisher key (for the consumers' sent-packet reference). */
  producers: Array<{ id: string; key: string }>;
  /** Consumer id → producer key. */
  consumerOf: Map<string, string>;
  peers: Peer[];
  errors: string[];
}

async function joinPeer(s: Session, name: string): Promise<Peer> {
  const { cookie } = await createIdentity(s.url, name);
  const signaling = await SignalingClient.connect(signalingUrl(s.url, s.roomId), cookie);
  signaling.onProtocolError = (message) => s.errors.push(message);
  const joined = await signaling.request('join', { displayName: name, rtpCapabilities: s.caps });
  if (joined.status !== 'joined') throw new Error(`${name}: room is locked`);
  const peer = { signaling, peerId: joined.peerId };
  s.peers.push(peer);
  return peer;
}

async function connectTransport(s: Session, peer: Peer, direction: 'send' | 'recv') {
  const params = await peer.signaling.request('createWebRtcTransport', { direction });
  const { tid, dtls } = await s.generator.request<{ tid: number; dtls: unknown }>('transport', {
    direction,
    ice: params.iceParameters,
    candidates: params.iceCandidates,
    dtls: params.dtlsParameters,
  });
  await peer.signaling.request('connectWebRtcTransport', {
    transportId: params.id,
    dtlsParameters: dtls as never,
  });
  await s.generator.request('connect', { tid });
  return { tid, id: params.id };
}

async function addPublisher(s: Session, index: number, options: CapacityOptions): Promise<void> {
  const peer = await joinPeer(s, `camera ${index + 1}`);
  const transport = await connectTransport(s, peer, 'send');
  const { ssrc } = await s.generator.request<{ ssrc: number }>('sender', { tid: transport.tid });
  const { id } = await peer.signaling.request('produce', {
    transportId: transport.id,
    kind: 'video',
    source: 'webcam',
    rtpParameters: {
      mid: '0',
      codecs: [
        {
          mimeType: 'video/VP8',
          payloadType: s.vp8PayloadType,
          clockRate: 90000,
          rtcpFeedback: [
            { type: 'nack', parameter: 'pli' },
            { type: 'ccm', parameter: 'fir' },
          ],
        },
      ],
      headerExtensions: [],
      encodings: [{ ssrc }],
      rtcp: { cname: `camera-${index + 1}`, reducedSize: true },
    },
  });
  const key = `p${index + 1}`;
  await s.generator.request('send', { key, ssrc, kbps: options.videoKbps, fps: options.fps });
  s.producers.push({ id, key });
}

async function addViewer(s: Session, index: number): Promise<void> {
  const peer = await joinPeer(s, `viewer ${index + 1}`);
  const transport = await connectTransport(s, peer, 'recv');
  for (const producer of s.producers) {
    const consumer = await peer.signaling.request('consume', {
      transportId: transport.id,
      producerId: producer.id,
    });
    const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc === undefined) throw new Error('consume: no ssrc in the consumer parameters');
    await s.generator.request('consume', { tid: transport.tid, key: consumer.id, ssrc });
    s.consumerOf.set(consumer.id, producer.key);
    await peer.signaling.request('resumeConsumer', { consumerId: consumer.id });
  }
}

/** Runs `count` tasks, `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

interface Snapshot {
  stats: GeneratorStats;
  procs: ProcSample[];
  driver: NodeJS.CpuUsage;
  machineBusy: number;
  udp: UdpCounters;
  workerDrops: number;
  at: number;
}

async function snapshot(s: Session, pids: number[]): Promise<Snapshot> {
  const stats = await s.generator.stats();
  return {
    workerDrops: socketDrops(pids[0] as number),
    stats,
    procs: pids.flatMap((pid) => sampleProcess(pid) ?? []),
    driver: process.cpuUsage(),
    machineBusy: machineBusySeconds(),
    udp: udpCounters(),
    at: performance.now(),
  };
}

function measureStep(
  s: Session,
  a: Snapshot,
  b: Snapshot,
  pids: { worker: number; generator: number; server: number },
  options: CapacityOptions,
): Omit<CapacityStep, 'viewers' | 'joinSeconds' | 'missing'> {
  const seconds = (b.stats.at - a.stats.at) / 1000;
  const sentBefore = new Map(a.stats.senders.map((x) => [x.key, x]));
  const sentDelta = new Map(
    b.stats.senders.map((x) => [x.key, x.packets - (sentBefore.get(x.key)?.packets ?? 0)]),
  );
  let sentBytes = 0;
  for (const x of b.stats.senders) sentBytes += x.bytes - (sentBefore.get(x.key)?.bytes ?? 0);
  const before = new Map(a.stats.consumers.map((c) => [c.key, c]));
  let packets = 0;
  let bytes = 0;
  let expected = 0;
  let reference = 0;
  let active = 0;
  let overMax = 0;
  for (const c of b.stats.consumers) {
    const p = before.get(c.key);
    const dPackets = c.packets - (p?.packets ?? 0);
    const dExpected = c.expected - (p?.expected ?? 0);
    packets += dPackets;
    bytes += c.bytes - (p?.bytes ?? 0);
    expected += dExpected;
    reference += sentDelta.get(s.consumerOf.get(c.key) ?? '') ?? 0;
    if (dPackets > 0) active++;
    if (dExpected > 0 && ((dExpected - dPackets) / dExpected) * 100 > options.maxLoss) overMax++;
  }
  const proc = (pid: number) =>
    procWindow(
      a.procs.filter((x) => x.pid === pid),
      b.procs.filter((x) => x.pid === pid),
    );
  const worker = proc(pids.worker);
  const generator = proc(pids.generator);
  const server = proc(pids.server);
  const wall = (b.at - a.at) / 1000;
  const driver = (b.driver.user + b.driver.system - a.driver.user - a.driver.system) / 1e6 / wall;
  const forwardedPps = packets / seconds;
  return {
    consumers: b.stats.consumers.length,
    activeConsumers: active,
    windowSeconds: seconds,
    sentMbps: (sentBytes * 8) / seconds / 1e6,
    forwardedMbps: (bytes * 8) / seconds / 1e6,
    forwardedKpps: forwardedPps / 1000,
    deliveredPct: reference > 0 ? (packets / reference) * 100 : NaN,
    lossPct: expected > 0 ? (Math.max(0, expected - packets) / expected) * 100 : NaN,
    consumersOverMaxLoss: overMax,
    workerCpu: worker.cpu,
    workerRssMiB: worker.rssMiB,
    workerUsPerPacket: forwardedPps > 0 ? (worker.cpu / forwardedPps) * 1e6 : NaN,
    generatorCpu: generator.cpu,
    generatorRssMiB: generator.rssMiB,
    serverCpu: server.cpu,
    driverCpu: driver,
    machineCpu: (b.machineBusy - a.machineBusy) / wall,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
    udpRcvbufErrors: b.udp.rcvbufErrors - a.udp.rcvbufErrors,
    workerSocketDrops: b.workerDrops - a.workerDrops,
    udpInDatagrams: b.udp.inDatagrams - a.udp.inDatagrams,
  };
}

/** Waits until every consumer has received a keyframe (or `timeoutMs`); returns how many have not. */
async function waitForMedia(s: Session, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await s.generator.stats();
    const missing = stats.consumers.filter((c) => !c.keyframe).length;
    if (missing === 0 || Date.now() > deadline) return missing;
    await sleep(250);
  }
}

export async function runCapacity(
  options: CapacityOptions,
  log: (line: string) => void = console.log,
): Promise<CapacityResult> {
  const closers: Array<() => Promise<void>> = [];
  const result: CapacityResult = {
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: `${os.type()} ${os.release()}`,
      node: process.version,
    },
    options,
    mediasoup: mediasoupVersion(),
    steps: [],
    capacity: undefined,
    fullCore: undefined,
    errors: [],
  };
  try {
    const binary = buildPionGenerator();
    const server = await startMeetServer({
      MEDIA_WORKERS: '1',
      MAX_PEERS_PER_ROOM: '500',
      MEDIA_ROUTER_PARTICIPANTS: '500',
      RTC_LISTEN_IP: options.rtcIp,
      RTC_ANNOUNCED_ADDRESS: options.rtcIp,
    });
    closers.unshift(() => server.close());
    const workerPid = server.workerPids[0] as number;
    log(`server at ${server.url}, one mediasoup worker (pid ${workerPid}), media on ${options.rtcIp}`);
    const roomId = `capacity-${randomRoomId()}`;
    // The router's capabilities (the same for every router), through a first connection.
    const probe = await createIdentity(server.url, 'probe');
    const probeSignaling = await SignalingClient.connect(signalingUrl(server.url, roomId), probe.cookie);
    const router = await probeSignaling.request('getRouterRtpCapabilities', {});
    await probeSignaling.close();
    const vp8 = router.codecs.find((c) => c.mimeType.toLowerCase() === 'video/vp8');
    if (vp8?.preferredPayloadType === undefined) throw new Error('the router has no VP8');
    const generator = PionGenerator.start(binary, vp8.preferredPayloadType, [
      `-srtp-gcm=${String(options.srtp === 'gcm')}`,
      ...(process.env.MEET_PION_ARGS ? process.env.MEET_PION_ARGS.split(' ') : []),
    ]);
    closers.unshift(() => generator.close());
    log(`pion generator started (pid ${generator.pid})`);
    const s: Session = {
      url: server.url,
      roomId,
      generator,
      caps: clientCapabilities(router),
      vp8PayloadType: vp8.preferredPayloadType,
      producers: [],
      consumerOf: new Map(),
      peers: [],
      errors: result.errors,
    };
    closers.unshift(async () => {
      await Promise.all(s.peers.map((p) => p.signaling.close().catch(() => undefined)));
    });
    for (let i = 0; i < options.publishers; i++) await addPublisher(s, i, options);
    log(`${options.publishers} cameras publishing VP8 at ${options.videoKbps} kbit/s`);
    const pids = { worker: workerPid, generator: generator.pid, server: server.pid };
    let viewers = 0;
    for (const target of options.steps) {
      const wanted = Math.ceil(target / options.publishers);
      const joinStart = performance.now();
      const adding = wanted - viewers;
      if (adding > 0) {
        const first = viewers;
        let joined = 0;
        await pool(adding, options.concurrency, async (i) => {
          await addViewer(s, first + i);
          if (++joined % 50 === 0) log(`  ${joined}/${adding} viewers joined`);
        });
        viewers = wanted;
      }
      const joinSeconds = (performance.now() - joinStart) / 1000;
      const missing = await waitForMedia(s, 20_000);
      await sleep(options.warmup * 1000);
      const a = await snapshot(s, Object.values(pids));
      await sleep(options.hold * 1000);
      const b = await snapshot(s, Object.values(pids));
      const step: CapacityStep = { ...measureStep(s, a, b, pids, options), viewers, joinSeconds, missing };
      result.steps.push(step);
      log(
        `${step.consumers} consumers (${viewers} viewers, joined in ${fmt(joinSeconds)} s, ${missing} without keyframe): ` +
          `fwd ${fmt(step.forwardedMbps)} Mbit/s ${fmt(step.forwardedKpps, 2)} kpkt/s, loss ${fmt(step.lossPct, 3)} %, delivered ${fmt(step.deliveredPct, 2)} %, ` +
          `worker ${fmt(step.workerCpu, 3)} cores (${fmt(step.workerUsPerPacket, 1)} µs/pkt), generator ${fmt(step.generatorCpu, 2)}, ` +
          `server ${fmt(step.serverCpu, 2)}, driver ${fmt(step.driverCpu, 2)}, machine ${fmt(step.machineCpu, 2)} cores, ` +
          `load ${step.loadAverage.join(' ')}, UDP rcvbuf drops ${step.udpRcvbufErrors} (at the worker's sockets ${step.workerSocketDrops})`,
      );
      if (!(step.lossPct <= options.stopLoss)) break;
    }
    result.capacity = result.steps
      .filter((x) => x.lossPct < options.maxLoss && x.missing === 0)
      .reduce<CapacityStep | undefined>(
        (best, x) => (!best || x.consumers > best.consumers ? x : best),
        undefined,
      );
    result.fullCore = result.steps.find((x) => x.workerCpu >= 0.95);
    return result;
  } finally {
    for (const close of closers) await close().catch(() => undefined);
  }
}

export const capacityHeader = [
  'video consumers',
  'viewers',
  'sent Mbit/s',
  'fwd Mbit/s',
  'fwd kpkt/s',
  'delivered %',
  'loss %',
  'consumers > 1 % loss',
  'worker CPU (cores)',
  'worker µs / fwd pkt',
  'worker RSS MiB',
  'generator CPU (cores)',
  'server + driver CPU',
  'machine CPU (of 2)',
  'load avg (1 min)',
  'UDP rcvbuf drops (at the worker)',
];

export function capacityRows(result: CapacityResult): string[][] {
  return result.steps.map((x) => [
    x.activeConsumers === x.consumers ? String(x.consumers) : `${x.activeConsumers}/${x.consumers}`,
    String(x.viewers),
    fmt(x.sentMbps, 2),
    fmt(x.forwardedMbps, 1),
    fmt(x.forwardedKpps, 1),
    fmt(x.deliveredPct, 2),
    fmt(x.lossPct, 3),
    String(x.consumersOverMaxLoss),
    fmt(x.workerCpu, 3),
    fmt(x.workerUsPerPacket, 1),
    fmt(x.workerRssMiB, 0),
    fmt(x.generatorCpu, 2),
    `${fmt(x.serverCpu, 2)} + ${fmt(x.driverCpu, 2)}`,
    fmt(x.machineCpu, 2),
    fmt(x.loadAverage[0] ?? NaN, 2),
    `${x.udpRcvbufErrors} (${x.workerSocketDrops})`,
  ]);
}

export function summary(result: CapacityResult): string {
  const c = result.capacity;
  const f = result.fullCore;
  return [
    c
      ? `Largest step under ${result.options.maxLoss} % loss: ${c.consumers} video consumers (${fmt(c.forwardedMbps, 1)} Mbit/s forwarded, loss ${fmt(c.lossPct, 3)} %), worker at ${fmt(c.workerCpu, 3)} cores, generator at ${fmt(c.generatorCpu, 2)}.`
      : `No step stayed under ${result.options.maxLoss} % loss.`,
    f
      ? `The worker first reached ≥ 0.95 of a core at ${f.consumers} video consumers (${fmt(f.workerCpu, 3)} cores, loss ${fmt(f.lossPct, 3)} %).`
      : `The worker never reached 0.95 of a core (highest: ${fmt(Math.max(0, ...result.steps.map((x) => x.workerCpu)), 3)} cores).`,
  ].join('\n');
}

export function parseCapacityArgs(args: string[]): CapacityOptions {
  const { values } = parseArgs({
    args,
    options: {
      publishers: { type: 'string', default: '6' },
      steps: { type: 'string', default: '120,240,480,720,960,1200,1320,1440,1560,1680,1800,1920' },
      hold: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      'video-kbps': { type: 'string', default: '600' },
      fps: { type: 'string', default: '30' },
      'max-loss': { type: 'string', default: '1' },
      'stop-loss': { type: 'string', default: '5' },
      'rtc-ip': { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      srtp: { type: 'string', default: 'gcm' },
      json: { type: 'string', default: 'bench-results/capacity.json' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'node --import tsx bench/capacity.ts [--publishers 6] [--steps 120,240,...] [--hold 15] [--warmup 3]\n' +
        '  [--video-kbps 600] [--fps 30] [--max-loss 1] [--stop-loss 5] [--rtc-ip IP] [--concurrency 8] [--srtp cm|gcm]\n' +
        '  [--json bench-results/capacity.json]',
    );
    process.exit(0);
  }
  const num = (name: string, value: string, min: number) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}`);
    return n;
  };
  const publishers = num('publishers', values.publishers, 1);
  const steps = values.steps.split(',').map((x) => num('steps', x, 1));
  // One room: MAX_PEERS_PER_ROOM is at most 500 (server/src/config.ts).
  if (Math.ceil(Math.max(...steps) / publishers) + publishers > 500)
    throw new Error('more than 500 participants in the room: use more --publishers or fewer --steps');
  return {
    publishers,
    steps,
    hold: num('hold', values.hold, 1),
    warmup: num('warmup', values.warmup, 0),
    videoKbps: num('video-kbps', values['video-kbps'], 10),
    fps: num('fps', values.fps, 1),
    maxLoss: num('max-loss', values['max-loss'], 0),
    stopLoss: num('stop-loss', values['stop-loss'], 0),
    rtcIp: values['rtc-ip'] ?? defaultRtcIp(),
    concurrency: num('concurrency', values.concurrency, 1),
    srtp: values.srtp === 'gcm' ? 'gcm' : 'cm',
    json: values.json,
  };
}

if (isMain(import.meta.url)) {
  const options = parseCapacityArgs(process.argv.slice(2));
  const result = await runCapacity(options);
  console.log(`\n${markdownTable(capacityHeader, capacityRows(result))}\n`);
  console.log(summary(result));
  if (result.errors.length) console.log(`errors: ${result.errors.slice(0, 5).join('; ')}`);
  writeJson(options.json, result);
  console.log(`written to ${options.json}`);
  setTimeout(() => process.exit(), 500).unref();
}
