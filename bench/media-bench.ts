// The media-plane benchmark (`npm run bench`): the load tool (bench/load/) against this
// platform's SFU and, in the same run on the same machine, against Janus VideoRoom, in
// three scenarios, plus the browser join time. Prints one table (and a side-by-side of the
// two SFUs) and writes everything to JSON. It only measures and records: nothing here
// passes or fails on a number. See docs/performance.md.
//
//   npm run bench -- [--url URL] [--scenarios meeting,webinar,rooms,browser] [--sfu meet,janus]
//                    [--duration 6] [--warmup 2] [--threads 2] [--quick] [--out FILE]
//                    [--doc docs/performance.md]     (rewrite its results section from this run)
//   npm run bench -- --from-json bench-results/media-bench.json --doc docs/performance.md
//
// Scenarios:
//   meeting  one room, N participants all publishing audio + video and receiving all
//            others, N = 4, 8, 12, 16 (stops after the first N with loss > 1 %)
//   webinar  one publisher, receive-only subscribers added in steps until loss > 1 %
//   rooms    rooms of 4 such participants added in steps until loss > 1 %
//   browser  Chromium, Join click → first decoded remote frame, median of 10 joins
//   adaptive meetings of 9, 16, 25 through a 3x3 page: simulcast + setView + dynacast against
//            one 800 kbit/s encoding received by everyone, both also on Janus (simulcast +
//            substream per tile, no dynacast) (bench/adaptive.ts; not in the default list:
//            --scenarios adaptive, or add it to the list)
//            [--adaptive-sizes 9,16,25] [--viewers 3] [--layers-kbps 150,500,1500]
//            [--baseline-kbps 800] [--switch-samples 12]
//   spread   the same meeting (N = 6, 10, all publishing a camera and a microphone, everyone
//            receiving everyone) on our server with 2 workers, once on one router and once
//            spread over two routers on the two workers (producers piped between them): the
//            CPU per forwarded Mbit of each and their ratio (bench/spread.ts; this platform
//            only, not in the default list: --scenarios spread --sfu meet)
//            [--spread-sizes 6,10] [--spread-repeats 1] [--spread-video-kbps 200]
//            [--spread-modes one-router,two-routers,two-nodes] (two-nodes: two server
//            processes sharing PostgreSQL and a Redis started for the run)
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  adaptiveTable,
  defaultAdaptiveOptions,
  runAdaptiveMode,
  simulcastLayersFromKbps,
  type AdaptiveOptions,
  type AdaptiveStep,
} from './adaptive.js';
import { measureBrowserJoins, chromiumVersion, type BrowserJoinResult } from './browser-join.js';
import { janusVersion, startJanus, type JanusServer } from './load/janus.js';
import { defaultAudio, defaultVideo } from './load/media.js';
import { meetTarget } from './load/meet-target.js';
import {
  fmt,
  isMain,
  markdownTable,
  tableCells,
  tableHeader,
  writeJson,
  type TableRow,
} from './load/report.js';
import { LoadSession, type LoadResult, type Target } from './load/runner.js';
import { startMeetServer } from './load/server-process.js';
import {
  defaultSpreadOptions,
  runSpread,
  spreadNotes,
  spreadRatios,
  spreadTable,
  type SpreadResult,
} from './spread.js';

type Scenario = 'meeting' | 'webinar' | 'rooms' | 'browser' | 'adaptive' | 'spread';
type Sfu = 'meet' | 'janus';

export interface BenchOptions {
  url: string | undefined;
  scenarios: Scenario[];
  sfus: Sfu[];
  duration: number;
  warmup: number;
  threads: number;
  meetingSizes: number[];
  webinarSteps: number[];
  roomSteps: number[];
  browserJoins: number;
  lossLimitPct: number;
  adaptive: Omit<AdaptiveOptions, 'duration' | 'warmup' | 'log'>;
  spread: typeof defaultSpreadOptions;
  out: string | null;
  log: (line: string) => void;
}

export interface ScenarioRun {
  scenario: Exclude<Scenario, 'browser' | 'adaptive' | 'spread'>;
  sfu: Sfu;
  steps: Array<{ step: string; result: LoadResult }>;
  /** Why the scenario stopped where it did. */
  limit: string;
}

