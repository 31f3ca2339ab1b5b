// Runs simulated participants against an SFU (this platform, or Janus for comparison) and
// measures a steady-state window: what the subscribers received (bitrate, loss from sequence
// numbers, jitter), how long joining took, the SFU processes' CPU and memory, and the load
// generator's own CPU (it shares the machine with the SFU: readers must see both).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { diffSnapshots, type StreamSnapshot } from './media.js';
import type { ParticipantHandle, ParticipantReport } from './participant.js';
import { machineBusySeconds, procWindow, sampleProcess, udpCounters, type ProcWindow } from './procstat.js';

export interface JoinOptions {
  roomId: string;
  name: string;
  publish: boolean;
  subscribe: boolean;
  /** The participant's number in the session (0, 1, …): which node it joins, with several. */
  index?: number;
}

/** An SFU the load tool can drive. */
export interface Target {
  /** Short name for tables: "meet" or "janus". */
  readonly name: string;
  join(options: JoinOptions): Promise<ParticipantHandle>;
  /** Pids of the processes that forward media (mediasoup workers, the janus process). */
  sfuPids(): Promise<number[]>;
  /** Prepares a room (Janus needs it created); optional. */
  prepareRoom?(roomId: string): Promise<void>;
  /** Event-loop delay p99 (ms) of the threads hosting participants, when not this one. */
  loopDelayP99?(reset: boolean): Promise<number>;
  close?(): Promise<void>;
}

interface Member {
  participant: ParticipantHandle;
  roomId: string;
  publish: boolean;
  subscribe: boolean;
  /** A publisher of its room was already sending when it joined (its join time counts). */
  mediaWasFlowing: boolean;
}

export interface Quantiles {
  n: number;
  p50: number;
  p95: number;
  max: number;
}

export function quantiles(values: number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] ?? NaN };
}

export interface LoadResult {
  target: string;
  rooms: number;
  publishers: number;
  subscribers: number;
  participants: number;
  /** Streams (consumers) every subscriber should receive: audio + video of each other publisher. */
  expectedStreams: number;
  /** Of those, streams that received packets during the window. */
  activeStreams: number;
  /** Streams that received nothing during the window (receiver ← publisher kind). */
  inactiveStreams: string[];
  windowSeconds: number;
  /** RTP sent by the publishers, Mbit/s. */
  sentMbps: number;
  /** RTP received by all subscribers (what the SFU forwarded and arrived), Mbit/s. */
  forwardedMbps: number;
  /** Residual packet loss in the window: sequence numbers never received, %. */
  lossPct: number;
  /**
   * Packets received (distinct) over packets their publishers sent in the window, %. Unlike
   * the sequence-number loss this also sees packets an SFU drops before renumbering a stream;
   * but it is only as precise as the moments of the reports (about ±1 % under load: a busy
   * receiver thread has not yet read what waits in its sockets).
   */
  deliveredPct: number;
  /** The same, of the audio streams only (no NACK for Opus) and of the video streams only. */
  lossAudioPct: number;
  lossVideoPct: number;
  /** Sequence numbers missing when a later one arrived (before NACK retransmission), %. */
  gapPct: number;
  duplicates: number;
  /** Interarrival jitter of the video streams at the end of the window, ms. */
  videoJitterMs: Quantiles;
  audioJitterMs: Quantiles;
  /** Join time: signaling connect → first media packet received, ms. */
  joinMs: Quantiles;
  sfu: ProcWindow;
  /** SFU CPU milliseconds per forwarded megabit (cpu seconds per second / Mbit/s × 1000). */
  sfuCpuMsPerMbit: number;
  generator: { cpu: number; eventLoopDelayP99Ms: number; rssMiB: number };
  /** UDP datagrams the kernel dropped because a socket's receive buffer was full. */
  udpRcvbufErrors: number;
  /**
   * CPU of the whole machine during the window, cores (every process: SFU, generator, the
   * platform's server and whatever else runs, such as other people's browsers).
   */
  machineCpu: number;
  /** Subscribers that got media from every publisher of their room (packets > 0, keyframe seen). */
  check: { ok: boolean; missing: string[] };
  /**
   * Video layers as the receivers saw them: keyframes received per announced width since
   * joining, over all video streams ("320": 40, "1280": 3), and the video bytes received in
   * the window per width of the keyframe that preceded them.
   */
  received: { keyframesByWidth: Record<string, number>; windowBytesByWidth: Record<string, number> };
  /** Simulcast publishers: RTP payload sent in the window per rid, Mbit/s (all publishers). */
  sentLayersMbps: Record<string, number>;
  errors: string[];
}

