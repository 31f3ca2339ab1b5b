// The checks that media really flows on a participant page, from its receive statistics
// (`window.__meet.stats()`, statsOf) and send statistics (`window.__meet.outboundStats()`,
// outboundOf):
//
// - assertMediaFlows: between two samples, video frames decoded grow (with a real width)
//   and (unless told otherwise) audio packets grow, for every named remote participant.
//   Fails if media stops.
// - waitForFrameWidth: a remote video (webcam or screen) decodes frames at a width the test
//   expects (a simulcast layer switch, a screen share's resolution).
// - watchFrames: over a while, the longest time a remote video showed no frame (a freeze),
//   from the browser's own inter-frame delays.
// - waitForOutbound: the page's own encodings change as expected between two samples
//   (dynacast pausing or resuming a layer: see encodingGrew).
import type { Frame, Page } from 'playwright-core';
import { outboundOf, statsOf, type OutboundSample, type StatsSample, type VideoStats } from './browser.js';
import { waitFor } from './wait.js';

export { outboundOf };

/** Which remote video of a participant: the webcam (`video`) or the screen share. */
export type VideoSource = 'video' | 'screen';

const byName = (samples: StatsSample[]) => new Map(samples.map((s) => [s.displayName, s]));

export async function assertMediaFlows(
  page: Page | Frame,
  names: string[],
  label: string,
  {
    timeoutMs = 45_000,
    intervalMs = 500,
    audio = true,
  }: {
    timeoutMs?: number;
    intervalMs?: number;
    /** false: video only (participants who joined with the microphone off). */
    audio?: boolean;
  } = {},
): Promise<void> {
  let first = byName(await statsOf(page));
  await waitFor(
    `${label}: media from ${names.join(', ')}`,
    async () => {
      const now = byName(await statsOf(page));
      const missing = names.filter((name) => {
        const a = first.get(name);
        const b = now.get(name);
        return !(
          a?.video &&
          b?.video &&
          b.video.framesDecoded > a.video.framesDecoded &&
          b.video.frameWidth > 0 &&
          (!audio || (a.audio && b.audio && b.audio.packetsReceived > a.audio.packetsReceived))
        );
      });
      first = now;
      return missing;
    },
    (missing) => missing.length === 0,
    { timeoutMs, intervalMs },
  );
}

/**
 * Waits until the remote `source` video of participant `name` decodes frames (framesDecoded
 * grows between two samples of the same consumer) at a width `predicate` accepts; returns
 * that sample. E.g. `waitForFrameWidth(page, 'Bob', (w) => w <= 320, 'Alice: Bob low layer')`.
 */
export async function waitForFrameWidth(
  page: Page,
  name: string,
  predicate: (frameWidth: number, stats: VideoStats) => boolean,
  label: string,
  {
    timeoutMs = 45_000,
    intervalMs = 500,
    source = 'video',
  }: { timeoutMs?: number; intervalMs?: number; source?: VideoSource } = {},
): Promise<VideoStats> {
  let previous: VideoStats | null | undefined;
  const result = await waitFor(
    `${label}: ${source} of ${name} decoding at an expected width`,
    async () => {
      const now = byName(await statsOf(page)).get(name)?.[source] ?? null;
      const before = previous;
      previous = now;
      const decoding =
        !!now &&
        !!before &&
        now.consumerId === before.consumerId &&
        now.framesDecoded > before.framesDecoded &&
        now.frameWidth > 0;
      return { decoding, stats: now };
    },
    ({ decoding, stats }) => decoding && !!stats && predicate(stats.frameWidth, stats),
    { timeoutMs, intervalMs },
  );
  return result.stats as VideoStats;
}

/** What watchFrames saw of one participant's video. */
export interface FrameWatch {
  /**
   * The longest time (ms) between two frames shown, or from the start / to the end of the
   * watch without one. The whole duration when the video was missing throughout.
   */
  longestGapMs: number;
  /** Frames decoded during the watch (over consumer changes). */
  framesDecoded: number;
  /** Smallest and largest frame width seen while frames were decoded (0 if none). */
  minWidth: number;
  maxWidth: number;
  /** Distinct spatial layers seen (null: not reported). */
  spatialLayers: Array<number | null>;
}

/**
 * The longest of `frames` inter-frame delays (ms) that add up to `sum` seconds and whose
 * squares add up to `squares`, at most: the longest is largest when the others are equal
 * (Cauchy–Schwarz). Exact for one long gap among even frames; never less than the truth,
 * and larger only when many frames are summed at once.
 */
export function longestDelayMs(frames: number, sum: number, squares: number): number {
  if (frames <= 1) return Math.sqrt(Math.max(0, squares)) * 1000;
  const spread = Math.max(0, (frames - 1) * (frames * squares - sum * sum));
  return ((sum + Math.sqrt(spread)) / frames) * 1000;
}

