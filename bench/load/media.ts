// Synthetic media for simulated participants, written into werift tracks (which do the
// SRTP, RTCP, NACK retransmissions): VP8 frames with real payload descriptors and keyframe
// headers, Opus-sized audio packets; and the receive side: per-stream statistics from RTP
// sequence numbers (loss, duplicates, retransmitted/reordered arrivals), RTP timestamps and
// arrival times (interarrival jitter, RFC 3550 §6.4.1), bytes (bitrate), keyframes.
import { randomBytes, randomInt } from 'node:crypto';
import { RtpHeader, RtpPacket, type MediaStreamTrack } from 'werift';

export interface VideoSourceOptions {
  /** Target bitrate of the RTP payload, bit/s (default 600 kbit/s). */
  bitrate: number;
  fps: number;
  /** Seconds between periodic keyframes (a PLI forces one sooner). */
  keyframeInterval: number;
  width: number;
  height: number;
  /** Largest RTP payload (VP8 descriptor included), bytes. */
  maxPayload: number;
}

export const defaultVideo: VideoSourceOptions = {
  bitrate: 600_000,
  fps: 30,
  keyframeInterval: 2,
  width: 640,
  height: 360,
  maxPayload: 1100,
};

export interface AudioSourceOptions {
  /** Opus payload bitrate, bit/s (default 32 kbit/s: 80-byte packets every 20 ms). */
  bitrate: number;
  ptimeMs: number;
}

export const defaultAudio: AudioSourceOptions = { bitrate: 32_000, ptimeMs: 20 };

/** Pseudo-random payload bytes (content is irrelevant to an SFU; SRTP encrypts it anyway). */
const noise = randomBytes(64 * 1024);
function filler(length: number): Buffer {
  const offset = randomInt(0, noise.length - length);
  return noise.subarray(offset, offset + length);
}