export interface BenchResult {
  startedAt: string;
  machine: Record<string, unknown>;
  method: Record<string, unknown>;
  runs: ScenarioRun[];
  browser: BrowserJoinResult | { error: string } | null;
  janus: { version: string } | { error: string } | null;
  /** The adaptive scenario: its options and steps (absent when it did not run). */
  adaptive?: {
    options: BenchOptions['adaptive'];
    /** Warm-up after the viewers set their view (absent in runs before it was recorded: 3). */
    warmupSeconds?: number;
    steps: AdaptiveStep[];
    table: string;
  } | null;
  /** The spread scenario (absent when it did not run). */
  spread?: SpreadResult | null;
  table: string;
  sideBySide: string;
  notes: string[];
}

/**
 * Why a step's loss exceeded the limit: the generator (the kernel dropped datagrams at its
 * full sockets), the machine's CPU (generator + SFU use every core, the SFU lost packets
 * itself), or the SFU's own CPU.
 */
export function lossCause(r: LoadResult): string {
  const cores = os.availableParallelism();
  const usage = `generator CPU ${fmt(r.generator.cpu, 2)} cores, SFU ${fmt(r.sfu.cpu, 2)} cores, of ${cores} cores`;
  const packetsPerSecond = (r.forwardedMbps * 1e6) / 8 / 700; // rough: ~700 bytes per packet
  if (r.udpRcvbufErrors > 0.001 * packetsPerSecond * r.windowSeconds || r.udpRcvbufErrors > 1000)
    return `the load generator: the kernel dropped ${r.udpRcvbufErrors} datagrams at its full sockets (${usage})`;
  if (r.generator.cpu + r.sfu.cpu > 0.9 * cores)
    return `the machine's CPU: generator and SFU together use nearly all cores and the SFU itself did not deliver (no socket drops; ${usage})`;
  if (r.sfu.cpu > 0.9) return `the SFU's CPU (${usage})`;
  return `undetermined (no socket drops; ${usage})`;
}

/**
 * Warm-up of the adaptive scenario after the views are set: longer than the server's 3 s
 * hold before it lowers what a publisher sends (dynacast), so that the window sees the
 * publishers after it.
 */
function adaptiveWarmup(options: BenchOptions): number {
  return Math.max(options.warmup, 5);
}

async function runScenario(
  scenario: ScenarioRun['scenario'],
  sfu: Sfu,
  target: Target,
  options: BenchOptions,
): Promise<ScenarioRun> {
  const run: ScenarioRun = { scenario, sfu, steps: [], limit: '' };
  const { log } = options;
  const measure = async (session: LoadSession, step: string) => {
    const result = await session.measure({ duration: options.duration, warmup: options.warmup });
    run.steps.push({ step, result });
    log(
      `  ${sfu} ${scenario} ${step}: ${fmt(result.forwardedMbps)} Mbit/s forwarded, loss ${fmt(result.lossPct, 3)} %, SFU CPU ${fmt(result.sfu.cpu, 3)} cores, generator ${fmt(result.generator.cpu, 2)} cores${result.check.ok ? '' : `, ${result.check.missing.length} streams missing`}${result.inactiveStreams.length ? `, ${result.inactiveStreams.length} silent in the window (${result.inactiveStreams.slice(0, 3).join('; ')}…)` : ''}`,
    );
    return result;
  };
  const tag = `${sfu}-${Date.now().toString(36)}`;
  // Loss as RTP defines it: sequence numbers never received (delivered % is shown beside it,
  // but is too coarse near the generator's limit to decide on).
  const stopIfLossy = (result: LoadResult, step: string): boolean => {
    if (result.lossPct <= options.lossLimitPct) return false;
    run.limit = `loss ${fmt(result.lossPct, 2)} % > ${options.lossLimitPct} % at ${step}; cause: ${lossCause(result)}`;
    return true;
  };
  try {
    if (scenario === 'meeting') {
      for (const n of options.meetingSizes) {
        const session = new LoadSession(target);
        try {
          await session.addToRoom(`meeting-${n}-${tag}`, { publishers: n, subscribers: 0 });
          const result = await measure(session, `N=${n}`);
          if (stopIfLossy(result, `N=${n}`)) break;
        } finally {
          await session.close();
        }
      }
    } else if (scenario === 'webinar') {
      const session = new LoadSession(target);
      const roomId = `webinar-${tag}`;
      try {
        await session.addToRoom(roomId, { publishers: 1, subscribers: 0 });
        let joined = 0;
        for (const subscribers of options.webinarSteps) {
          await session.addToRoom(roomId, { publishers: 0, subscribers: subscribers - joined }, 4);
          joined = subscribers;
          const result = await measure(session, `1→${subscribers}`);
          if (stopIfLossy(result, `${subscribers} subscribers`)) break;
        }
      } finally {
        await session.close();
      }
    } else {
      const session = new LoadSession(target);
      try {
        let rooms = 0;
        for (const count of options.roomSteps) {
          const ids = Array.from({ length: count - rooms }, (_, i) => `small-${rooms + i + 1}-${tag}`);
          await session.addRooms(ids, { publishers: 4, subscribers: 0 }, 4);
          rooms = count;
          const result = await measure(session, `${count}×4`);
          if (stopIfLossy(result, `${count} rooms`)) break;
        }
      } finally {
        await session.close();
      }
    }
  } catch (error) {
    run.limit = `stopped by an error: ${(error as Error).message}`;
    log(`  ${sfu} ${scenario}: ${run.limit}`);
  }
  if (!run.limit)
    run.limit =
      sfu === 'janus'
        ? `every step carried (loss ≤ ${options.lossLimitPct} %); Janus runs only the steps measured on this platform`
        : `every step carried (loss ≤ ${options.lossLimitPct} %); the last step is the end of the list`;
  return run;
}

