// Browser end-to-end: who is speaking, as every participant sees it. One participant's
// fake microphone plays speech (a WAV from espeak-ng), the two others' play silence (a WAV
// of zeros: not Chromium's default beep, which would make them speak too). The server's
// audio levels and active speaker reach every page: the speaker's tile is marked speaking
// on the others' pages (and their own self tile on theirs), the silent ones never are, and
// speaker view's main tile is the speaker on the others' pages.
//
// The silent participants are in the fixture's Chromium (fakeAudio: 'silence'), the
// speaker in a Chromium of its own (the fake microphone is per browser process).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { speechWav } from '../helpers/audio-files.js';
import { joinRoom, launchBrowser, newParticipantPage, statsOf } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser({}, { fakeAudio: 'silence' });

// Launched by the test (root-level `before` hooks do not wait for the fixture's).
let speechBrowser: Browser | undefined;
after(async () => {
  await speechBrowser?.close();
});

const SPEAKER = 'Sam Speaker';
const SILENT = ['Quinn Quiet', 'Mo Mute'];

/** The names on this page's tiles that are marked speaking (self tile: "self"). */
function speakingTiles(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid="tile"][data-speaking="true"]')
    .evaluateAll((tiles) =>
      tiles.map((t) =>
        t.getAttribute('data-source') === 'self' ? 'self' : (t.getAttribute('data-name') ?? ''),
      ),
    );
}

test('every page marks the participant with the speech microphone as the speaker', async () => {
  const roomId = `e2e-speaker-${Date.now()}`;
  speechBrowser = await launchBrowser({ fakeAudioFile: await speechWav() });

  // The silent ones join first, so the speaker is not the first camera on their pages
  // (speaker view shows the first camera while nobody speaks).
  const silentPages: Page[] = [];
  for (const name of SILENT) {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomId, name);
    silentPages.push(page);
  }
  const { page: speakerPage } = await newParticipantPage(speechBrowser, fixture.server.url);
  await joinRoom(speakerPage, roomId, SPEAKER);
  const pages = [...silentPages, speakerPage];
  const names = [...SILENT, SPEAKER];

  // Everyone hears everyone (audio packets flow), so silence is silence, not a missing track.
  for (const [i, page] of pages.entries()) {
    const others = names.filter((_, j) => j !== i);
    await waitFor(
      `${names[i]} receives audio from ${others.join(', ')}`,
      async () => {
        const a = await statsOf(page);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const b = await statsOf(page);
        return others.filter((name) => {
          const before = a.find((s) => s.displayName === name)?.audio?.packetsReceived ?? 0;
          const now = b.find((s) => s.displayName === name)?.audio?.packetsReceived ?? 0;
          return !(now > before);
        });
      },
      (missing) => missing.length === 0,
      { timeoutMs: 45_000 },
    );
  }

  // The speaker's tile is marked on the others' pages, their self tile on their own page.
  // (data-speaking: audible now, from the audio levels; data-active-speaker: the room's
  // dominant speaker, from the server's active speaker.)
  for (const page of silentPages) {
    const tile = `[data-testid="tile"][data-source="webcam"][data-name="${SPEAKER}"]`;
    await page.locator(`${tile}[data-speaking="true"]`).waitFor({ timeout: 30_000 });
    await page.locator(`${tile}[data-active-speaker="true"]`).waitFor({ timeout: 30_000 });
  }
  await speakerPage
    .locator('[data-testid="tile"][data-source="self"][data-speaking="true"]')
    .waitFor({ timeout: 30_000 });

  // Over a few seconds, only ever the speaker is marked, on every page (the silent
  // microphones really are silent: a beep would be "speaking" too).
  const seen = pages.map(() => new Set<string>());
  for (let i = 0; i < 12; i++) {
    for (const [j, page] of pages.entries()) for (const name of await speakingTiles(page)) seen[j]!.add(name);
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  for (const [j, page] of pages.entries()) {
    const expected = page === speakerPage ? ['self'] : [SPEAKER];
    assert.deepEqual([...seen[j]!].sort(), expected, `${names[j]}: tiles marked speaking`);
    const active = await page
      .locator('[data-testid="tile"][data-active-speaker="true"]')
      .evaluateAll((tiles) => tiles.map((t) => t.getAttribute('data-name')));
    assert.deepEqual(active, [SPEAKER], `${names[j]}: the dominant speaker`);
  }

  // Speaker view: the main tile is the speaker on the others' pages.
  for (const [j, page] of silentPages.entries()) {
    await page.getByTestId('toggle-view').click();
    await waitFor(
      `${SILENT[j]}: speaker view`,
      () => page.getByTestId('stage').getAttribute('data-view'),
      (view) => view === 'speaker',
    );
    await waitFor(
      `${SILENT[j]}: the main tile is ${SPEAKER}`,
      () =>
        page
          .locator('[data-testid="tile"][data-main="true"]')
          .evaluateAll((tiles) =>
            tiles.map((t) => `${t.getAttribute('data-source')}:${t.getAttribute('data-name')}`),
          ),
      (main) => main.length === 1 && main[0] === `webcam:${SPEAKER}`,
      { timeoutMs: 30_000 },
    );
  }
  // And it stays the speaker (the silent ones never take over).
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const [j, page] of silentPages.entries()) {
      const main = await page.locator('[data-testid="tile"][data-main="true"]').getAttribute('data-name');
      assert.equal(main, SPEAKER, `${SILENT[j]}: main tile after ${i + 1} s`);
    }
  }
});
