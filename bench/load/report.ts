// Formatting of load results: a summary of one run and the benchmark's Markdown table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LoadResult, Quantiles } from './runner.js';

/** True when `moduleUrl` is the script node was started with (not imported). */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && moduleUrl === pathToFileURL(resolve(script)).href;
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

export const fmt = (value: number, digits = 1): string =>
  Number.isFinite(value) ? value.toFixed(digits) : '–';

const q = (value: Quantiles, digits = 0) =>
  value.n === 0 ? '–' : `${fmt(value.p50, digits)} / ${fmt(value.p95, digits)}`;

export function formatResult(r: LoadResult): string {
  const lines = [
    `target ${r.target}: ${r.rooms} room(s), ${r.publishers} publishers, ${r.subscribers} receive-only, window ${fmt(r.windowSeconds)} s`,
    `  streams (consumers): ${r.activeStreams} active of ${r.expectedStreams} expected${r.inactiveStreams.length ? ` (silent: ${r.inactiveStreams.slice(0, 4).join('; ')}${r.inactiveStreams.length > 4 ? '; …' : ''})` : ''}`,
    `  sent ${fmt(r.sentMbps, 2)} Mbit/s, forwarded (received) ${fmt(r.forwardedMbps, 2)} Mbit/s, delivered ${fmt(r.deliveredPct, 2)} % of the packets sent`,
    `  loss ${fmt(r.lossPct, 3)} % (audio ${fmt(r.lossAudioPct, 3)} %, video ${fmt(r.lossVideoPct, 3)} %; before retransmission ${fmt(r.gapPct, 3)} %), duplicates ${r.duplicates}`,
    `  jitter p50/p95: video ${q(r.videoJitterMs, 1)} ms, audio ${q(r.audioJitterMs, 1)} ms`,
    `  join (connect → first media packet) p50/p95: ${q(r.joinMs)} ms (n=${r.joinMs.n})`,
    `  SFU (pids ${r.sfu.pids.join(', ')}): CPU ${fmt(r.sfu.cpu, 3)} cores, RSS ${fmt(r.sfu.rssMiB)} MiB, ${fmt(r.sfuCpuMsPerMbit, 2)} CPU ms per forwarded Mbit`,
    `  generator: CPU ${fmt(r.generator.cpu, 3)} cores, event-loop delay p99 ${fmt(r.generator.eventLoopDelayP99Ms)} ms, RSS ${fmt(r.generator.rssMiB)} MiB; UDP receive-buffer drops ${r.udpRcvbufErrors}`,
    `  check: ${r.check.ok ? 'every subscriber got audio and video (with a keyframe) from every publisher' : `MISSING ${r.check.missing.length}: ${r.check.missing.slice(0, 5).join('; ')}`}`,
  ];
  const counts = (c: Record<string, number>, digits = 0) =>
    Object.entries(c)
      .map(([k, v]) => `${k}: ${fmt(v, digits)}`)
      .join(', ');
  if (Object.keys(r.sentLayersMbps).length)
    lines.push(`  simulcast sent per rid, Mbit/s (all publishers): ${counts(r.sentLayersMbps, 3)}`);
  if (Object.keys(r.received.keyframesByWidth).length)
    lines.push(
      `  video received: keyframes per width since joining ${counts(r.received.keyframesByWidth)}; bytes in the window per width ${counts(r.received.windowBytesByWidth)}`,
    );
  if (r.errors.length) lines.push(`  errors: ${r.errors.slice(0, 5).join('; ')}`);
  return lines.join('\n');
}

export interface TableRow {
  scenario: string;
  step: string;
  result: LoadResult;
}

export const tableHeader = [
  'scenario',
  'step',
  'SFU',
  'consumers',
  'sent Mbit/s',
  'fwd Mbit/s',
  'delivered %',
  'loss %',
  'audio / video loss %',
  'loss before NACK %',
  'video jitter p95 ms',
  'join p50/p95 ms',
  'SFU CPU (cores)',
  'SFU RSS MiB',
  'SFU CPU ms / fwd Mbit',
  'generator CPU (cores)',
  'UDP rcvbuf drops',
  'media check',
];

export function tableCells({ scenario, step, result: r }: TableRow): string[] {
  return [
    scenario,
    step,
    r.target,
    r.activeStreams === r.expectedStreams
      ? String(r.expectedStreams)
      : `${r.activeStreams}/${r.expectedStreams}`,
    fmt(r.sentMbps, 2),
    fmt(r.forwardedMbps, 1),
    fmt(r.deliveredPct, 2),
    fmt(r.lossPct, 3),
    `${fmt(r.lossAudioPct, 2)} / ${fmt(r.lossVideoPct, 2)}`,
    fmt(r.gapPct, 3),
    r.videoJitterMs.n ? fmt(r.videoJitterMs.p95, 1) : '–',
    q(r.joinMs),
    fmt(r.sfu.cpu, 3),
    fmt(r.sfu.rssMiB, 0),
    fmt(r.sfuCpuMsPerMbit, 2),
    fmt(r.generator.cpu, 2),
    String(r.udpRcvbufErrors),
    r.check.ok ? 'ok' : `${r.check.missing.length} missing`,
  ];
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