function sideBySide(runs: ScenarioRun[]): string {
  const rows: string[][] = [];
  for (const meet of runs.filter((r) => r.sfu === 'meet')) {
    const janus = runs.find((r) => r.sfu === 'janus' && r.scenario === meet.scenario);
    if (!janus) continue;
    for (const { step, result: m } of meet.steps) {
      const j = janus.steps.find((s) => s.step === step)?.result;
      if (!j) continue;
      rows.push([
        meet.scenario,
        step,
        `${fmt(m.sfuCpuMsPerMbit, 2)} / ${fmt(j.sfuCpuMsPerMbit, 2)}`,
        fmt(m.sfuCpuMsPerMbit / j.sfuCpuMsPerMbit, 2),
        `${fmt(m.sfu.cpu, 3)} / ${fmt(j.sfu.cpu, 3)}`,
        `${fmt(m.deliveredPct, 2)} / ${fmt(j.deliveredPct, 2)}`,
        `${fmt(m.lossPct, 3)} / ${fmt(j.lossPct, 3)}`,
        j.lossPct > 0 ? fmt(m.lossPct / j.lossPct, 2) : m.lossPct > 0 ? '∞' : '– (both 0)',
        `${fmt(m.sfu.rssMiB, 0)} / ${fmt(j.sfu.rssMiB, 0)}`,
        `${fmt(m.joinMs.p50, 0)} / ${fmt(j.joinMs.p50, 0)}`,
        `${fmt(m.forwardedMbps, 1)} / ${fmt(j.forwardedMbps, 1)}`,
      ]);
    }
  }
  return markdownTable(
    [
      'scenario',
      'step',
      'CPU ms / fwd Mbit: meet / janus',
      'ratio',
      'SFU CPU cores: meet / janus',
      'delivered %: meet / janus',
      'loss %: meet / janus',
      'loss ratio',
      'RSS MiB: meet / janus',
      'join p50 ms: meet / janus',
      'fwd Mbit/s: meet / janus',
    ],
    rows,
  );
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const { log } = options;
  const startedAt = new Date().toISOString();
  const runs: ScenarioRun[] = [];
  const notes: string[] = [];
  let browser: BenchResult['browser'] = null;
  let janusInfo: BenchResult['janus'] = null;
  // A fresh SFU for every scenario, so that its memory (RSS) is that scenario's alone. Ours:
  // one worker, whose CPU is then the SFU's unambiguously; rooms of up to 500 (the default
  // cap of 50 participants would end the webinar at 49 subscribers).
  const meetServer = async (): Promise<{ url: string; metricsToken?: string; close(): Promise<void> }> => {
    if (options.url) return { url: options.url, close: async () => undefined };
    const server = await startMeetServer({ MEDIA_WORKERS: '1', MAX_PEERS_PER_ROOM: '500' });
    log(`server started at ${server.url}, one mediasoup worker (pid ${server.workerPids.join(', ')})`);
    return server;
  };
  const media = { video: {}, audio: {} };
  const load = options.scenarios.filter(
    (s): s is ScenarioRun['scenario'] => s !== 'browser' && s !== 'adaptive' && s !== 'spread',
  );
  if (options.sfus.includes('meet')) {
    for (const scenario of load) {
      const server = await meetServer();
      const target = meetTarget(server.url, media, options.threads, server.metricsToken);
      try {
        log(`meet: ${scenario}`);
        runs.push(await runScenario(scenario, 'meet', target, options));
      } finally {
        await target.close?.();
        await server.close();
      }
    }
  }
  if (options.sfus.includes('janus')) {
    for (const scenario of load) {
      let janus: JanusServer;
      try {
        janus = await startJanus();
        janusInfo = { version: janus.version };
        log(`janus ${janus.version} started (pid ${janus.pid})`);
      } catch (error) {
        janusInfo = { error: (error as Error).message };
        notes.push(`Janus could not be started: ${(error as Error).message}`);
        log(`janus: ${(error as Error).message}`);
        break;
      }
      const target = janus.target(media, options.threads);
      try {
        // The same steps as this platform's run, no further (the comparison is per step).
        const steps = runs.find((r) => r.sfu === 'meet' && r.scenario === scenario)?.steps.length;
        const limited: BenchOptions = {
          ...options,
          meetingSizes: steps ? options.meetingSizes.slice(0, steps) : options.meetingSizes,
          webinarSteps: steps ? options.webinarSteps.slice(0, steps) : options.webinarSteps,
          roomSteps: steps ? options.roomSteps.slice(0, steps) : options.roomSteps,
        };
        log(`janus: ${scenario}`);
        runs.push(await runScenario(scenario, 'janus', target, limited));
      } finally {
        await target.close?.();
        await janus.close();
      }
    }
  }
  let adaptive: BenchResult['adaptive'] = null;
  if (options.scenarios.includes('adaptive') && options.sfus.includes('meet')) {
    // Both modes, the adaptive one first, each on a fresh server of ours (one worker) and
    // then, when asked for, on a fresh Janus with the same media: simulcast cameras and
    // viewers that set their view in the adaptive mode (Janus has no dynacast: its
    // publishers send every encoding), one encoding and no view in the baseline.
    const steps: AdaptiveStep[] = [];
    const runOptions = {
      ...options.adaptive,
      duration: options.duration,
      warmup: adaptiveWarmup(options),
      log,
    };
    let janusUnavailable = false;
    for (const mode of ['adaptive', 'baseline'] as const) {
      // No transport-cc in either mode: werift's feedback would make mediasoup's bandwidth
      // estimate, not the view, choose the layers (see bench/load/participant.ts).
      const modeMedia =
        mode === 'adaptive'
          ? { simulcast: options.adaptive.layers, audio: {}, transportCc: false }
          : { video: { bitrate: options.adaptive.baselineBitrate }, audio: {}, transportCc: false };
      const server = await meetServer();
      const target = meetTarget(server.url, modeMedia, options.threads, server.metricsToken);
      try {
        log(`meet: adaptive scenario, ${mode}`);
        steps.push(...(await runAdaptiveMode(target, mode, runOptions)));
      } finally {
        await target.close?.();
        await server.close();
      }
      if (!options.sfus.includes('janus') || janusUnavailable) continue;
      let janus: JanusServer;
      try {
        janus = await startJanus();
      } catch (error) {
        janusUnavailable = true;
        notes.push(`adaptive scenario: Janus could not be started: ${(error as Error).message}`);
        continue;
      }
      janusInfo = { version: janus.version };
      const janusTarget = janus.target(modeMedia, options.threads);
      try {
        log(`janus ${janus.version}: adaptive scenario, ${mode}`);
        steps.push(...(await runAdaptiveMode(janusTarget, mode, runOptions)));
      } finally {
        await janusTarget.close?.();
        await janus.close();
      }
    }
    adaptive = {
      options: options.adaptive,
      warmupSeconds: adaptiveWarmup(options),
      steps,
      table: adaptiveTable(steps),
    };
  }
  let spread: SpreadResult | null = null;
  if (options.scenarios.includes('spread') && options.sfus.includes('meet')) {
    // Servers of its own (two workers, the placement set per case): not with --url.
    if (options.url) notes.push('spread scenario: not run against --url (it starts servers of its own)');
    else
      spread = await runSpread({
        ...options.spread,
        duration: options.duration,
        warmup: options.warmup,
        threads: options.threads,
        log,
      });
  }
  if (options.scenarios.includes('browser')) {
    log('browser join time');
    const server = await meetServer();
    try {
      browser = await measureBrowserJoins({ baseUrl: server.url, joins: options.browserJoins, log });
    } catch (error) {
      browser = { error: (error as Error).message };
      log(`browser: ${(error as Error).message}`);
    } finally {
      await server.close();
    }
  }

  const rows: TableRow[] = runs.flatMap((run) =>
    run.steps.map(({ step, result }) => ({ scenario: run.scenario, step, result })),
  );
  const table = markdownTable(tableHeader, rows.map(tableCells));
  const result: BenchResult = {
    startedAt,
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
      kernel: os.release(),
      node: process.version,
      mediasoup: (
        JSON.parse(
          readFileSync(new URL('../node_modules/mediasoup/package.json', import.meta.url), 'utf8'),
        ) as {
          version: string;
        }
      ).version,
      janus: (() => {
        try {
          return janusVersion();
        } catch {
          return 'not installed';
        }
      })(),
      chromium: chromiumVersion(),
    },
    method: {
      mediasoupWorkers: options.url ? 'as configured on the target server' : 1,
      generatorThreads: options.threads,
      windowSeconds: options.duration,
      warmupSeconds: options.warmup,
      lossLimitPct: options.lossLimitPct,
      video: defaultVideo,
      audio: defaultAudio,
    },
    runs,
    browser,
    janus: janusInfo,
    adaptive,
    spread,
    table,
    sideBySide: sideBySide(runs),
    notes,
  };
  if (options.out) writeJson(options.out, result);
  return result;
}