export class LoadSession {
  readonly target: Target;
  readonly members: Member[] = [];
  readonly #roomsPrepared = new Set<string>();
  #joined = 0;

  constructor(target: Target) {
    this.target = target;
  }

  /**
   * Joins `publishers` publishing-and-subscribing participants one after the other (as
   * people arrive), then `subscribers` receive-only participants, `concurrency` at a time.
   * `senders` more publishers receive nothing (publish-only: the bulk of a large meeting
   * whose download is not measured, so that the generator is not the limit); they join first.
   */
  async addToRoom(
    roomId: string,
    { publishers, subscribers, senders = 0 }: { publishers: number; subscribers: number; senders?: number },
    concurrency = 1,
  ): Promise<ParticipantHandle[]> {
    if (!this.#roomsPrepared.has(roomId)) {
      await this.target.prepareRoom?.(roomId);
      this.#roomsPrepared.add(roomId);
    }
    const joined: ParticipantHandle[] = [];
    const joinOne = async (publish: boolean, subscribe = true) => {
      const index = this.#joined++;
      const mediaWasFlowing = this.members.some((m) => m.roomId === roomId && m.publish);
      const name = `${publish ? (subscribe ? 'pub' : 'snd') : 'sub'}${index}-${roomId}`.slice(0, 40);
      const participant = await this.target.join({ roomId, name, publish, subscribe, index });
      this.members.push({ participant, roomId, publish, subscribe, mediaWasFlowing });
      joined.push(participant);
    };
    for (let i = 0; i < senders; i++) await joinOne(true, false);
    for (let i = 0; i < publishers; i++) await joinOne(true);
    for (let i = 0; i < subscribers; i += concurrency) {
      await Promise.all(Array.from({ length: Math.min(concurrency, subscribers - i) }, () => joinOne(false)));
    }
    return joined;
  }