/** Calls `tick(n)` for every period that elapsed, on a timer that does not drift. */
export class Pacer {
  #timer: NodeJS.Timeout | undefined;
  #start = 0;
  #done = 0;
  constructor(
    private readonly periodMs: number,
    private readonly tick: () => void,
  ) {}
  start(): void {
    this.#start = performance.now();
    this.#done = 0;
    this.#timer = setInterval(() => {
      const due = Math.floor((performance.now() - this.#start) / this.periodMs) + 1;
      // After a stall (event loop busy) send at most 5 periods at once; skip the rest, as a
      // real encoder would drop frames rather than send a burst of stale ones.
      if (due - this.#done > 5) this.#done = due - 5;
      while (this.#done < due) {
        this.#done++;
        this.tick();
      }
    }, this.periodMs);
  }
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

export interface SourceStats {
  packets: number;
  bytes: number;
  frames: number;
  keyframes: number;
  /** Keyframes sent early because the SFU asked (PLI/FIR). */
  forcedKeyframes: number;
}

/** Frame size and timing of one VP8 encoding. */
export type Vp8EncodingOptions = Pick<
  VideoSourceOptions,
  'bitrate' | 'fps' | 'keyframeInterval' | 'width' | 'height' | 'maxPayload'
>;

/**
 * One VP8 encoding: writes a frame into its werift track on each `frame(timestamp)` call,
 * packetized per RFC 7741 with a picture id; a keyframe (P bit clear, start code 9d 01 2a,
 * width and height) every keyframeInterval seconds or when requested. Sizes: a keyframe is 5
 * average frames, the deltas share the rest of the bitrate, each ±20 %.
 */
export class Vp8Encoder {
  readonly options: Vp8EncodingOptions;
  readonly stats: SourceStats = { packets: 0, bytes: 0, frames: 0, keyframes: 0, forcedKeyframes: 0 };
  readonly #track: MediaStreamTrack;
  #seq = randomInt(0, 0xffff);
  #pictureId = randomInt(0, 0x7fff);
  #sinceKey = Infinity;
  #forceKey = false;
  #lastForced = 0;

  constructor(track: MediaStreamTrack, options: Vp8EncodingOptions) {
    this.options = options;
    this.#track = track;
  }

  /**
   * The SFU asked for a keyframe (PLI/FIR): the next frame is one. At most one forced keyframe
   * per 300 ms (many consumers joining at once ask together); a request within that time is
   * kept and served when it ends, never dropped (the SFU may have discarded the previous one).
   */
  requestKeyframe(): void {
    this.#forceKey = true;
  }

  /** The next frame is a keyframe whatever the rate limit (an encoding that resumes). */
  forceKeyframe(): void {
    this.#sinceKey = Infinity;
  }

  frame(timestamp: number): void {
    const { fps, bitrate, keyframeInterval, width, height } = this.options;
    const framesPerKey = Math.max(1, Math.round(keyframeInterval * fps));
    const average = bitrate / 8 / fps;
    const now = performance.now();
    const forced = this.#forceKey && now - this.#lastForced >= 300;
    const key = forced || this.#sinceKey >= framesPerKey - 1;
    if (forced && this.#sinceKey < framesPerKey - 1) this.stats.forcedKeyframes++;
    if (key) {
      this.#forceKey = false;
      this.#lastForced = now;
    }
    this.#sinceKey = key ? 0 : this.#sinceKey + 1;
    const keySize = average * 5;
    const deltaSize = Math.max(200, (average * framesPerKey - keySize) / Math.max(1, framesPerKey - 1));
    const size = Math.round((key ? keySize : deltaSize) * (0.8 + Math.random() * 0.4));

    // VP8 payload header: 3-byte frame tag (+7 bytes for a keyframe), then compressed data.
    const vp8 = Buffer.from(filler(size));
    const firstPartition = Math.min(size - 10, 0x7ffff);
    const tag = (firstPartition << 5) | (1 << 4) | (key ? 0 : 1); // show_frame=1, version 0
    vp8[0] = tag & 0xff;
    vp8[1] = (tag >> 8) & 0xff;
    vp8[2] = (tag >> 16) & 0xff;
    if (key) {
      vp8[3] = 0x9d;
      vp8[4] = 0x01;
      vp8[5] = 0x2a;
      vp8.writeUInt16LE(width & 0x3fff, 6);
      vp8.writeUInt16LE(height & 0x3fff, 8);
    }

    const chunk = this.options.maxPayload - 4;
    const pictureId = this.#pictureId;
    for (let offset = 0; offset < vp8.length; offset += chunk) {
      const part = vp8.subarray(offset, offset + chunk);
      const descriptor = Buffer.from([
        0x80 | (offset === 0 ? 0x10 : 0), // X=1, S on the first packet, partition 0
        0x80, // I: picture id present
        0x80 | (pictureId >> 8), // M=1: 15-bit picture id
        pictureId & 0xff,
      ]);
      const last = offset + chunk >= vp8.length;
      const header = new RtpHeader({
        payloadType: 96,
        sequenceNumber: this.#seq,
        timestamp,
        marker: last,
      });
      this.#seq = (this.#seq + 1) & 0xffff;
      const payload = Buffer.concat([descriptor, part]);
      this.stats.packets++;
      this.stats.bytes += payload.length;
      this.#track.writeRtp(new RtpPacket(header, payload));
    }
    this.stats.frames++;
    if (key) this.stats.keyframes++;
    this.#pictureId = (this.#pictureId + 1) & 0x7fff;
  }
}

/** A VP8 "camera" sending one encoding: a Vp8Encoder fed every 1/fps s. */
export class VideoSource {
  readonly options: VideoSourceOptions;
  readonly #encoder: Vp8Encoder;
  readonly #pacer: Pacer;
  #timestamp = randomInt(0, 0xffffffff);

  constructor(track: MediaStreamTrack, options: Partial<VideoSourceOptions> = {}) {
    this.options = { ...defaultVideo, ...options };
    this.#encoder = new Vp8Encoder(track, this.options);
    this.#pacer = new Pacer(1000 / this.options.fps, () => {
      this.#encoder.frame(this.#timestamp);
      this.#timestamp = (this.#timestamp + Math.round(90000 / this.options.fps)) >>> 0;
    });
  }

  get stats(): SourceStats {
    return this.#encoder.stats;
  }

  start(): void {
    this.#pacer.start();
  }

  stop(): void {
    this.#pacer.stop();
  }

  /** The SFU asked for a keyframe (PLI/FIR): the next frame is one (at most one per 300 ms). */
  requestKeyframe(): void {
    this.#encoder.requestKeyframe();
  }
}

/** An Opus "microphone": one packet every ptime with a TOC byte and Opus-sized payload. */
export class AudioSource {
  readonly options: AudioSourceOptions;
  readonly stats: SourceStats = { packets: 0, bytes: 0, frames: 0, keyframes: 0, forcedKeyframes: 0 };
  readonly #track: MediaStreamTrack;
  readonly #pacer: Pacer;
  #seq = randomInt(0, 0xffff);
  #timestamp = randomInt(0, 0xffffffff);