export function printBench(result: BenchResult, log: (line: string) => void = console.log): void {
  if (result.runs.length) {
    log('');
    log(result.table);
    log('');
  }
  for (const run of result.runs) log(`limit ${run.sfu} ${run.scenario}: ${run.limit}`);
  if (result.adaptive) {
    log('');
    log(
      'Adaptive scenario (3x3 page; adaptive = simulcast + setView + dynacast, baseline = one encoding, no view):',
    );
    log(result.adaptive.table);
  }
  if (result.spread) {
    log('');
    log(
      'Spread scenario (one room, MEDIA_WORKERS=2: one router on one worker, or two routers on the two workers; two-nodes: two servers of one worker each, sharing Redis and PostgreSQL):',
    );
    log(result.spread.table);
    log('');
    log(result.spread.ratios);
    for (const error of result.spread.errors) log(`spread error: ${error}`);
    for (const note of result.spread.notes) log(`spread note: ${note}`);
  }
  if (result.sideBySide.split('\n').length > 2) {
    log('');
    log('Side by side (same load generator, same machine; ratio = meet / janus, < 1: meet uses less):');
    log(result.sideBySide);
  }
  if (result.browser) {
    log('');
    log(
      'error' in result.browser
        ? `browser join: ${result.browser.error}`
        : `browser join (Join click → first decoded remote frame, ${result.browser.chromium}): median ${fmt(result.browser.medianMs, 0)} ms of ${result.browser.joins} joins (min ${fmt(result.browser.minMs, 0)}, max ${fmt(result.browser.maxMs, 0)})`,
    );
  }
  for (const note of result.notes) log(`note: ${note}`);
}

