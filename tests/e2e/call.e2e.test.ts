// Browser end-to-end: real Chromium pages with fake camera/microphone meet through the real
// server and mediasoup workers. Proves media flows between every pair of participants,
// that mute/camera-off and leaving are seen by the others, and that rooms are isolated.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage, statsOf } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

async function remoteNames(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid="tile"][data-self="false"]')
    .evaluateAll((tiles) => tiles.map((t) => t.getAttribute('data-name') ?? '').sort());
}

test('four participants see and hear each other; mute, camera off, leave; rooms are isolated', async () => {
  const names = ['Alice', 'Bob', 'Carol', 'Dave'];
  const roomA = `e2e-a-${Date.now()}`;
  const roomB = `e2e-b-${Date.now()}`;
  const pages: Record<string, Page> = {};

  // Alice creates the room from the lobby; the others open the link.
  {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await page.goto('/');
    await page.getByLabel('Your name').fill('Alice');
    await page.getByLabel('Room').fill(roomA);
    await page.getByTestId('lobby-go').click();
    await page.waitForURL(`**/r/${roomA}`);
    await page.getByTestId('join').click();
    await page.locator('[data-testid="room"][data-status="joined"]').waitFor({ timeout: 20_000 });
    pages.Alice = page;
  }
  for (const name of names.slice(1)) {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomA, name);
    pages[name] = page;
  }
  // Eve is alone in another room, camera on: nothing of hers may reach room A, and nothing
  // of room A may reach her.
  const { page: eve } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(eve, roomB, 'Eve');

  for (const name of names) {
    const others = names.filter((n) => n !== name).sort();
    await waitFor(
      `${name} sees tiles of ${others.join(', ')}`,
      () => remoteNames(pages[name] as Page),
      (v) => JSON.stringify(v) === JSON.stringify(others),
    );
  }
  for (const name of names) {
    await assertMediaFlows(
      pages[name] as Page,
      names.filter((n) => n !== name),
      name,
    );
  }

  // A working call shows no media connection alert (tests/e2e/media-connection-alert.e2e.test.ts).
  for (const name of names) assert.equal(await (pages[name] as Page).getByTestId('media-alert').count(), 0);

  // Room isolation: Eve sees no one and receives nothing; room A never shows Eve.
  assert.deepEqual(await remoteNames(eve), []);
  assert.deepEqual(await statsOf(eve), []);
  for (const name of names) assert.ok(!(await remoteNames(pages[name] as Page)).includes('Eve'));
  const a = fixture.server.app.rooms.get(roomA);
  const b = fixture.server.app.rooms.get(roomB);
  assert.equal(a?.joinedParticipants().length, 4);
  assert.equal(b?.joinedParticipants().length, 1);
  for (const peer of b?.participants.values() ?? [])
    assert.equal(peer.consumers.size, 0, 'Eve consumes nothing');

  // Bob mutes his microphone and turns his camera off: the others see it.
  const bob = pages.Bob as Page;
  await bob.getByTestId('toggle-mic').click();
  await bob.getByTestId('toggle-cam').click();
  for (const name of ['Alice', 'Carol', 'Dave']) {
    const tile = (pages[name] as Page).locator('[data-testid="tile"][data-name="Bob"]');
    await waitFor(
      `${name} sees Bob muted with camera off`,
      async () => [await tile.getAttribute('data-audio'), await tile.getAttribute('data-video')],
      ([audio, video]) => audio === 'off' && video === 'off',
    );
  }
  // ... and unmutes and turns the camera back on: his media flows again.
  await bob.getByTestId('toggle-mic').click();
  await bob.getByTestId('toggle-cam').click();
  for (const name of ['Alice', 'Carol', 'Dave']) {
    const page = pages[name] as Page;
    const tile = page.locator('[data-testid="tile"][data-name="Bob"]');
    await waitFor(
      `${name} sees Bob unmuted with camera on`,
      async () => [await tile.getAttribute('data-audio'), await tile.getAttribute('data-video')],
      ([audio, video]) => audio === 'on' && video === 'on',
    );
    const before = (await statsOf(page)).find((s) => s.displayName === 'Bob')?.video?.framesDecoded ?? 0;
    await waitFor(
      `${name} decodes Bob's video again`,
      async () => (await statsOf(page)).find((s) => s.displayName === 'Bob')?.video?.framesDecoded ?? 0,
      (n) => n > before + 5,
    );
  }

  // Dave leaves: his tile disappears everywhere.
  await (pages.Dave as Page).getByTestId('leave').click();
  for (const name of ['Alice', 'Bob', 'Carol']) {
    const others = ['Alice', 'Bob', 'Carol'].filter((n) => n !== name).sort();
    await waitFor(
      `${name} no longer sees Dave`,
      () => remoteNames(pages[name] as Page),
      (v) => JSON.stringify(v) === JSON.stringify(others),
    );
  }
  // The remaining three still exchange media.
  for (const name of ['Alice', 'Carol']) {
    await assertMediaFlows(
      pages[name] as Page,
      ['Alice', 'Bob', 'Carol'].filter((n) => n !== name),
      `${name} after Dave left`,
    );
  }
  assert.deepEqual(await remoteNames(eve), []);
});
