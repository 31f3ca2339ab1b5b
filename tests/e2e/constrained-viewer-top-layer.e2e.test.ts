// Browser end-to-end: a constrained viewer does not pull a good viewer down (issue 9: "an
// unconstrained viewer in the same call keeps the top layer"). One Chromium publisher
// sends its 1280x720 camera as simulcast (three layers, 320/640/1280 wide, each with three
// temporal layers); two viewers pin it in a large window, so both views ask its top layer:
//
// - a good viewer, a Chromium on this machine's own network, decodes the 1280-wide top
//   layer;
// - a constrained viewer, a Chromium inside a network namespace whose downlink is limited
//   to 600 kbit/s (tc tbf), is forwarded less than the top layer and keeps decoding, with
//   no gap longer than 2 s.
//
// What this test found in the server (docs/media-adaptation.md, "When the downlink cannot
// carry it"): the constrained viewer's estimate overshot now and then, the switch up froze
// its tile 2.5–3.5 s, and an estimate that collapsed to mediasoup's 30 kbit/s floor forwarded
// nothing for 8 s. The receive transports' estimate floor (150 kbit/s) and the upswitch
// backoff are the answer; the log marks a layer held after a fall with `^layer`.
//
// constrained-network.e2e.test.ts cannot assert the first point: there three 720p
// publishers share one Chromium and the machine is CPU-bound, so whether the top layer is
// sent at all varies from run to run. Here, to make it assertable on 2 shared cores:
//
// - One publisher and two viewers without a camera (about 1.3 cores in all), every page
//   with its microphone off: Chromium's fake microphones and their playout cost more CPU
//   than this test can spare (constrained-network.e2e.test.ts measured it).
// - The publisher's camera is a .y4m loop with fresh noise in every frame (busyCamera):
//   each layer then needs its whole bitrate (the top one 1.5 Mbit/s, like a real camera),
//   which a 600 kbit/s link cannot carry. Chromium's generated camera compresses so well
//   that its top layer needs about 600 kbit/s: the constrained link could carry it.
// - The media worker and each Chromium's network service run at nice -10
//   (prioritizeMediaPath): they timestamp the packets the bandwidth estimators judge, and
//   a scheduling delay of these small processes (about 4 % of a core each) reads as
//   congestion: the publisher's send-side estimate falls below what the top layer needs
//   (the publisher pauses it), the server's estimate of a viewer collapses. In alternating
//   runs under other work (load average 6 to 15, both cores busy), 2 of 13 windows failed
//   with it, 11 of 16 without. A machine saturated by other work still breaks windows.
// - Windows: the viewers are watched for 20 s, sampled every 500 ms; a window that fails
//   is logged and watched again, up to three (problems() says what a window must show).
//   Each window starts with the good viewer on the top layer again.
//
// The log says per sample what each viewer decodes and what the server forwards and
// estimates, and what the publisher sends: enough to tell a server that drags the good
// viewer down from a publisher that stopped sending its top layer or a collapsed estimate.
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { machineBusySeconds, readStat, udpCounters } from '../../bench/load/procstat.js';
import {
  joinRoom,
  keepPeerConnections,
  launchBrowser,
  newParticipantPage,
  statsOf,
} from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { serverParticipants } from '../helpers/server.js';
import { assertMediaFlows, waitForFrameWidth, watchFrames, type FrameWatch } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser({}, { netnsChromium: true });

const PUBLISHER = 'Pia';
const GOOD = 'Gil Good';
const CONSTRAINED = 'Cal Constrained';
const RATE_KBIT = 600;
const WATCH_MS = 20_000;
const SAMPLE_MS = 500;
const MAX_GAP_MS = 2000;
const WINDOWS = 3;
/**
 * The share of a window's samples in which the good viewer must decode the top layer (and
 * the constrained viewer be forwarded less than it). Not 100 %: when the top layer pauses
 * for a moment (the publisher's estimate dips) the server may switch the good viewer back
 * only after the layer has been active for 2 s again (mediasoup's StreamMinActiveMs), and
 * the constrained viewer's estimate overshoots now and then (below). 80 %: a good viewer
 * given the constrained viewer's layer, or a small tile's, scores 0; one that loses the top
 * layer for more than 4 s of the 20 fails the window.
 */