  /** Joins several rooms at once (at most `concurrency` joining at a time). */
  async addRooms(
    roomIds: string[],
    size: { publishers: number; subscribers: number },
    concurrency = 4,
  ): Promise<void> {
    const queue = [...roomIds];
    await Promise.all(
      Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        for (let roomId = queue.shift(); roomId !== undefined; roomId = queue.shift())
          await this.addToRoom(roomId, size);
      }),
    );
  }

  async #reports(): Promise<ParticipantReport[]> {
    return Promise.all(this.members.map(async (m) => await m.participant.report()));
  }

  /** Every member's report now (same order as `members`). */
  reports(): Promise<ParticipantReport[]> {
    return this.#reports();
  }

  /** Waits until every expected stream has media and a keyframe; false after `settle` seconds. */
  async waitForMedia(settle = 15): Promise<boolean> {
    const until = performance.now() + settle * 1000;
    for (;;) {
      if (this.#missing(await this.#reports()).missing.length === 0) return true;
      if (performance.now() >= until) return false;
      await sleep(250);
    }
  }

  /** Streams a participant should receive and does not yet (no packet, or no keyframe). */
  #missing(reports: ParticipantReport[]): { missing: string[]; expected: number } {
    const missing: string[] = [];
    let expected = 0;
    this.members.forEach((member, i) => {
      if (!member.subscribe) return;
      const report = reports[i] as ParticipantReport;
      this.members.forEach((publisher, k) => {
        if (!publisher.publish || publisher.roomId !== member.roomId || k === i) return;
        const from = reports[k] as ParticipantReport;
        for (const kind of ['audio', 'video'] as const) {
          expected++;
          const snap = report.streams.find((s) => s.from === from.id && s.kind === kind)?.snapshot;
          if (!snap || snap.packets === 0 || (kind === 'video' && snap.keyframes === 0))
            missing.push(`${report.name} ← ${from.name} ${kind}`);
        }
      });
    });
    return { missing, expected };
  }

  /**
   * Waits until every expected stream has media (at most `settle` seconds), then `warmup`
   * seconds, then measures a window of `duration` seconds.
   */
  async measure({
    duration,
    warmup = 3,
    settle = 15,
    onReports,
  }: {
    duration: number;
    warmup?: number;
    settle?: number;
    /** Sees the members' reports at the window's start and end (for figures of its own). */
    onReports?: (start: ParticipantReport[], end: ParticipantReport[]) => void;
  }): Promise<LoadResult> {
    await this.waitForMedia(settle);
    await sleep(warmup * 1000);
    const pids = await this.target.sfuPids();
    const eventLoop = monitorEventLoopDelay({ resolution: 10 });

    const startReports = await this.#reports();
    const startProcs = pids.map(sampleProcess).filter((s) => s !== undefined);
    const startCpu = process.cpuUsage();
    const startUdp = udpCounters();
    const startBusy = machineBusySeconds();
    await this.target.loopDelayP99?.(true);
    const startAt = performance.now();
    eventLoop.enable();
    await sleep(duration * 1000);
    eventLoop.disable();
    const endAt = performance.now();
    const endProcs = pids.map(sampleProcess).filter((s) => s !== undefined);
    const cpu = process.cpuUsage(startCpu);
    const endUdp = udpCounters();
    const endBusy = machineBusySeconds();
    const threadsLoopDelay = await this.target.loopDelayP99?.(false);
    const endReports = await this.#reports();
    const seconds = (endAt - startAt) / 1000;
    onReports?.(startReports, endReports);

    // Streams only ever get appended to a participant's list: match them by position.
    const windows: Array<{
      /** Packets the stream's publisher sent during the window. */
      sent: number;
      label: string;
      kind: 'audio' | 'video';
      window: StreamSnapshot;
      end: StreamSnapshot;
    }> = [];
    endReports.forEach((end, i) => {
      const start = startReports[i] as ParticipantReport;
      end.streams.forEach((stream, j) => {
        const before = start.streams[j]?.snapshot ?? {
          ...stream.snapshot,
          packets: 0,
          expected: 0,
          gaps: 0,
          recovered: 0,
          duplicates: 0,
          bytes: 0,
          keyframes: 0,
          keyframeWidths: {},
          bytesByWidth: {},
        };
        // What the publisher sent, scaled to this receiver's window (the two reports of each
        // participant are taken at slightly different moments).
        const publisher = endReports.findIndex((r) => r.id === stream.from);
        let sent = 0;
        if (publisher >= 0) {
          const [p0, p1] = [startReports[publisher], endReports[publisher]] as ParticipantReport[];
          const pubSpan = (p1?.at ?? 0) - (p0?.at ?? 0);
          const recvSpan = end.at - start.at;
          sent =
            ((p1?.sentPackets[stream.kind] ?? 0) - (p0?.sentPackets[stream.kind] ?? 0)) *
            (pubSpan > 0 ? recvSpan / pubSpan : 1);
        }
        windows.push({
          sent,
          label: `${end.name} ← ${endReports.find((r) => r.id === stream.from)?.name ?? stream.from} ${stream.kind}`,
          kind: stream.kind,
          window: diffSnapshots(before, stream.snapshot),
          end: stream.snapshot,
        });
      });
    });
    const sum = (pick: (w: StreamSnapshot) => number, kind?: 'audio' | 'video') =>
      windows.reduce((total, w) => total + (kind && w.kind !== kind ? 0 : pick(w.window)), 0);
    const loss = (kind?: 'audio' | 'video') => {
      const e = sum((w) => w.expected, kind);
      return e > 0 ? (100 * Math.max(0, e - sum((w) => w.packets, kind))) / e : 0;
    };
    const expected = sum((w) => w.expected);
    const forwardedMbps = (sum((w) => w.bytes) * 8) / seconds / 1e6;
    const sentBytes = endReports.reduce(
      (total, r, i) => total + r.sentBytes - (startReports[i]?.sentBytes ?? 0),
      0,
    );
    const sfu = procWindow(startProcs, endProcs);
    const jitter = (kind: 'audio' | 'video') =>
      quantiles(windows.flatMap((w) => (w.kind === kind ? [w.end.jitterMs] : [])));

    const joins = this.members.flatMap((m, i) => {
      const joinMs = endReports[i]?.joinMs;
      return m.subscribe && m.mediaWasFlowing && joinMs !== undefined ? [joinMs] : [];
    });

    const { missing, expected: expectedStreams } = this.#missing(endReports);
    const keyframesByWidth: Record<string, number> = {};
    const windowBytesByWidth: Record<string, number> = {};
    for (const w of windows) {
      if (w.kind !== 'video') continue;
      for (const [width, n] of Object.entries(w.end.keyframeWidths))
        keyframesByWidth[width] = (keyframesByWidth[width] ?? 0) + n;
      for (const [width, n] of Object.entries(w.window.bytesByWidth))
        windowBytesByWidth[width] = (windowBytesByWidth[width] ?? 0) + n;
    }
    const sentLayersMbps: Record<string, number> = {};
    endReports.forEach((end, i) => {
      const start = startReports[i] as ParticipantReport;
      const span = (end.at - start.at) / 1000;
      for (const layer of end.sentVideoLayers ?? []) {
        const before = start.sentVideoLayers?.find((l) => l.rid === layer.rid)?.bytes ?? 0;
        sentLayersMbps[layer.rid] =
          (sentLayersMbps[layer.rid] ?? 0) + (span > 0 ? ((layer.bytes - before) * 8) / span / 1e6 : 0);
      }
    });
    const memory = process.memoryUsage();
    return {
      target: this.target.name,
      rooms: new Set(this.members.map((m) => m.roomId)).size,
      publishers: this.members.filter((m) => m.publish).length,
      subscribers: this.members.filter((m) => !m.publish).length,
      participants: this.members.length,
      expectedStreams,
      activeStreams: windows.filter((w) => w.window.packets > 0).length,
      inactiveStreams: windows.filter((w) => w.window.packets === 0).map((w) => w.label),
      windowSeconds: seconds,
      sentMbps: (sentBytes * 8) / seconds / 1e6,
      forwardedMbps,
      lossPct: loss(),
      deliveredPct: (() => {
        const sent = windows.reduce((total, w) => total + w.sent, 0);
        return sent > 0 ? (100 * sum((w) => w.packets)) / sent : 100;
      })(),
      lossAudioPct: loss('audio'),
      lossVideoPct: loss('video'),
      gapPct: expected > 0 ? (100 * sum((w) => w.gaps)) / expected : 0,
      duplicates: sum((w) => w.duplicates),
      videoJitterMs: jitter('video'),
      audioJitterMs: jitter('audio'),
      joinMs: quantiles(joins),
      sfu,
      sfuCpuMsPerMbit: forwardedMbps > 0 ? (sfu.cpu * 1000) / forwardedMbps : NaN,
      generator: {
        cpu: (cpu.user + cpu.system) / 1e6 / seconds,
        eventLoopDelayP99Ms: threadsLoopDelay ?? eventLoop.percentile(99) / 1e6,
        rssMiB: memory.rss / 1024 / 1024,
      },
      udpRcvbufErrors: endUdp.rcvbufErrors - startUdp.rcvbufErrors,
      machineCpu: (endBusy - startBusy) / seconds,
      check: { ok: missing.length === 0, missing },
      received: { keyframesByWidth, windowBytesByWidth },
      sentLayersMbps,
      errors: endReports.flatMap((r) => r.errors.map((e) => `${r.name}: ${e}`)),
    };
  }

  /** Closes the participants (not the target). */
  async close(): Promise<void> {
    const members = this.members.splice(0);
    for (let i = 0; i < members.length; i += 8)
      await Promise.all(members.slice(i, i + 8).map((m) => m.participant.close().catch(() => undefined)));
  }
}
