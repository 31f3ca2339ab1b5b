// The adaptive scenario of the media benchmark (`npm run bench -- --scenarios adaptive`):
// meetings of 9, 16 and 25 people seen through a 3x3 page, once with adaptation (simulcast
// cameras, viewers that set their view, dynacast) and once without (one 640x360 encoding at
// 800 kbit/s per camera, no view: everyone receives everyone), on the same server build in the
// same run. Measures the download per viewer, the publishers' uplink, the layer switch time
// when a tile grows (and shrinks), and the SFU's CPU per forwarded megabit. The same modes
// run on Janus VideoRoom for comparison (bench/load/janus.ts): there the adaptive mode is
// simulcast with each viewer's substream chosen per tile and off-page videos paused, but no
// dynacast (Janus never tells a publisher what is viewed: every encoding is always sent).
//
// The generator cannot carry 25 full werift participants on 2 cores (each would decrypt 24
// streams), so a meeting of N is N publishers of which only `viewers` (k) also receive and are
// measured; the N − k others publish only. Every publisher's camera is viewed or not as the
// k viewers' pages decide, exactly as in a meeting of N where the other N − k participants'
// pages showed the same people.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ParticipantHandle, ParticipantReport, PeerTile } from './load/participant.js';
import { fmt, markdownTable } from './load/report.js';
import { LoadSession, quantiles, type LoadResult, type Quantiles, type Target } from './load/runner.js';
import { defaultSimulcastLayers, simulcastLayersFromKbps, type SimulcastLayer } from './load/simulcast.js';

export type AdaptiveMode = 'adaptive' | 'baseline';

export interface AdaptiveOptions {
  /** Meeting sizes (participants, all publishing). */
  sizes: number[];
  /** Participants per meeting that also receive (the measured viewers). */
  viewers: number;
  /** The page: columns × rows of tiles on a viewport of width × height device pixels. */
  page: { columns: number; rows: number; width: number; height: number };
  /** Simulcast layers of the adaptive run (lowest first). */
  layers: SimulcastLayer[];
  /** The single encoding of the baseline, payload bit/s. */
  baselineBitrate: number;
  /** Layer switches measured per meeting size (tile grows, then shrinks again). */
  switchSamples: number;
  duration: number;
  warmup: number;
  log: (line: string) => void;
}

export const defaultAdaptiveOptions: Omit<AdaptiveOptions, 'duration' | 'warmup' | 'log'> = {
  sizes: [9, 16, 25],
  viewers: 3,
  page: { columns: 3, rows: 3, width: 1280, height: 720 },
  layers: defaultSimulcastLayers,
  baselineBitrate: 800_000,
  switchSamples: 12,
};

export { simulcastLayersFromKbps };

export interface Mean {
  mean: number;
  min: number;
  max: number;
  n: number;
}

