// Browser end-to-end: screen share. A Chromium participant shares its (fake) screen with
// the tab's audio; the other decodes a `screen` video shown as the main tile and plays the
// shared sound; the sharer's own button shows it sharing and the screen goes out as one
// full-size encoding. Stopping from the button closes both producers: the tile and the
// sound go on the other side; so does stopping from the browser's own control.
//
// Headless Chromium with --use-fake-ui-for-media-stream (tests/helpers/browser.ts) answers
// getDisplayMedia itself: a 1280x720 capture of a fake screen, with a fake audio track.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage, statsOf } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows, encodingGrew, outboundOf, waitForOutbound } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

const screenOf = async (page: Page, name: string) =>
  (await statsOf(page)).find((s) => s.displayName === name)?.screen ?? null;

const remoteAudioCount = (page: Page) => page.locator('[data-testid="remote-audio"] audio').count();

test('a shared screen reaches the other participant as the main tile, with its sound; stopping removes it', async () => {
  const roomId = `screen-${Date.now()}`;
  const alice = (await newParticipantPage(fixture.browser, fixture.server.url)).page;
  const bob = (await newParticipantPage(fixture.browser, fixture.server.url)).page;
  await joinRoom(alice, roomId, 'Alice');
  await joinRoom(bob, roomId, 'Bob');
  await assertMediaFlows(bob, ['Alice'], 'Bob before the share');
  // Bob hears Alice's microphone, and nothing else yet.
  await waitFor(
    'Bob plays one remote audio track',
    () => remoteAudioCount(bob),
    (n) => n === 1,
  );

  const share = alice.getByTestId('share-screen');
  assert.equal(await share.getAttribute('aria-pressed'), 'false');
  await share.click();
  await waitFor(
    "Alice's button shows the share",
    () => share.getAttribute('aria-pressed'),
    (v) => v === 'true',
  );
  assert.equal((await share.textContent())?.trim(), 'Stop sharing');

  // Alice sends the screen as one encoding (no simulcast), and it encodes frames.
  const { after } = await waitForOutbound(
    alice,
    (a, b) => encodingGrew(a, b, 'screen', null),
    'Alice encodes her screen',
  );
  assert.equal(after.filter((s) => s.source === 'screen').length, 1, 'one screen encoding');

  // Bob decodes Alice's screen, at its full width, in the main tile.
  const first = await waitFor(
    "Bob receives Alice's screen",
    () => screenOf(bob, 'Alice'),
    (s) => s !== null && s.framesDecoded > 0,
  );
  await waitFor(
    "Bob keeps decoding Alice's screen",
    () => screenOf(bob, 'Alice'),
    (s) => s !== null && s.framesDecoded > (first?.framesDecoded ?? 0) && s.frameWidth > 0,
  );
  const tile = bob.locator('[data-testid="tile"][data-source="screen"][data-name="Alice"]');
  await waitFor(
    "Bob shows Alice's screen as the main tile, with video",
    async () => [await tile.getAttribute('data-main'), await tile.getAttribute('data-video')],
    ([main, video]) => main === 'true' && video === 'on',
  );
  // The shared tab's sound plays too (the microphone and the screen audio).
  await waitFor(
    'Bob plays the screen audio too',
    () => remoteAudioCount(bob),
    (n) => n === 2,
  );
  // Her camera still flows beside the screen.
  await assertMediaFlows(bob, ['Alice'], 'Bob during the share');

  // One screen at a time: the share button now stops it.
  await share.click();
  await waitFor(
    "Alice's button shows no share",
    () => share.getAttribute('aria-pressed'),
    (v) => v === 'false',
  );
  await waitFor(
    "Bob no longer shows Alice's screen",
    () => tile.count(),
    (n) => n === 0,
  );
  await waitFor(
    "Bob no longer receives Alice's screen",
    () => screenOf(bob, 'Alice'),
    (s) => s === null,
  );
  await waitFor(
    'Bob plays only the microphone again',
    () => remoteAudioCount(bob),
    (n) => n === 1,
  );
  assert.deepEqual(
    (await outboundOf(alice)).filter((s) => s.source === 'screen'),
    [],
    'Alice sends no screen any more',
  );
  // The call goes on.
  await assertMediaFlows(bob, ['Alice'], 'Bob after the share');

  // Shared again, then stopped from the browser's own "Stop sharing" (the capture track
  // ends): the same as our button.
  await share.click();
  await waitFor(
    "Bob shows Alice's screen again",
    () => tile.count(),
    (n) => n === 1,
  );
  const selfId = await alice.evaluate(() =>
    (window as unknown as { __meet: { selfId(): string } }).__meet.selfId(),
  );
  const ownScreen = alice.locator(
    `[data-testid="tile"][data-source="screen"][data-peer-id="${selfId}"] video`,
  );
  await ownScreen.waitFor();
  await ownScreen.evaluate((video: HTMLVideoElement) => {
    const track = (video.srcObject as MediaStream).getVideoTracks()[0];
    track?.stop();
    track?.dispatchEvent(new Event('ended'));
  });
  await waitFor(
    "Alice's button shows no share after the browser stopped it",
    () => share.getAttribute('aria-pressed'),
    (v) => v === 'false',
  );
  await waitFor(
    "Bob no longer shows Alice's screen (browser stop)",
    () => tile.count(),
    (n) => n === 0,
  );
  await waitFor(
    'Bob plays only the microphone (browser stop)',
    () => remoteAudioCount(bob),
    (n) => n === 1,
  );
});
