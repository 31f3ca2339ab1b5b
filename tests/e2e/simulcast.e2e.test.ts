// Browser end-to-end: simulcast with per-viewer layers, driven by what the viewer shows. A
// Chromium publisher sends its 1280x720 camera in three layers; a viewer that shows it as a
// small filmstrip tile receives the smallest layer (about 320 wide, spatial layer 0);
// pinning it (the main tile of speaker view) brings the full 1280; unpinning (back to the
// grid, a middle-sized tile) brings a smaller layer again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitForFrameWidth } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

const tile = (page: Page, name: string) =>
  page.locator(`[data-testid="tile"][data-source="webcam"][data-name="${name}"]`);

test('a viewer receives the layer that fits the tile: small in the strip, full size pinned', async () => {
  const roomId = `e2e-simulcast-${Date.now()}`;
  for (const name of ['Pub', 'Other']) {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomId, name);
  }
  const { page: viewer } = await newParticipantPage(fixture.browser, fixture.server.url);
  await viewer.setViewportSize({ width: 1280, height: 800 });
  await joinRoom(viewer, roomId, 'Viewer');
  await viewer.getByTestId('toggle-chat').click();
  await tile(viewer, 'Pub').locator('video').waitFor({ timeout: 45_000 });

  // Other pinned: speaker view with Other as the main tile, Pub small in the filmstrip.
  await viewer.getByRole('button', { name: 'Pin Other', exact: true }).click();
  await waitFor(
    'Other is the main tile',
    () => tile(viewer, 'Other').getAttribute('data-main'),
    (v) => v === 'true',
  );
  const small = await waitForFrameWidth(
    viewer,
    'Pub',
    (w, stats) => w > 0 && w <= 400 && stats.spatialLayer === 0,
    'Viewer: Pub in the strip, spatial layer 0',
    { timeoutMs: 60_000 },
  );
  assert.ok(small.frameWidth <= 400, `small tile frame width ${small.frameWidth}`);

  // Pub pinned: the main tile, large enough for the full layer.
  await viewer.getByRole('button', { name: 'Pin Pub', exact: true }).click();
  await waitFor(
    'Pub is the main tile',
    () => tile(viewer, 'Pub').getAttribute('data-main'),
    (v) => v === 'true',
  );
  const large = await waitForFrameWidth(viewer, 'Pub', (w) => w >= 1200, 'Viewer: Pub pinned', {
    timeoutMs: 60_000,
  });
  assert.equal(large.spatialLayer, 2);

  // Unpinned: back to the grid (three tiles on a 1280x800 page): a smaller layer again.
  await viewer.getByRole('button', { name: 'Unpin Pub', exact: true }).click();
  await waitFor(
    'grid view',
    () => viewer.getByTestId('stage').getAttribute('data-view'),
    (v) => v === 'grid',
  );
  await waitForFrameWidth(viewer, 'Pub', (w) => w > 0 && w < 1200, 'Viewer: Pub unpinned', {
    timeoutMs: 60_000,
  });
});
