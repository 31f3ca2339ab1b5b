// Browser end-to-end: eight participants in one room (no two-person or four-person limit).
// Every page must decode video and receive audio from each of the seven others.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage, statsOf } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';

const fixture = useServerAndBrowser();
const warnings: string[] = [];

// Skipped (since 2026-12-03): eight pages saturate this 2-core machine (load average 28-35)
// and some path fails to flow within 180 s in about half the runs here. Two causes so far:
// - Found and fixed on 2026-12-04: every page's `consume` of the last joiner's camera timed
//   out in the browser (protoo's ~22 s) while the busy server still made the consumer; the
//   page never asked again and that camera reached nobody. The web app now asks again and the
//   server answers a repeat with the same consumer (consume-retry.e2e.test.ts proves it).
// - Still open: in a run after that fix (2026-12-04, load 28), 55 of 56 paths flowed; P7's
//   page showed P8's tile with video on and the server forwarded it, but P7's inbound P8
//   video or audio did not grow between two samples within 180 s. Alone, runs passed in 228
//   and 324 s and failed twice (before the fix: the consume timeout; after it: this).
// - Since then (2026-12-04, with a page that reconnects also joining again when its join gets
//   no answer): 4 of 4 runs alone passed, in 200, 268, 335 and 227 s. One unexplained failure
//   in the six runs since the consume fix is still too many for CI.
// Run it by hand: MEET_RUN_EIGHT=1 node --import tsx --test tests/e2e/eight-participants.e2e.test.ts
// On failure the test logs what the server forwards, what each camera sends, the pages'
// warnings (a retried consume shows there) and what each page shows.
test(
  'eight participants in one room all receive each other',
  {
    skip: process.env.MEET_RUN_EIGHT
      ? false
      : 'a path may fail to flow on 2 saturated cores: see the comment above',
  },
  async () => {
    const roomId = `e2e-eight-${Date.now()}`;
    const names = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8'];
    const pages: Page[] = [];
    for (const name of names) {
      const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
      // For a failure's log: what each page warned of (a consume or a view that failed).
      page.on('console', (message) => {
        if (message.type() === 'warning' || message.type() === 'error')
          warnings.push(`${name}: ${message.text().slice(0, 300)}`);
      });
      page.on('pageerror', (error) => warnings.push(`${name}: page error ${error.message.slice(0, 300)}`));
      // Eight pages each decoding seven videos saturate two cores: the later pages load and
      // join slowly (30 s was seen not to be enough for the name field to appear). What is
      // asserted is that media flows on every path, not how fast a crowded machine loads.
      page.setDefaultTimeout(90_000);
      await joinRoom(page, roomId, name, { timeoutMs: 90_000 });
      // The chat closed, all eight tiles fit one grid page of the 960x600 page: every video is
      // on screen, so every video is forwarded (an off-page one would be paused on the server).
      await page.getByTestId('toggle-chat').click();
      pages.push(page);
    }

    // Generous: at a load average of 30 (these pages alone, in a fresh-clone run) 43 of the 56
    // paths flowed after 90 s. Every path must flow; how soon is not what this test measures.
    const deadline = Date.now() + 180_000;
    const progress = new Map<number, Map<string, { frames: number; audio: number }>>();
    const done = new Set<string>();
    while (done.size < names.length * (names.length - 1)) {
      if (Date.now() > deadline) {
        const missing = names.flatMap((to) =>
          names.filter((from) => from !== to && !done.has(`${to}<-${from}`)).map((from) => `${to}<-${from}`),
        );
        await logWhyMissing(roomId, pages, names);
        assert.fail(
          `media not flowing on every path after 180 s; flowing: ${done.size}/${names.length * (names.length - 1)}; missing: ${missing.join(' ')}`,
        );
      }
      for (const [i, page] of pages.entries()) {
        const previous = progress.get(i) ?? new Map();
        const now = new Map<string, { frames: number; audio: number }>();
        for (const sample of await statsOf(page)) {
          const frames = sample.video?.frameWidth ? sample.video.framesDecoded : 0;
          const audio = sample.audio?.packetsReceived ?? 0;
          now.set(sample.displayName, { frames, audio });
          const before = previous.get(sample.displayName);
          if (before && frames > before.frames && audio > before.audio)
            done.add(`${names[i]}<-${sample.displayName}`);
        }
        progress.set(i, now);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }

    for (const warning of warnings) console.log(`[eight] page warned: ${warning}`);
    const room = fixture.server.app.rooms.get(roomId);
    assert.equal(room?.joinedParticipants().length, 8);
    // 8 peers x 7 others x (audio + video) consumers on the server.
    const consumers = [...(room?.participants.values() ?? [])].reduce((n, p) => n + p.consumers.size, 0);
    assert.equal(consumers, 8 * 7 * 2);
  },
);

/** What the server forwards to each page and what each page shows, for a failure's log. */
async function logWhyMissing(roomId: string, pages: Page[], names: string[]): Promise<void> {
  const room = fixture.server.app.rooms.get(roomId);
  const participants = [...(room?.participants.values() ?? [])];
  const nameOf = new Map(participants.map((p) => [p.id, p.displayName]));
  for (const viewer of participants) {
    const video = [...viewer.consumers.values()]
      .filter((c) => c.kind === 'video')
      .map(
        (c) =>
          `${nameOf.get(c.appData.peerId)}:${c.closed ? 'closed' : c.paused ? 'paused' : c.producerPaused ? 'producer-paused' : 'on'}`,
      );
    console.log(`[eight] server → ${viewer.displayName}: ${video.join(' ')}`);
  }
  // What each camera sends the server (per encoding: kbit/s and score), and the highest layer
  // the server asks of it (dynacast, -1: nobody views it).
  for (const owner of participants) {
    for (const producer of owner.producers.values()) {
      if (producer.kind !== 'video' || producer.closed) continue;
      const stats = await producer.getStats().catch(() => []);
      const sent = stats
        .map((s) => `${s.rid ?? s.ssrc}:${Math.round(s.bitrate / 1000)}k/${s.score}`)
        .join(' ');
      console.log(
        `[eight] ${owner.displayName}'s camera (worker ${owner.media?.place.workerIndex}): asked layer ${owner.media?.roomMedia.wantedLayer(producer.id)}, ` +
          `paused ${producer.paused}, sends ${sent || 'nothing'}`,
      );
    }
  }
  for (const warning of warnings) console.log(`[eight] page warned: ${warning}`);
  for (const [i, page] of pages.entries()) {
    const tiles = await page
      .locator('[data-testid="tile"]')
      .evaluateAll(
        (els) =>
          els.map((el) => `${el.getAttribute('data-name')}:${el.getAttribute('data-video')}`).join(' '),
        undefined,
      )
      .catch((err: unknown) => String(err));
    console.log(`[eight] ${names[i]} shows: ${tiles}`);
  }
}
