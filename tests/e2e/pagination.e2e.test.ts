// Browser end-to-end: the grid pages when the tiles do not fit the stage. On a small page,
// page controls appear ("Page 1 of N"), only the page's tiles are rendered, and the server
// forwards exactly the on-screen participants' videos to that viewer (the others' video
// consumers are paused; their audio is not). Paging moves the view; a larger window puts
// everyone back on one page.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

/** Peer ids of the remote camera tiles on the page that show video. */
function onScreenVideos(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid="tile"][data-source="webcam"][data-video="on"]')
    .evaluateAll((tiles) => tiles.map((t) => t.getAttribute('data-peer-id') ?? '').sort());
}

/** Peer ids whose video the server forwards to `peerId` (its unpaused video consumers). */
async function forwardedVideos(roomId: string, peerId: string): Promise<string[]> {
  const room = fixture.server.app.rooms.get(roomId);
  const viewer = room?.participants.get(peerId);
  return [...(viewer?.consumers.values() ?? [])]
    .filter((c) => c.kind === 'video' && !c.paused && !c.closed)
    .map((c) => String((c.appData as { peerId?: string }).peerId))
    .sort();
}

/** Peer ids whose audio the server forwards to `peerId`. */
async function forwardedAudio(roomId: string, peerId: string): Promise<string[]> {
  const room = fixture.server.app.rooms.get(roomId);
  const viewer = room?.participants.get(peerId);
  return [...(viewer?.consumers.values() ?? [])]
    .filter((c) => c.kind === 'audio' && !c.paused && !c.closed)
    .map((c) => String((c.appData as { peerId?: string }).peerId))
    .sort();
}

test('a grid larger than a page pages, and only the on-screen videos are forwarded', async () => {
  const roomId = `e2e-pages-${Date.now()}`;
  const others = ['Ana', 'Ben', 'Cyd'];
  const peerIds: string[] = [];
  for (const name of others) {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomId, name);
    peerIds.push(
      await page.evaluate(() => (window as unknown as { __meet: { selfId(): string } }).__meet.selfId()),
    );
  }
  const { page: viewer } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(viewer, roomId, 'Viewer');
  const viewerId = await viewer.evaluate(() =>
    (window as unknown as { __meet: { selfId(): string } }).__meet.selfId(),
  );
  await viewer.getByTestId('toggle-chat').click();
  await waitFor(
    'the viewer shows everyone with video on one page',
    () => onScreenVideos(viewer),
    (ids) => ids.length === 3,
    { timeoutMs: 45_000 },
  );
  assert.equal(await viewer.getByTestId('page-controls').count(), 0);

  // A small window: not every tile fits, so the grid pages.
  await viewer.setViewportSize({ width: 400, height: 560 });
  const controls = viewer.getByTestId('page-controls');
  await controls.waitFor();
  const pageSize = Number(await viewer.getByTestId('grid').getAttribute('data-page-size'));
  const pageCount = Math.ceil(4 / pageSize);
  assert.ok(pageSize >= 1 && pageSize < 4, `page size ${pageSize}`);
  assert.equal(await viewer.getByTestId('page-indicator').innerText(), `Page 1 of ${pageCount}`);
  assert.equal(await viewer.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
  assert.equal(await viewer.locator('[data-testid="tile"]').count(), pageSize, 'only the page is rendered');
  // Ourselves first, on the first page.
  assert.equal(await viewer.locator('[data-testid="tile"]').first().getAttribute('data-source'), 'self');

  const firstPage = await waitFor(
    'the server forwards exactly the videos on page 1',
    async () => ({ screen: await onScreenVideos(viewer), server: await forwardedVideos(roomId, viewerId) }),
    ({ screen, server }) =>
      screen.length === pageSize - 1 && JSON.stringify(screen) === JSON.stringify(server),
  );
  // Audio is never paused by the view.
  assert.deepEqual(await forwardedAudio(roomId, viewerId), [...peerIds].sort());

  // The next page: other participants, whose videos are now the forwarded ones.
  await viewer.getByRole('button', { name: 'Next page' }).click();
  await waitFor(
    'page 2',
    () => viewer.getByTestId('page-indicator').innerText(),
    (t) => t === `Page 2 of ${pageCount}`,
  );
  await waitFor(
    'the server forwards exactly the videos on page 2',
    async () => ({ screen: await onScreenVideos(viewer), server: await forwardedVideos(roomId, viewerId) }),
    ({ screen, server }) =>
      screen.length > 0 &&
      JSON.stringify(screen) === JSON.stringify(server) &&
      !screen.some((id) => firstPage.screen.includes(id)),
  );
  assert.deepEqual(await forwardedAudio(roomId, viewerId), [...peerIds].sort());

  // A large window again: one page with everyone, every video forwarded.
  await viewer.setViewportSize({ width: 1280, height: 800 });
  await controls.waitFor({ state: 'detached' });
  await waitFor(
    'everyone forwarded again',
    async () => ({ screen: await onScreenVideos(viewer), server: await forwardedVideos(roomId, viewerId) }),
    ({ screen, server }) => screen.length === 3 && JSON.stringify(screen) === JSON.stringify(server),
  );
});
