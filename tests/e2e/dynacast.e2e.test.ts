// Browser end-to-end: dynacast. A Chromium publisher sends its 720p camera as three
// simulcast encodings (r0/r1/r2). The server tells it which layers anyone watches
// (producerLayers) and it pauses the others: alone in the room it encodes nothing; with a
// viewer showing it small, its top encoding (r2) is paused while the lower ones run; when
// that viewer pins it (a large tile), r2 resumes; unpinned, r2 pauses again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage, type OutboundSample } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { encodingGrew, outboundOf, waitForOutbound } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

const webcam = (samples: OutboundSample[]) => samples.filter((s) => s.source === 'webcam');
const active = (samples: OutboundSample[], rid: string) => webcam(samples).find((s) => s.rid === rid)?.active;

test('a publisher encodes only the camera layers its viewers show', async () => {
  const roomId = `dynacast-${Date.now()}`;
  const alice = (await newParticipantPage(fixture.browser, fixture.server.url)).page;
  await joinRoom(alice, roomId, 'Alice');

  // Three encodings, and nobody watches: all paused.
  await waitFor(
    'Alice sends three camera encodings, all paused (nobody views her)',
    () => outboundOf(alice),
    (samples) =>
      JSON.stringify(webcam(samples).map((s) => [s.rid, s.active])) ===
      JSON.stringify([
        ['r0', false],
        ['r1', false],
        ['r2', false],
      ]),
  );

  // Bob shows Alice in a grid tile of two (in a 1600x1000 window, about 780x440: the
  // 360p layer fits it): the lower layers only.
  const { page: bob } = await newParticipantPage(fixture.browser, fixture.server.url);
  await bob.setViewportSize({ width: 1600, height: 1000 });
  await joinRoom(bob, roomId, 'Bob');
  const small = await waitForOutbound(
    alice,
    (a, b) =>
      encodingGrew(a, b, 'webcam', 'r0') && !encodingGrew(a, b, 'webcam', 'r2') && active(b, 'r2') === false,
    'Alice: r0 encodes, r2 paused while Bob shows her small',
  );
  assert.equal(active(small.after, 'r0'), true, 'r0 is active on the sender');

  // Bob pins Alice: her tile is the main one, large enough for 720p: the top layer resumes.
  await pin(bob, 'Alice');
  const large = await waitForOutbound(
    alice,
    (a, b) => encodingGrew(a, b, 'webcam', 'r2') && active(b, 'r2') === true,
    'Alice: r2 encodes again once Bob pins her',
  );
  assert.ok(
    large.after.every((s) => s.active),
    'every encoding is active',
  );

  // Unpinned, small again: r2 pauses again (after the server's hold on lowering).
  await pin(bob, 'Alice');
  await waitForOutbound(
    alice,
    (a, b) => !encodingGrew(a, b, 'webcam', 'r2') && active(b, 'r2') === false,
    'Alice: r2 paused again once Bob unpins her',
  );
});

/** Pins (or unpins) the named participant's camera tile on a page. */
async function pin(page: Page, name: string): Promise<void> {
  const button = page.locator(
    `[data-testid="tile"][data-source="webcam"][data-name="${name}"] [data-testid="pin"]`,
  );
  await button.click();
}