const MIN_SHARE = 0.8;
const MIN_SAMPLES = 10;

let publisherBrowser: Browser | undefined;
let cameraDir: string | undefined;
after(async () => {
  await publisherBrowser?.close();
  if (cameraDir) rmSync(cameraDir, { recursive: true, force: true });
});

/**
 * A 1280x720 15 fps camera loop (2 s of .y4m, 41 MB in a temporary directory): moving
 * stripes under fresh noise in every frame, so that the encoder spends each layer's whole
 * bitrate (it cannot predict the noise from the previous frame).
 */
function busyCamera(): string {
  const [width, height, fps] = [1280, 720, 15];
  cameraDir = mkdtempSync(join(tmpdir(), 'meet-camera-'));
  const path = join(cameraDir, 'busy-720p.y4m');
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
    const frame = Buffer.alloc((width * height * 3) / 2);
    const noise = Buffer.alloc(width * height);
    for (let t = 0; t < 2 * fps; t++) {
      randomFillSync(noise);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const stripe = ((x + y + t * 16) >> 5) & 1 ? 170 : 80;
          frame[y * width + x] = stripe + (noise[y * width + x]! & 31) - 16;
        }
      }
      frame.fill(128, width * height); // grey chroma
      writeSync(fd, 'FRAME\n');
      writeSync(fd, frame);
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** A viewer without a camera that pins PUBLISHER, the chat closed: a main tile of about 1000x560 px. */
async function joinPinned(browser: Browser, roomId: string, name: string): Promise<Page> {
  const { page } = await newParticipantPage(browser, fixture.server.url);
  await page.setViewportSize({ width: 1280, height: 800 });
  await joinRoom(page, roomId, name, { camOn: false, micOn: false });
  await page.getByTestId('toggle-chat').click(); // the stage gets the whole width
  await page.getByRole('button', { name: `Pin ${PUBLISHER}`, exact: true }).click();
  return page;
}

interface Layers {
  spatialLayer: number;
  temporalLayer?: number;
}

/** The server's side of viewer `name`: PUBLISHER's camera consumer, and the viewer's downlink estimate. */
async function serverSide(
  roomId: string,
  name: string,
): Promise<{ current?: Layers; preferred?: Layers; held?: number; bweKbit?: number }> {
  const participants = serverParticipants(fixture.server, roomId);
  const viewer = participants.find((p) => p.displayName === name);
  const publisherId = participants.find((p) => p.displayName === PUBLISHER)?.id;
  const consumer = [...(viewer?.consumers.values() ?? [])].find(
    (c) => c.kind === 'video' && !c.closed && c.appData.peerId === publisherId,
  );
  let bweKbit: number | undefined;
  for (const transport of viewer?.transports.values() ?? []) {
    if (transport.appData.direction !== 'recv' || transport.closed) continue;
    const [stats] = (await transport.getStats()) as Array<{ availableOutgoingBitrate?: number }>;
    if (stats?.availableOutgoingBitrate) bweKbit = Math.round(stats.availableOutgoingBitrate / 1000);
  }
  return {
    current: consumer?.currentLayers,
    preferred: consumer?.preferredLayers,
    held: consumer && viewer?.media?.heldLayer(consumer.id),
    bweKbit,
  };
}

/** One sample of a viewer's PUBLISHER video. */
interface LayerSample {
  /** Decoded frame width (the browser's inbound statistics). */
  width: number;
  /** The server's current layers, `spatial.temporal` ('-': none forwarded). */
  layers: string;
  /** Whether the server forwards less than the top layer in full (2.2), or nothing. */
  belowTop: boolean;
  /** The spatial layer the server holds the video at after a fall (UpswitchBackoff), if any. */
  held: number | undefined;
  /** The server's bandwidth estimate toward this viewer (kbit/s). */
  bweKbit: number | undefined;
}

