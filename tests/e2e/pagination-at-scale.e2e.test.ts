// Browser end-to-end: a meeting larger than one page. Twelve simulated participants (the
// load tool's werift publishers: synthetic VP8 and Opus, bench/load/participant.ts) and one
// Chromium viewer whose window holds a page of at most 9 tiles. Exactly the on-screen
// participants' video is forwarded to the viewer:
//
// - on the server, the `meet_video_consumers` gauge: `forwarding` equals the page's remote
//   tiles, `off_view` the other publishers, `not_ready` none;
// - in the browser, the inbound video of on-page participants receives packets, that of the
//   off-page ones receives none;
// - turning the page moves which ones are forwarded (both ways checked again);
// - the audio of every participant, on the page or not, keeps arriving.
//
// (The synthetic VP8 is not decodable: the browser side counts packets, not frames.)
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Page } from 'playwright-core';
import { startSimulatedParticipants, type SimulatedParticipants } from '../../bench/load/simulated.js';
import { scrape, valueOf } from '../../server/test/support/metrics.js';
import { joinRoom, newParticipantPage, statsOf, type StatsSample } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const METRICS_TOKEN = 'pagination-metrics-token-0123456789';
const fixture = useServerAndBrowser({ METRICS_TOKEN });

const SIMULATED = 12;
let crowd: SimulatedParticipants | undefined;
after(async () => {
  await crowd?.close();
});

/** The server's video consumers by view state (the only viewer is the browser: the simulated ones only send). */
async function videoConsumers(): Promise<{ forwarding: number; offView: number; notReady: number }> {
  const metrics = await scrape(new URL('/metrics', fixture.server.url).href, METRICS_TOKEN);
  const state = (s: string) => valueOf(metrics, 'meet_video_consumers', { state: s }) ?? -1;
  return { forwarding: state('forwarding'), offView: state('off_view'), notReady: state('not_ready') };
}

/** Peer ids of the remote camera tiles on the viewer's page. */
function pageWebcams(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid="tile"][data-source="webcam"]')
    .evaluateAll((tiles) => tiles.map((t) => t.getAttribute('data-peer-id') ?? '').sort());
}

/** Whose video and whose audio received packets on the viewer between two samples 2 s apart. */
async function receiving(page: Page): Promise<{ video: string[]; audio: string[] }> {
  const grew = (a: StatsSample[], b: StatsSample[], kind: 'video' | 'audio') =>
    b
      .filter((now) => {
        const before = a.find((s) => s.peerId === now.peerId);
        if (kind === 'audio')
          return (now.audio?.packetsReceived ?? 0) > (before?.audio?.packetsReceived ?? 0);
        const is = now.video;
        const was = before?.video;
        if (!is) return false;
        // A new consumer (another consumerId) counts from zero.
        return is.packetsReceived > (was && was.consumerId === is.consumerId ? was.packetsReceived : 0);
      })
      .map((s) => s.peerId)
      .sort();
  const a = await statsOf(page);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const b = await statsOf(page);
  return { video: grew(a, b, 'video'), audio: grew(a, b, 'audio') };
}

test('a call larger than a page forwards exactly the on-screen videos, and every voice', async () => {
  const roomId = `e2e-big-${Date.now()}`;
  const started = Date.now();
  // The bulk: simulated publishers with simulcast cameras (low bitrates: their werift stacks
  // share this process with the test), fewer and larger audio packets.
  crowd = await startSimulatedParticipants({
    baseUrl: fixture.server.url,
    roomId,
    count: SIMULATED,
    names: Array.from({ length: SIMULATED }, (_, i) => `Sim ${String(i + 1).padStart(2, '0')}`),
    layersKbps: [80, 200, 500],
    video: { fps: 10 },
    audio: { ptimeMs: 60 },
  });
  const simulated = crowd.participants;
  const everyone = simulated.map((p) => p.id).sort();
  console.log(`${SIMULATED} simulated publishers joined in ${Date.now() - started} ms`);

  // The viewer: no camera of its own, chat closed, a window that holds fewer than 13 tiles.
  const { page: viewer } = await newParticipantPage(fixture.browser, fixture.server.url);
  await viewer.setViewportSize({ width: 900, height: 560 });
  await joinRoom(viewer, roomId, 'Vera Viewer', { camOn: false });
  if ((await viewer.getByTestId('chat-panel').count()) > 0) await viewer.getByTestId('toggle-chat').click();
  await viewer.getByTestId('page-controls').waitFor({ timeout: 30_000 });
  const pageSize = Number(await viewer.getByTestId('grid').getAttribute('data-page-size'));
  const pageCount = Math.ceil((SIMULATED + 1) / pageSize);
  console.log(`page size ${pageSize}, ${pageCount} pages`);
  assert.ok(pageSize >= 2 && pageSize <= 9, `a page of at most 9 tiles (${pageSize})`);
  assert.equal(await viewer.getByTestId('page-indicator').innerText(), `Page 1 of ${pageCount}`);

  /** Checks the page shown: its remote tiles, and only they, are forwarded (server and browser). */
  const checkPage = async (label: string, expectedTiles: number): Promise<string[]> => {
    const onPage = await waitFor(
      `${label}: ${expectedTiles} remote camera tiles`,
      () => pageWebcams(viewer),
      (ids) => ids.length === expectedTiles,
    );
    const gauge = await waitFor(
      `${label}: the server forwards ${onPage.length} videos, pauses ${SIMULATED - onPage.length}`,
      videoConsumers,
      (g) => g.forwarding === onPage.length && g.offView === SIMULATED - onPage.length && g.notReady === 0,
      { timeoutMs: 30_000 },
    );
    const flow = await waitFor(
      `${label}: video packets arrive for exactly the page's participants, audio for everyone`,
      () => receiving(viewer),
      (r) =>
        JSON.stringify(r.video) === JSON.stringify(onPage) &&
        JSON.stringify(r.audio) === JSON.stringify(everyone),
      { timeoutMs: 30_000, intervalMs: 0 },
    );
    // Nobody views the off-page cameras: their publishers are told to send no encoding.
    const sending = await waitFor(
      `${label}: the off-page publishers are asked to send no video, the on-page ones some`,
      async () => crowd!.sent(),
      (sent) =>
        sent.every((s) =>
          onPage.includes(s.id) ? (s.maxSpatialLayer ?? -1) >= 0 : s.maxSpatialLayer === -1,
        ),
      { timeoutMs: 30_000 },
    );
    console.log(
      `${label}: publishers' highest encodings ${JSON.stringify(sending.map((s) => s.maxSpatialLayer))}`,
    );
    console.log(
      `${label}: ${onPage.length} on the page; gauge ${JSON.stringify(gauge)}; video packets from ${flow.video.length}, audio from ${flow.audio.length}`,
    );
    return onPage;
  };

  const page1 = await checkPage('page 1', pageSize - 1); // ourselves first, on page 1
  await viewer.getByRole('button', { name: 'Next page' }).click();
  await waitFor(
    'page 2',
    () => viewer.getByTestId('page-indicator').innerText(),
    (text) => text === `Page 2 of ${pageCount}`,
  );
  const page2 = await checkPage('page 2', Math.min(pageSize, SIMULATED + 1 - pageSize));
  assert.deepEqual(
    page2.filter((id) => page1.includes(id)),
    [],
    'page 2 shows other participants than page 1',
  );
  await viewer.getByRole('button', { name: 'Previous page' }).click();
  const back = await checkPage('page 1 again', pageSize - 1);
  assert.deepEqual(back, page1);
});