  constructor(track: MediaStreamTrack, options: Partial<AudioSourceOptions> = {}) {
    this.options = { ...defaultAudio, ...options };
    this.#track = track;
    this.#pacer = new Pacer(this.options.ptimeMs, () => this.#packet());
  }

  start(): void {
    this.#pacer.start();
  }

  stop(): void {
    this.#pacer.stop();
  }

  #packet(): void {
    const average = (this.options.bitrate / 8) * (this.options.ptimeMs / 1000);
    const size = Math.max(8, Math.round(average * (0.85 + Math.random() * 0.3)));
    const payload = Buffer.from(filler(size));
    payload[0] = 0x78; // TOC: SILK/CELT hybrid-ish config 15, mono, one frame (20 ms)
    const header = new RtpHeader({ payloadType: 100, sequenceNumber: this.#seq, timestamp: this.#timestamp });
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#timestamp = (this.#timestamp + (48000 * this.options.ptimeMs) / 1000) >>> 0;
    this.stats.packets++;
    this.stats.bytes += payload.length;
    this.stats.frames++;
    this.#track.writeRtp(new RtpPacket(header, payload));
  }
}

/** Offset of the VP8 payload header in an RTP payload that starts a frame (S=1, partition 0). */
function vp8FrameStart(payload: Buffer): number | undefined {
  if (payload.length < 2) return undefined;
  const b0 = payload[0] as number;
  const start = (b0 & 0x10) !== 0 && (b0 & 0x07) === 0;
  if (!start) return undefined;
  let offset = 1;
  if (b0 & 0x80) {
    const x = payload[offset++] as number;
    if (x & 0x80) offset += ((payload[offset] as number) & 0x80) !== 0 ? 2 : 1;
    if (x & 0x40) offset += 1;
    if (x & 0x30) offset += 1;
  }
  return offset < payload.length ? offset : undefined;
}

/** True when a VP8 RTP payload starts a keyframe (descriptor S=1, partition 0, P bit clear). */
export function isVp8Keyframe(payload: Buffer): boolean {
  const offset = vp8FrameStart(payload);
  return offset !== undefined && ((payload[offset] as number) & 0x01) === 0;
}

/**
 * The frame size a VP8 keyframe announces (its uncompressed data chunk: start code 9d 01 2a,
 * then 14-bit width and height), from the RTP payload of its first packet; undefined when the
 * payload does not start a keyframe. This is how a receiver tells which simulcast layer it gets.
 */
export function vp8KeyframeSize(payload: Buffer): { width: number; height: number } | undefined {
  const offset = vp8FrameStart(payload);
  if (offset === undefined || ((payload[offset] as number) & 0x01) !== 0) return undefined;
  if (payload.length < offset + 10) return undefined;
  if (payload[offset + 3] !== 0x9d || payload[offset + 4] !== 0x01 || payload[offset + 5] !== 0x2a)
    return undefined;
  return {
    width: payload.readUInt16LE(offset + 6) & 0x3fff,
    height: payload.readUInt16LE(offset + 8) & 0x3fff,
  };
}

/** Cumulative counters of one received stream; diff two of them for a window. */
export interface StreamSnapshot {
  at: number;
  /** Distinct sequence numbers received. */
  packets: number;
  /** Sequence numbers the stream spanned so far (highest − first + 1, extended). */
  expected: number;
  /** Sequence numbers skipped when a later one arrived (loss before any retransmission). */
  gaps: number;
  /** Arrivals that filled a gap (a NACK retransmission, or reordering). */
  recovered: number;
  duplicates: number;
  /** RTP bytes (header + payload, after SRTP decryption). */
  bytes: number;
  keyframes: number;
  /** Interarrival jitter, ms (RFC 3550 estimate at this moment). */
  jitterMs: number;
  /** Video: width announced by the last keyframe received (the layer now forwarded); 0 before one. */
  width: number;
  /** Video: keyframes received per announced width ("320": 12, …). */
  keyframeWidths: Record<string, number>;
  /** Video: RTP bytes received per width of the keyframe that preceded them. */
  bytesByWidth: Record<string, number>;
}

const WINDOW = 2048;

/** Receive-side statistics of one RTP stream (one consumer / one subscribed feed). */
export class StreamStats {
  readonly kind: 'audio' | 'video';
  readonly clockRate: number;
  firstPacketAt: number | undefined;
  firstKeyframeAt: number | undefined;
  #packets = 0;
  #gaps = 0;
  #recovered = 0;
  #duplicates = 0;
  #bytes = 0;
  #keyframes = 0;
  #base = -1;
  #max = -1;
  #ring = new Int32Array(WINDOW).fill(-1);
  #jitter = 0;
  #lastTransit: number | undefined;
  #lastTimestamp = -1;
  #width = 0;
  #widthSeq = -1;
  #keyframeWidths: Record<string, number> = {};
  #bytesByWidth: Record<string, number> = {};
  /** Called for every keyframe that arrives (first packet), with the width it announces. */
  onKeyframe: ((width: number, arrivalMs: number) => void) | undefined;