/**
 * Samples a page's receive statistics every `intervalMs` for `durationMs` and returns,
 * per name, the longest time no frame of its `source` video was shown, and how many were
 * decoded: for "no freeze longer than 2 s" (`assert.ok(w.Bob.longestGapMs < 2000)`).
 *
 * Between two samples of the same consumer, the gap comes from the browser's own sums of
 * inter-frame delays (totalInterFrameDelay and its squares: longestDelayMs), not from when
 * the samples were taken: on a CPU-starved machine one `getStats` round trip may take
 * seconds while the frames kept coming, and that is the harness, not a freeze. Where the
 * browser has no such sums, across a consumer change, and for the stretch from the last
 * frame to the end of the watch, the sample times are used (coarser, never shorter).
 */
export async function watchFrames(
  page: Page,
  names: string[],
  durationMs: number,
  { intervalMs = 200, source = 'video' }: { intervalMs?: number; source?: VideoSource } = {},
): Promise<Record<string, FrameWatch>> {
  const start = Date.now();
  const state = new Map(
    names.map((name) => [
      name,
      {
        last: null as VideoStats | null,
        lastProgress: start,
        watch: {
          longestGapMs: 0,
          framesDecoded: 0,
          minWidth: 0,
          maxWidth: 0,
          spatialLayers: [],
        } as FrameWatch,
      },
    ]),
  );
  let first = true;
  for (;;) {
    const samples = byName(await statsOf(page));
    const now = Date.now();
    for (const [name, s] of state) {
      const video = samples.get(name)?.[source] ?? null;
      // The first sample is the baseline: frames decoded before the watch do not count.
      const sameConsumer = Boolean(s.last && video && s.last.consumerId === video.consumerId);
      const base = first ? video : sameConsumer ? s.last : null;
      const grown = video ? video.framesDecoded - (base?.framesDecoded ?? 0) : 0;
      if (!first && video && grown > 0) {
        const delays = sameConsumer && s.last ? video.totalInterFrameDelay - s.last.totalInterFrameDelay : 0;
        const gap =
          delays > 0 && s.last
            ? // Not before the watch began: its first frame's delay may reach back further.
              Math.min(
                longestDelayMs(
                  grown,
                  delays,
                  video.totalSquaredInterFrameDelay - s.last.totalSquaredInterFrameDelay,
                ),
                now - start,
              )
            : now - s.lastProgress;
        s.watch.longestGapMs = Math.max(s.watch.longestGapMs, Math.round(gap));
        s.lastProgress = now;
        s.watch.framesDecoded += grown;
        if (video.frameWidth > 0) {
          s.watch.minWidth = s.watch.minWidth
            ? Math.min(s.watch.minWidth, video.frameWidth)
            : video.frameWidth;
          s.watch.maxWidth = Math.max(s.watch.maxWidth, video.frameWidth);
        }
        if (!s.watch.spatialLayers.includes(video.spatialLayer))
          s.watch.spatialLayers.push(video.spatialLayer);
      }
      s.last = video;
    }
    first = false;
    if (now - start >= durationMs) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const end = Date.now();
  const result: Record<string, FrameWatch> = {};
  for (const [name, s] of state) {
    s.watch.longestGapMs = Math.max(s.watch.longestGapMs, end - s.lastProgress);
    s.watch.spatialLayers.sort((a, b) => (a ?? -1) - (b ?? -1));
    result[name] = s.watch;
  }
  return result;
}

/** One encoding of a page's own video in a sample, or undefined. */
export function encodingOf(
  samples: OutboundSample[],
  source: OutboundSample['source'],
  rid: string | null,
): OutboundSample | undefined {
  return samples.find((s) => s.source === source && s.rid === rid);
}

/** Whether encoding `rid` of `source` encoded frames between two samples (false if missing). */
export function encodingGrew(
  before: OutboundSample[],
  after: OutboundSample[],
  source: OutboundSample['source'],
  rid: string | null,
): boolean {
  const a = encodingOf(before, source, rid);
  const b = encodingOf(after, source, rid);
  return !!a && !!b && b.framesEncoded > a.framesEncoded;
}

/**
 * Waits until `predicate` accepts two consecutive samples of the page's send statistics
 * (`intervalMs` apart); returns them. E.g. dynacast pausing the top layer:
 * `waitForOutbound(page, (a, b) => !encodingGrew(a, b, 'webcam', 'r2'), 'Alice: r2 paused')`,
 * and resuming it: `(a, b) => encodingGrew(a, b, 'webcam', 'r2')`.
 */
export async function waitForOutbound(
  page: Page,
  predicate: (before: OutboundSample[], after: OutboundSample[]) => boolean,
  label: string,
  { timeoutMs = 45_000, intervalMs = 1000 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<{ before: OutboundSample[]; after: OutboundSample[] }> {
  let previous = await outboundOf(page);
  return waitFor(
    `${label}: own encodings as expected`,
    async () => {
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      const now = await outboundOf(page);
      const pair = { before: previous, after: now };
      previous = now;
      return pair;
    },
    ({ before, after }) => predicate(before, after),
    { timeoutMs, intervalMs: 0 },
  );
}