const DOC_START = '<!-- bench:results:start -->';
const DOC_END = '<!-- bench:results:end -->';

/** The results section of docs/performance.md, rendered from a run (never typed by hand). */
export function renderResultsMarkdown(result: BenchResult): string {
  const m = result.machine;
  const lines = [
    `Run of ${result.startedAt}: ${String(m.cpu)}, ${String(m.cores)} cores, ${String(m.memoryGiB)} GiB, Linux ${String(m.kernel)}, Node ${String(m.node)}, mediasoup ${String(m.mediasoup)} (${String(result.method.mediasoupWorkers)} worker), Janus ${String(m.janus)}, ${String(m.chromium)}. Window ${String(result.method.windowSeconds)} s after ${String(result.method.warmupSeconds)} s of warm-up; load generator in ${String(result.method.generatorThreads)} threads.`,
    '',
    result.table,
    '',
    'Where each scenario stopped:',
    '',
    ...result.runs.map((run) => `- ${run.sfu} ${run.scenario}: ${run.limit}`),
  ];
  if (result.sideBySide.split('\n').length > 2) {
    lines.push(
      '',
      'Side by side, per step measured on both (same generator, same machine, one after the other); ratio = meet / janus, below 1 means this platform uses less:',
      '',
      result.sideBySide,
    );
  }
  if (result.browser) {
    lines.push(
      '',
      'error' in result.browser
        ? `Browser join: ${result.browser.error}`
        : `Browser join (Join click → first decoded remote video frame, ${result.browser.chromium}, fake devices): median **${fmt(result.browser.medianMs, 0)} ms** of ${result.browser.joins} joins (min ${fmt(result.browser.minMs, 0)}, max ${fmt(result.browser.maxMs, 0)}; samples ${result.browser.samplesMs.map((v) => fmt(v, 0)).join(', ')} ms).`,
    );
  }
  for (const note of result.notes) lines.push('', `Note: ${note}`);
  return lines.join('\n');
}