async function sample(page: Page, roomId: string, name: string): Promise<LayerSample> {
  const [stats, { current, held, bweKbit }] = await Promise.all([statsOf(page), serverSide(roomId, name)]);
  const temporal = (l: Layers | undefined) => l?.temporalLayer ?? 0;
  return {
    width: stats.find((s) => s.displayName === PUBLISHER)?.video?.frameWidth ?? 0,
    layers: current ? `${current.spatialLayer}.${current.temporalLayer ?? '-'}` : '-',
    belowTop: !current || current.spatialLayer < 2 || temporal(current) < 2,
    held,
    bweKbit,
  };
}

/** The publisher's camera, per encoding (rid): frames, key frames and bytes sent so far; its send-side estimate. */
interface PublisherSample {
  at: number;
  frames: Record<string, number>;
  keyFrames: Record<string, number>;
  bytes: Record<string, number>;
  bweKbit: number | undefined;
}

function publisherSample(publisher: Page): Promise<PublisherSample> {
  return publisher.evaluate(async () => {
    const result = {
      at: performance.now(),
      frames: {} as Record<string, number>,
      keyFrames: {} as Record<string, number>,
      bytes: {} as Record<string, number>,
      bweKbit: undefined as number | undefined,
    };
    for (const pc of (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? []) {
      (await pc.getStats()).forEach((e: Record<string, unknown>) => {
        if (e.type === 'outbound-rtp' && e.kind === 'video') {
          result.frames[String(e.rid)] = Number(e.framesEncoded ?? 0);
          result.keyFrames[String(e.rid)] = Number(e.keyFramesEncoded ?? 0);
          result.bytes[String(e.rid)] = Number(e.bytesSent ?? 0);
        }
        if (e.type === 'candidate-pair' && e.nominated && typeof e.availableOutgoingBitrate === 'number')
          result.bweKbit = Math.max(result.bweKbit ?? 0, Math.round(e.availableOutgoingBitrate / 1000));
      });
    }
    return result;
  });
}

/**
 * Between two publisher samples: the encodings that sent frames (0 1 2, K: a key frame
 * among them, -: none), their kbit/s (padding included) and the send-side estimate.
 */
function publisherStep(a: PublisherSample, b: PublisherSample): string {
  const rids = ['r0', 'r1', 'r2'];
  const sent = rids.map((rid) => {
    if ((b.frames[rid] ?? 0) <= (a.frames[rid] ?? 0)) return '-';
    return (b.keyFrames[rid] ?? 0) > (a.keyFrames[rid] ?? 0) ? 'K' : rid[1];
  });
  const kbit = rids.map((rid) =>
    Math.round((((b.bytes[rid] ?? 0) - (a.bytes[rid] ?? 0)) * 8) / Math.max(1, b.at - a.at)),
  );
  return `${sent.join('')}(${kbit.join('+')})@${b.bweKbit ?? '-'}`;
}

/** This process's descendants (the media workers, the Chromiums' processes): pid, name, CPU seconds used. */
function ownProcesses(): Array<{ pid: number; name: string; cpuSeconds: number }> {
  const stats = new Map<number, { name: string; parent: number; cpuSeconds: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      stats.set(Number(entry), readStat(Number(entry)));
    } catch {
      // Gone meanwhile.
    }
  }
  const ours = (pid: number): boolean => {
    for (let p = stats.get(pid)?.parent; p !== undefined && p > 1; p = stats.get(p)?.parent)
      if (p === process.pid) return true;
    return false;
  };
  return [...stats].filter(([pid]) => ours(pid)).map(([pid, s]) => ({ pid, ...s }));
}

/** CPU seconds used so far by this test's processes, and UDP datagrams their sockets dropped (full buffer). */
function ownUsage(): { cpuSeconds: number; socketDrops: number } {
  const result = { cpuSeconds: 0, socketDrops: 0 };
  for (const { pid, cpuSeconds } of ownProcesses()) {
    result.cpuSeconds += cpuSeconds;
    try {
      const inodes = new Set(
        readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
          const link = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          return link ? [link[1]!] : [];
        }),
      );
      if (inodes.size === 0) continue;
      // Each process's own view: the namespace's Chromium has its own table.
      for (const table of ['udp', 'udp6']) {
        for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
          const fields = line.trim().split(/\s+/);
          // The inode is the 10th column, the drops the 13th.
          if (fields.length > 12 && inodes.has(fields[9]!)) result.socketDrops += Number(fields[12]);
        }
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return result;
}