  constructor(kind: 'audio' | 'video', clockRate: number) {
    this.kind = kind;
    this.clockRate = clockRate;
  }

  /** Subscribes to a werift track; returns the unsubscribe function. */
  attach(track: MediaStreamTrack): () => void {
    return track.onReceiveRtp.subscribe((packet) => this.add(packet, performance.now())).unSubscribe;
  }

  add(packet: RtpPacket, arrivalMs: number): void {
    const { header, payload } = packet;
    this.firstPacketAt ??= arrivalMs;
    this.#bytes += 12 + header.csrcLength * 4 + payload.length;
    const seq = header.sequenceNumber;
    let ext: number;
    if (this.#max < 0) {
      ext = seq;
      this.#base = seq;
    } else {
      // Extend to the 32-bit value closest to the highest so far.
      const cycle = this.#max - (this.#max & 0xffff);
      ext = cycle + seq;
      if (ext - this.#max > 0x8000) ext -= 0x10000;
      else if (this.#max - ext > 0x8000) ext += 0x10000;
    }
    let inOrder = false;
    if (this.#max < 0 || ext > this.#max) {
      if (this.#max >= 0) {
        const skipped = ext - this.#max - 1;
        this.#gaps += skipped;
        for (let s = Math.max(this.#max + 1, ext - WINDOW + 1); s < ext; s++)
          this.#ring[s & (WINDOW - 1)] = -1;
      }
      this.#max = ext;
      this.#ring[ext & (WINDOW - 1)] = ext;
      this.#packets++;
      inOrder = true;
    } else if (ext < this.#base) {
      return; // from before the stream's first packet: ignore
    } else if (this.#max - ext >= WINDOW) {
      this.#packets++; // too old to check for a duplicate: count it
      this.#recovered++;
    } else if (this.#ring[ext & (WINDOW - 1)] === ext) {
      this.#duplicates++;
      return;
    } else {
      this.#ring[ext & (WINDOW - 1)] = ext;
      this.#packets++;
      this.#recovered++;
    }
    if (this.kind === 'video' && isVp8Keyframe(payload)) {
      this.#keyframes++;
      this.firstKeyframeAt ??= arrivalMs;
      const size = vp8KeyframeSize(payload);
      // The latest keyframe in sequence order tells the layer (a late retransmission of an
      // older one does not).
      if (size && ext >= this.#widthSeq) {
        this.#width = size.width;
        this.#widthSeq = ext;
      }
      const width = String(size?.width ?? 0);
      this.#keyframeWidths[width] = (this.#keyframeWidths[width] ?? 0) + 1;
      this.onKeyframe?.(size?.width ?? 0, arrivalMs);
    }
    if (this.kind === 'video') {
      const width = String(this.#width);
      this.#bytesByWidth[width] =
        (this.#bytesByWidth[width] ?? 0) + 12 + header.csrcLength * 4 + payload.length;
    }
    // Jitter (RFC 3550 6.4.1) over packets in order; several packets of one video frame share a
    // timestamp and leave the sender together, so only the first of each frame counts.
    if (inOrder && header.timestamp !== this.#lastTimestamp) {
      const transit = (arrivalMs * this.clockRate) / 1000 - header.timestamp;
      if (this.#lastTransit !== undefined) {
        let d = Math.abs(transit - this.#lastTransit);
        if (d > 0x80000000) d = Math.abs(d - 0x100000000); // timestamp wrap
        this.#jitter += (d - this.#jitter) / 16;
      }
      this.#lastTransit = transit;
      this.#lastTimestamp = header.timestamp;
    }
  }

  snapshot(at = performance.now()): StreamSnapshot {
    return {
      at,
      packets: this.#packets,
      expected: this.#max < 0 ? 0 : this.#max - this.#base + 1,
      gaps: this.#gaps,
      recovered: this.#recovered,
      duplicates: this.#duplicates,
      bytes: this.#bytes,
      keyframes: this.#keyframes,
      jitterMs: (this.#jitter / this.clockRate) * 1000,
      width: this.#width,
      keyframeWidths: { ...this.#keyframeWidths },
      bytesByWidth: { ...this.#bytesByWidth },
    };
  }
}

/** The difference of two snapshots of one stream (jitter: the later value). */
export function diffSnapshots(a: StreamSnapshot, b: StreamSnapshot): StreamSnapshot {
  return {
    at: b.at - a.at,
    packets: b.packets - a.packets,
    expected: b.expected - a.expected,
    gaps: b.gaps - a.gaps,
    recovered: b.recovered - a.recovered,
    duplicates: b.duplicates - a.duplicates,
    bytes: b.bytes - a.bytes,
    keyframes: b.keyframes - a.keyframes,
    jitterMs: b.jitterMs,
    width: b.width,
    keyframeWidths: diffCounts(a.keyframeWidths, b.keyframeWidths),
    bytesByWidth: diffCounts(a.bytesByWidth, b.bytesByWidth),
  };
}

function diffCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(b)) {
    const d = value - (a[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

/**
 * Runs `change` (e.g. a new view) and resolves with the ms from its start to the first
 * keyframe on `stats` whose width is within [minWidth, maxWidth]; undefined after `timeoutMs`.
 */
export async function timeToKeyframe(
  stats: StreamStats,
  change: () => Promise<void>,
  { minWidth, maxWidth = Infinity, timeoutMs }: { minWidth: number; maxWidth?: number; timeoutMs: number },
): Promise<number | undefined> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const arrived = new Promise<number | undefined>((resolve) => {
    stats.onKeyframe = (width, at) => {
      if (width >= minWidth && width <= maxWidth) resolve(at - started);
    };
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    await change();
    return await arrived;
  } finally {
    clearTimeout(timer);
    stats.onKeyframe = undefined;
  }
}