const ADAPTIVE_START = '<!-- bench:adaptive:start -->';
const ADAPTIVE_END = '<!-- bench:adaptive:end -->';

/** The adaptive scenario's results section, rendered from a run. */
export function renderAdaptiveMarkdown(result: BenchResult): string {
  const m = result.machine;
  const a = result.adaptive;
  if (!a) return '';
  const o = a.options;
  const layers = o.layers.map((l) => `${l.width}x${l.height} ${fmt(l.bitrate / 1000, 0)}`).join(' / ');
  const lines = [
    `Run of ${result.startedAt}: ${String(m.cpu)}, ${String(m.cores)} cores, Linux ${String(m.kernel)}, Node ${String(m.node)}, mediasoup ${String(m.mediasoup)} (1 worker). Window ${String(result.method.windowSeconds)} s after ${String(a.warmupSeconds ?? 3)} s of warm-up (from the viewers' setView); load generator in ${String(result.method.generatorThreads)} threads. Page ${String(o.page.columns)}x${String(o.page.rows)} on ${String(o.page.width)}x${String(o.page.height)}; adaptive: layers ${layers} kbit/s; baseline: one 640x360 encoding at ${fmt(o.baselineBitrate / 1000, 0)} kbit/s; ${String(o.switchSamples)} pins per size.`,
    '',
    a.table,
  ];
  const notes = a.steps.flatMap((s) => {
    const label = `${s.sfu} ${s.mode} N=${String(s.size)}`;
    const r = s.result;
    const out = s.notes.map((n) => `${label}: ${n}`);
    // Nominal uplink of a publisher shown on a page: its camera (the lowest layer when
    // adapted) and its microphone.
    const nominal =
      (s.mode === 'adaptive' ? (o.layers[0]?.bitrate ?? 0) : o.baselineBitrate) / 1e6 +
      Number((result.method.audio as { bitrate?: number } | undefined)?.bitrate ?? 32_000) / 1e6;
    const sentShare = s.uplinkOnPageMbps.mean / nominal;
    if (r.lossPct > 1 || sentShare < 0.9)
      out.push(
        `${label}: not a measurement of the SFU: loss ${fmt(r.lossPct, 1)} %, ${String(r.udpRcvbufErrors)} datagrams dropped at the generator's full sockets, publishers sent ${fmt(100 * sentShare, 0)} % of their nominal rate, while the machine's CPU was ${fmt(r.machineCpu, 2)} of ${String(m.cores)} cores (generator ${fmt(r.generator.cpu, 2)}, SFU ${fmt(r.sfu.cpu, 2)}): the load generator, short of CPU, was the limit`,
      );
    return out;
  });
  if (notes.length) lines.push('', 'Notes of the run:', '', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

const SPREAD_START = '<!-- bench:spread:start -->';
const SPREAD_END = '<!-- bench:spread:end -->';

/** The spread scenario's results section, rendered from a run. */
export function renderSpreadMarkdown(result: BenchResult): string {
  const m = result.machine;
  const s = result.spread;
  if (!s) return '';
  const o = s.options;
  const lines = [
    `Run of ${result.startedAt}: ${String(m.cpu)}, ${String(m.cores)} cores, Linux ${String(m.kernel)}, Node ${String(m.node)}, mediasoup ${String(m.mediasoup)} (one server with 2 workers; two-nodes: two servers with 1 worker each, sharing Redis and PostgreSQL, producers piped between them over SRTP on loopback). Window ${String(o.duration)} s after ${String(o.warmup)} s of warm-up; load generator in ${String(o.threads)} threads. Each participant: one 640x360 VP8 encoding at ${fmt(o.videoBitrate / 1000, 0)} kbit/s and Opus at ${fmt(o.audioBitrate / 1000, 0)} kbit/s; ${String(o.repeats)} run(s) per case.`,
    '',
    s.table,
    '',
    s.ratios,
  ];
  const notes = [...s.errors.map((e) => `failed: ${e}`), ...s.notes];
  if (notes.length) lines.push('', 'Notes of the run:', '', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

function replaceSection(text: string, path: string, startMarker: string, endMarker: string, body: string) {
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error(`${path} has no ${startMarker} … ${endMarker} section`);
  return `${text.slice(0, start + startMarker.length)}\n\n${body}\n\n${text.slice(end)}`;
}

/**
 * Replaces the results sections (between their markers) of a Markdown file: the main one
 * when the run had its scenarios, the adaptive one when it had that scenario.
 */
export function updateDoc(path: string, result: BenchResult): void {
  let text = readFileSync(path, 'utf8');
  if (result.runs.length > 0 || result.browser)
    text = replaceSection(text, path, DOC_START, DOC_END, renderResultsMarkdown(result));
  if (result.adaptive)
    text = replaceSection(text, path, ADAPTIVE_START, ADAPTIVE_END, renderAdaptiveMarkdown(result));
  if (result.spread)
    text = replaceSection(text, path, SPREAD_START, SPREAD_END, renderSpreadMarkdown(result));
  writeFileSync(path, text);
}

export function parseBenchArgs(
  args: string[],
): BenchOptions & { doc: string | undefined; fromJson: string | undefined } {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      scenarios: { type: 'string', default: 'meeting,webinar,rooms,browser' },
      sfu: { type: 'string', default: 'meet,janus' },
      duration: { type: 'string', default: '6' },
      warmup: { type: 'string', default: '2' },
      threads: { type: 'string', default: String(Math.max(1, Math.min(4, os.availableParallelism()))) },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results/media-bench.json' },
      doc: { type: 'string' },
      'from-json': { type: 'string' },
      'adaptive-sizes': { type: 'string', default: defaultAdaptiveOptions.sizes.join(',') },
      viewers: { type: 'string', default: String(defaultAdaptiveOptions.viewers) },
      'layers-kbps': {
        type: 'string',
        default: defaultAdaptiveOptions.layers.map((l) => l.bitrate / 1000).join(','),
      },
      'baseline-kbps': { type: 'string', default: String(defaultAdaptiveOptions.baselineBitrate / 1000) },
      'switch-samples': { type: 'string', default: String(defaultAdaptiveOptions.switchSamples) },
      'spread-sizes': { type: 'string', default: defaultSpreadOptions.sizes.join(',') },
      'spread-repeats': { type: 'string', default: String(defaultSpreadOptions.repeats) },
      'spread-modes': { type: 'string', default: defaultSpreadOptions.modes.join(',') },
      'spread-video-kbps': { type: 'string', default: String(defaultSpreadOptions.videoBitrate / 1000) },
    },
  });
  const numbers = (value: string, name: string) => {
    const items = value.split(',').map(Number);
    if (items.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${name}: positive integers`);
    return items;
  };
  const list = <T extends string>(value: string, allowed: readonly T[], name: string): T[] => {
    const items = value.split(',').map((s) => s.trim()) as T[];
    for (const item of items) if (!allowed.includes(item)) throw new Error(`--${name}: unknown "${item}"`);
    return items;
  };
  const quick = values.quick;
  return {
    url: values.url,
    scenarios: list(
      values.scenarios,
      ['meeting', 'webinar', 'rooms', 'browser', 'adaptive', 'spread'] as const,
      'scenarios',
    ),
    sfus: list(values.sfu, ['meet', 'janus'] as const, 'sfu'),
    duration: quick ? 3 : Number(values.duration),
    warmup: quick ? 1 : Number(values.warmup),
    threads: Number(values.threads),
    meetingSizes: quick ? [4, 8] : [4, 8, 12, 16],
    webinarSteps: quick ? [10, 25] : [10, 25, 50, 100, 150, 200, 250, 300],
    roomSteps: quick ? [2, 4] : [2, 4, 6, 8, 10, 12, 16, 20],
    browserJoins: quick ? 3 : 10,
    lossLimitPct: 1,
    adaptive: {
      ...defaultAdaptiveOptions,
      sizes: quick ? [9] : numbers(values['adaptive-sizes'], 'adaptive-sizes'),
      viewers: numbers(values.viewers, 'viewers')[0] as number,
      layers: simulcastLayersFromKbps(numbers(values['layers-kbps'], 'layers-kbps')),
      baselineBitrate: (numbers(values['baseline-kbps'], 'baseline-kbps')[0] as number) * 1000,
      switchSamples: quick ? 4 : (numbers(values['switch-samples'], 'switch-samples')[0] as number),
    },
    spread: {
      ...defaultSpreadOptions,
      sizes: quick ? [6] : numbers(values['spread-sizes'], 'spread-sizes'),
      repeats: numbers(values['spread-repeats'], 'spread-repeats')[0] as number,
      modes: list(
        values['spread-modes'],
        ['one-router', 'two-routers', 'two-nodes'] as const,
        'spread-modes',
      ),
      videoBitrate: (numbers(values['spread-video-kbps'], 'spread-video-kbps')[0] as number) * 1000,
    },
    out: values.out === '' ? null : values.out,
    log: console.log,
    doc: values.doc,
    fromJson: values['from-json'],
  };
}

if (isMain(import.meta.url)) {
  const options = parseBenchArgs(process.argv.slice(2));
  let result: BenchResult;
  if (options.fromJson) {
    // Render again from a recorded run (e.g. after a change of the table's columns).
    result = JSON.parse(readFileSync(options.fromJson, 'utf8')) as BenchResult;
    const rows = result.runs.flatMap((run) =>
      run.steps.map(({ step, result: r }) => ({ scenario: run.scenario, step, result: r })),
    );
    result.table = markdownTable(tableHeader, rows.map(tableCells));
    result.sideBySide = sideBySide(result.runs);
    if (result.adaptive) result.adaptive.table = adaptiveTable(result.adaptive.steps);
    if (result.spread) {
      result.spread.table = spreadTable(result.spread.cases);
      result.spread.ratios = spreadRatios(result.spread.cases);
      result.spread.notes = spreadNotes(result.spread.cases);
      result.spread.errors ??= [];
    }
  } else {
    result = await runBench(options);
  }
  printBench(result);
  if (options.out && !options.fromJson) console.log(`\nwrote ${options.out}`);
  if (options.doc) {
    updateDoc(options.doc, result);
    console.log(`updated the results section of ${options.doc}`);
  }
  // werift leaves timers of closed connections behind for a while.
  setTimeout(() => process.exit(0), 500).unref();
}