/**
 * Nice -10 for every thread of the media workers and of each Chromium's network service
 * (which receives the UDP packets and stamps their arrival): see the top of the file.
 */
function prioritizeMediaPath(): void {
  const raised: string[] = [];
  for (const { pid, name } of ownProcesses()) {
    let command: string;
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const what = name.startsWith('mediasoup')
      ? 'media worker'
      : command.includes('--utility-sub-type=network.mojom.NetworkService')
        ? 'Chromium network service'
        : undefined;
    if (!what) continue;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        setPriority(Number(task), -10);
      } catch (error) {
        // A thread that ended meanwhile; anything else (not root) is the test's failure.
        if ((error as { info?: { code?: string } }).info?.code !== 'ESRCH') throw error;
      }
    }
    raised.push(`${what} ${pid}`);
  }
  console.log(`nice -10: ${raised.join(', ')}`);
  assert.ok(raised.length >= 3, `a media worker and the viewers' network services: ${raised.join(', ')}`);
}

const compact = (samples: LayerSample[]) =>
  samples
    .map((s) => `${s.width}/${s.layers}${s.held === undefined ? '' : `^${s.held}`}@${s.bweKbit ?? '-'}`)
    .join(' ');

interface Call {
  roomId: string;
  publisher: Page;
  good: Page;
  constrained: Page;
}

/** One watch of both viewers, with what the publisher sent meanwhile. */
interface Watch {
  good: FrameWatch;
  constrained: FrameWatch;
  goodSamples: LayerSample[];
  constrainedSamples: LayerSample[];
}

async function watchBoth(call: Call, label: string): Promise<Watch> {
  const { roomId, publisher, good, constrained } = call;
  const load = loadavg()[0]!.toFixed(1);
  const udp = udpCounters();
  const ownBefore = ownUsage();
  const machineBefore = machineBusySeconds();
  const goodSamples: LayerSample[] = [];
  const constrainedSamples: LayerSample[] = [];
  const publisherSteps: string[] = [];
  let publisherBefore = await publisherSample(publisher);
  const end = Date.now() + WATCH_MS;
  const sampler = (async () => {
    while (Date.now() < end) {
      const [g, c, p] = await Promise.all([
        sample(good, roomId, GOOD),
        sample(constrained, roomId, CONSTRAINED),
        publisherSample(publisher),
      ]);
      goodSamples.push(g);
      constrainedSamples.push(c);
      publisherSteps.push(publisherStep(publisherBefore, p));
      publisherBefore = p;
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
    }
  })();
  const [constrainedWatch, goodWatch] = await Promise.all([
    watchFrames(constrained, [PUBLISHER], WATCH_MS),
    watchFrames(good, [PUBLISHER], WATCH_MS),
    sampler,
  ]);
  const own = ownUsage();
  console.log(
    `${label} (load average ${load} → ${loadavg()[0]!.toFixed(1)}; CPU busy: the machine ` +
      `${(machineBusySeconds() - machineBefore).toFixed(1)} s, this test's processes ` +
      `${(own.cpuSeconds - ownBefore.cpuSeconds).toFixed(1)} s; UDP datagrams dropped for a full ` +
      `receive buffer: the machine ${udpCounters().rcvbufErrors - udp.rcvbufErrors}, this test's ` +
      `sockets ${own.socketDrops - ownBefore.socketDrops})`,
  );
  console.log(
    `  per sample, decoded width/server's layers[^layer held after a fall]@server's estimate (kbit/s):`,
  );
  console.log(`  good viewer: ${compact(goodSamples)}`);
  console.log(`  constrained viewer: ${compact(constrainedSamples)}`);
  console.log(`  publisher, encodings sending (kbit/s each)@send estimate: ${publisherSteps.join(' ')}`);
  const watch = {
    good: goodWatch[PUBLISHER]!,
    constrained: constrainedWatch[PUBLISHER]!,
    goodSamples,
    constrainedSamples,
  };
  console.log(
    `  decoding: good ${JSON.stringify(watch.good)}; constrained ${JSON.stringify(watch.constrained)}`,
  );
  return watch;
}