function mean(values: number[]): Mean {
  if (values.length === 0) return { mean: NaN, min: NaN, max: NaN, n: 0 };
  return {
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

export interface AdaptiveStep {
  mode: AdaptiveMode;
  sfu: string;
  size: number;
  viewers: number;
  /** 'set': the viewers' setView was accepted; otherwise why not (or 'none' for the baseline). */
  view: string;
  result: LoadResult;
  /** RTP received per viewer (audio + video, headers included), Mbit/s. */
  downloadPerViewerMbps: Mean;
  /** Video streams that received packets during the window, per viewer. */
  videoStreamsPerViewer: Mean;
  /** Share of the viewers' received video bytes per layer width ("320": 98.5 %, …). */
  receivedWidthsPct: Record<string, number>;
  /** RTP payload each publisher sent (audio + video), Mbit/s: shown on some page / on none. */
  uplinkOnPageMbps: Mean;
  uplinkOffPageMbps: Mean;
  /** A publisher whose tile is pinned (top layer viewed), held 3 s: RTP payload sent, Mbit/s. */
  uplinkPinnedMbps: number | undefined;
  /** The same per encoding (rid → Mbit/s). */
  uplinkPinnedByRidMbps: Record<string, number>;
  /** setView with a grown tile → first packet of a top-layer keyframe, ms. */
  switchUpMs: Quantiles;
  /** setView with the tile small again → first packet of a lowest-layer keyframe, ms. */
  switchDownMs: Quantiles;
  switchTimeouts: number;
  /** Errors of the step (setView refused, …). */
  notes: string[];
}

export interface AdaptiveRun {
  options: Omit<AdaptiveOptions, 'log'>;
  steps: AdaptiveStep[];
}

/** The tile size of a page (gaps of 8 px between tiles and around them, 16:9 video). */
export function pageTileSize(page: AdaptiveOptions['page']): { width: number; height: number } {
  const gap = 8;
  const cellW = (page.width - gap * (page.columns + 1)) / page.columns;
  const cellH = (page.height - gap * (page.rows + 1)) / page.rows;
  const width = Math.floor(Math.min(cellW, (cellH * 16) / 9));
  return { width, height: Math.floor((width * 9) / 16) };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Payload bytes sent by a report's sources over two reports, Mbit/s. */
function sentMbps(a: ParticipantReport, b: ParticipantReport): number {
  const seconds = (b.at - a.at) / 1000;
  return seconds > 0 ? ((b.sentBytes - a.sentBytes) * 8) / seconds / 1e6 : NaN;
}

/** Runs one meeting size in one mode on a target; the session is closed afterwards. */
async function runStep(
  target: Target,
  mode: AdaptiveMode,
  size: number,
  options: AdaptiveOptions,
  tag: string,
): Promise<AdaptiveStep> {
  const { log } = options;
  const k = Math.min(options.viewers, size);
  const session = new LoadSession(target);
  const notes: string[] = [];
  try {
    const roomId = `adaptive-${mode}-${size}-${tag}`;
    // Viewers first (they are the first tiles of each other's pages), then the bulk.
    const viewers = await session.addToRoom(roomId, { publishers: k, subscribers: 0 });
    const senders = await session.addToRoom(roomId, { publishers: 0, subscribers: 0, senders: size - k });
    const everyone: ParticipantHandle[] = [...viewers, ...senders];
    if (!(await session.waitForMedia(20))) notes.push('not every stream had media after 20 s');

    // Each viewer's page: the first page-size others, in joining order; the rest off-page.
    const tile = pageTileSize(options.page);
    const perPage = options.page.columns * options.page.rows;
    const pages = viewers.map((v) =>
      everyone
        .filter((p) => p !== v)
        .slice(0, perPage)
        .map((p) => p.id),
    );
    const onPage = new Set(pages.flat());
    const pageTiles = (page: string[], pinned?: string): PeerTile[] =>
      page.map((peerId) =>
        peerId === pinned
          ? { peerId, width: options.page.width, height: options.page.height }
          : { peerId, ...tile },
      );
    let view = 'none';
    if (mode === 'adaptive') {
      try {
        await Promise.all(viewers.map((v, i) => v.setView?.(pageTiles(pages[i] as string[]))));
        view = 'set';
      } catch (error) {
        view = `setView failed: ${(error as Error).message}`;
        notes.push(view);
      }
    }

    let windowReports: { start: ParticipantReport[]; end: ParticipantReport[] } | undefined;
    const result = await session.measure({
      duration: options.duration,
      warmup: options.warmup,
      settle: 0,
      onReports: (start, end) => (windowReports = { start, end }),
    });
    const { start, end } = windowReports as { start: ParticipantReport[]; end: ParticipantReport[] };
    const members = session.members;
    const downloads: number[] = [];
    const videoStreams: number[] = [];
    const widthBytes: Record<string, number> = {};
    members.forEach((member, i) => {
      if (!member.subscribe) return;
      const a = start[i] as ParticipantReport;
      const b = end[i] as ParticipantReport;
      const seconds = (b.at - a.at) / 1000;
      let bytes = 0;
      let active = 0;
      b.streams.forEach((stream, j) => {
        const before = a.streams[j]?.snapshot;
        bytes += stream.snapshot.bytes - (before?.bytes ?? 0);
        if (stream.kind !== 'video') return;
        if (stream.snapshot.packets - (before?.packets ?? 0) > 0) active++;
        for (const [width, value] of Object.entries(stream.snapshot.bytesByWidth)) {
          widthBytes[width] = (widthBytes[width] ?? 0) + value - (before?.bytesByWidth[width] ?? 0);
        }
      });
      downloads.push((bytes * 8) / seconds / 1e6);
      videoStreams.push(active);
    });
    const totalVideo = sum(Object.values(widthBytes));
    const receivedWidthsPct = Object.fromEntries(
      Object.entries(widthBytes)
        .filter(([, v]) => v > 0)
        .map(([w, v]) => [w, (100 * v) / totalVideo]),
    );
    const uplinkOn: number[] = [];
    const uplinkOff: number[] = [];
    members.forEach((member, i) => {
      if (!member.publish) return;
      const mbps = sentMbps(start[i] as ParticipantReport, end[i] as ParticipantReport);
      (onPage.has(member.participant.id) ? uplinkOn : uplinkOff).push(mbps);
    });

    // Layer switches: a viewer pins one of its page's tiles (it grows to the whole viewport),
    // then unpins it; a different viewer and tile each time. Between samples the SFU has time
    // to tell the publisher that nobody views its top layer any more (dynacast pauses it).
    const up: number[] = [];
    const down: number[] = [];
    let timeouts = 0;
    let uplinkPinnedMbps: number | undefined;
    const uplinkPinnedByRidMbps: Record<string, number> = {};
    if (mode === 'adaptive' && view === 'set') {
      const top = options.layers[options.layers.length - 1] as SimulcastLayer;
      const bottom = options.layers[0] as SimulcastLayer;
      for (let j = 0; j < options.switchSamples; j++) {
        const v = j % viewers.length;
        const viewer = viewers[v] as ParticipantHandle;
        const page = pages[v] as string[];
        const pinned = page[j % page.length] as string;
        const upMs = await viewer.measureLayerSwitch?.({
          tiles: pageTiles(page, pinned),
          peerId: pinned,
          minWidth: top.width,
          timeoutMs: 10_000,
        });
        if (upMs === undefined) timeouts++;
        else up.push(upMs);
        if (j === 0) {
          // What the pinned publisher sends while its top layer is viewed.
          await sleep(1000);
          const index = members.findIndex((m) => m.participant.id === pinned);
          const a = (await members[index]?.participant.report()) as ParticipantReport;
          await sleep(3000);
          const b = (await members[index]?.participant.report()) as ParticipantReport;
          uplinkPinnedMbps = sentMbps(a, b);
          for (const layer of b.sentVideoLayers ?? []) {
            const before = a.sentVideoLayers?.find((l) => l.rid === layer.rid)?.bytes ?? 0;
            uplinkPinnedByRidMbps[layer.rid] = ((layer.bytes - before) * 8) / ((b.at - a.at) / 1000) / 1e6;
          }
        }
        const downMs = await viewer.measureLayerSwitch?.({
          tiles: pageTiles(page),
          peerId: pinned,
          minWidth: 0,
          maxWidth: bottom.width,
          timeoutMs: 10_000,
        });
        if (downMs === undefined) timeouts++;
        else down.push(downMs);
        await sleep(1500);
      }
    }
    const step: AdaptiveStep = {
      mode,
      sfu: target.name,
      size,
      viewers: k,
      view,
      result,
      downloadPerViewerMbps: mean(downloads),
      videoStreamsPerViewer: mean(videoStreams),
      receivedWidthsPct,
      uplinkOnPageMbps: mean(uplinkOn),
      uplinkOffPageMbps: mean(uplinkOff),
      uplinkPinnedMbps,
      uplinkPinnedByRidMbps,
      switchUpMs: quantiles(up),
      switchDownMs: quantiles(down),
      switchTimeouts: timeouts,
      notes: [...notes, ...result.errors.slice(0, 5)],
    };
    log(
      `  ${target.name} ${mode} N=${size} (${k} measured viewers): download ${fmt(step.downloadPerViewerMbps.mean, 2)} Mbit/s per viewer, ` +
        `${fmt(step.videoStreamsPerViewer.mean, 1)} videos, uplink on page ${fmt(step.uplinkOnPageMbps.mean, 3)} / off page ${fmt(step.uplinkOffPageMbps.mean, 3)} Mbit/s, ` +
        `switch up p50/p95 ${fmt(step.switchUpMs.p50, 0)}/${fmt(step.switchUpMs.p95, 0)} ms (n=${up.length}, ${timeouts} timeouts), ` +
        `SFU ${fmt(result.sfu.cpu, 3)} cores, ${fmt(result.sfuCpuMsPerMbit, 2)} ms/Mbit, generator ${fmt(result.generator.cpu, 2)} cores, machine ${fmt(result.machineCpu, 2)} cores, ` +
        `loss ${fmt(result.lossPct, 3)} %, rcvbuf drops ${result.udpRcvbufErrors}${notes.length ? `; ${notes.join('; ')}` : ''}`,
    );
    return step;
  } finally {
    await session.close();
  }
}

/**
 * Runs every size in one mode against `target` (a server started for this mode). Returns
 * the steps measured; a step that fails is logged and ends the mode.
 */
export async function runAdaptiveMode(
  target: Target,
  mode: AdaptiveMode,
  options: AdaptiveOptions,
): Promise<AdaptiveStep[]> {
  const steps: AdaptiveStep[] = [];
  const tag = Date.now().toString(36);
  for (const size of options.sizes) {
    try {
      steps.push(await runStep(target, mode, size, options, tag));
    } catch (error) {
      options.log(`  ${target.name} ${mode} N=${size}: stopped by an error: ${(error as Error).message}`);
      break;
    }
  }
  return steps;
}

const widths = (r: Record<string, number>) =>
  Object.entries(r)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([w, pct]) => `${w === '0' ? '?' : w}: ${fmt(pct, 0)} %`)
    .join(', ') || '–';

const q = (value: Quantiles) => (value.n === 0 ? '–' : `${fmt(value.p50, 0)} / ${fmt(value.p95, 0)}`);

export const adaptiveHeader = [
  'N',
  'mode',
  'SFU',
  'viewers measured',
  'download per viewer Mbit/s (min–max)',
  'videos received per viewer',
  'received video by layer width',
  'uplink per publisher Mbit/s: on a page / on none',
  'uplink, tile pinned Mbit/s',
  'switch up p50 / p95 ms',
  'switch down p50 / p95 ms',
  'loss %',
  'fwd Mbit/s',
  'SFU CPU (cores)',
  'SFU CPU ms / fwd Mbit',
  'generator CPU (cores)',
  'machine CPU (cores, all processes)',
  'UDP rcvbuf drops',
];

export function adaptiveCells(s: AdaptiveStep): string[] {
  const r = s.result;
  return [
    String(s.size),
    s.mode === 'baseline'
      ? 'baseline'
      : s.view !== 'set'
        ? 'simulcast, no view'
        : s.sfu === 'janus'
          ? 'simulcast + view, no dynacast'
          : 'adaptive',
    s.sfu,
    `${s.viewers} of ${s.size}`,
    `${fmt(s.downloadPerViewerMbps.mean, 2)} (${fmt(s.downloadPerViewerMbps.min, 2)}–${fmt(s.downloadPerViewerMbps.max, 2)})`,
    `${fmt(s.videoStreamsPerViewer.mean, 1)} of ${s.size - 1}`,
    widths(s.receivedWidthsPct),
    `${fmt(s.uplinkOnPageMbps.mean, 3)} / ${s.uplinkOffPageMbps.n ? fmt(s.uplinkOffPageMbps.mean, 3) : '–'}`,
    s.uplinkPinnedMbps === undefined
      ? '–'
      : `${fmt(s.uplinkPinnedMbps, 3)} (${Object.entries(s.uplinkPinnedByRidMbps)
          .map(([rid, v]) => `${rid} ${fmt(v, 2)}`)
          .join(', ')})`,
    `${q(s.switchUpMs)}${s.switchUpMs.n ? ` (n=${s.switchUpMs.n})` : ''}`,
    `${q(s.switchDownMs)}${s.switchTimeouts ? ` (${s.switchTimeouts} timeouts)` : ''}`,
    fmt(r.lossPct, 3),
    fmt(r.forwardedMbps, 1),
    fmt(r.sfu.cpu, 3),
    fmt(r.sfuCpuMsPerMbit, 2),
    fmt(r.generator.cpu, 2),
    fmt(r.machineCpu, 2),
    String(r.udpRcvbufErrors),
  ];
}

export function adaptiveTable(steps: AdaptiveStep[]): string {
  const sorted = [...steps].sort(
    (a, b) => a.size - b.size || a.mode.localeCompare(b.mode) || b.sfu.localeCompare(a.sfu),
  );
  return markdownTable(adaptiveHeader, sorted.map(adaptiveCells));
}