/**
 * What a window got wrong (empty: it passed). The good viewer's top layer is judged on the
 * decoded width (what it shows). The constrained viewer's lower layer on what the server
 * forwards: mediasoup moves up a spatial layer at its lowest temporal layer first (the 1280
 * layer at a quarter of the frame rate fits in ~600 kbit/s), so a 1280-wide frame there is
 * a lower layer too; what it must not get is its preferred (top) layer in full.
 */
function problems(watch: Watch): string[] {
  const found: string[] = [];
  const want = `want ${MIN_SHARE * 100} %`;
  const top = watch.goodSamples.filter((s) => s.width >= 1280).length;
  const total = watch.goodSamples.length;
  if (total < MIN_SAMPLES || top < MIN_SHARE * total)
    found.push(`the good viewer decoded the 1280-wide top layer in ${top} of ${total} samples (${want})`);
  if (watch.good.longestGapMs > MAX_GAP_MS)
    found.push(`the good viewer froze: ${JSON.stringify(watch.good)}`);
  const lower = watch.constrainedSamples.filter((s) => s.belowTop).length;
  const count = watch.constrainedSamples.length;
  if (count < MIN_SAMPLES || lower < MIN_SHARE * count)
    found.push(
      `the constrained viewer was forwarded less than the top layer in ${lower} of ${count} samples (${want})`,
    );
  if (watch.constrained.framesDecoded === 0 || watch.constrained.longestGapMs > MAX_GAP_MS)
    found.push(`the constrained viewer froze: ${JSON.stringify(watch.constrained)}`);
  return found;
}

test('a good viewer keeps the top layer while a viewer behind 600 kbit/s gets a lower one and keeps decoding', async () => {
  const { netns } = fixture;
  const roomId = `e2e-top-layer-${Date.now()}`;
  await netns.clearConditions();
  await netns.limitRate({ toNamespace: RATE_KBIT });

  publisherBrowser = await launchBrowser({
    secureOrigins: [fixture.server.url],
    fakeVideoFile: busyCamera(),
  });
  const { page: publisher, context } = await newParticipantPage(publisherBrowser, fixture.server.url);
  // Diagnostics only: keep the page's peer connections, to log what the camera sends.
  await keepPeerConnections(context);
  await joinRoom(publisher, roomId, PUBLISHER, { micOn: false });

  const good = await joinPinned(fixture.browser, roomId, GOOD);
  const constrained = await joinPinned(fixture.netnsBrowser, roomId, CONSTRAINED);
  prioritizeMediaPath();
  await assertMediaFlows(constrained, [PUBLISHER], 'constrained viewer', { timeoutMs: 60_000, audio: false });
  // Both views ask the top layer (the same large tile); the constrained link cannot carry
  // it, and the server forwards a lower layer there.
  for (const name of [GOOD, CONSTRAINED]) {
    await waitFor(
      `${name}'s view asks the top layer`,
      () => serverSide(roomId, name),
      // A video held down after a fall (the constrained one) prefers the held layer meanwhile.
      ({ preferred, held }) => preferred?.spatialLayer === 2 || held !== undefined,
    );
  }
  await waitFor(
    'the constrained viewer is forwarded less than it asks',
    () => sample(constrained, roomId, CONSTRAINED),
    (s) => s.belowTop,
    { timeoutMs: 45_000 },
  );

  const call: Call = { roomId, publisher, good, constrained };
  let found: string[] = [];
  for (let attempt = 1; attempt <= WINDOWS; attempt++) {
    await waitForFrameWidth(
      good,
      PUBLISHER,
      (w) => w >= 1280,
      `good viewer: top layer before window ${attempt}`,
      {
        timeoutMs: 60_000,
      },
    );
    found = problems(await watchBoth(call, `window ${attempt}`));
    if (found.length === 0) break;
    console.log(`  window ${attempt}: ${found.join('; ')}`);
  }
  const link = (await netns.conditionStats()).toNamespace;
  console.log(`link: ${JSON.stringify(link)}`);
  assert.deepEqual(found, [], found.join('\n'));
  assert.equal(link.rateKbit, RATE_KBIT);
  assert.ok(link.overlimits > 0, `the limit shaped the traffic: ${JSON.stringify(link)}`);
  await netns.clearConditions();
});
