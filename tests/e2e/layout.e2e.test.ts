// Browser end-to-end: the room page's layout, as a person sees it, at phone, tablet and
// desktop sizes. Three participants with 40-character names; one page is resized through
// the sizes with the chat open and closed, in grid and speaker view. At every size: no
// horizontal overflow, no two tiles / the controls / the chat panel overlapping, every tile
// inside the stage and the controls inside the viewport (element boxes, not pixels).
// Screenshots of each state are saved to test-artifacts/ (layout-<width>x<height>-...).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { layoutProblems, saveScreenshot } from '../helpers/layout.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

const sizes = [
  { width: 360, height: 740 },
  { width: 390, height: 844 },
  { width: 768, height: 1024 },
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
];

/** A 40-character name (the longest allowed), with spaces as real names have. */
const longName = (first: string) =>
  `${first} Wolkenstein-Rabenhorst de la Montaña`.padEnd(40, 'a').slice(0, 40);

/** What the shared helper does not check: tiles inside the stage, controls inside the viewport. */
async function boxProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const stage = document.querySelector('[data-testid="stage"]')?.getBoundingClientRect();
    if (!stage) return ['no stage'];
    for (const tile of Array.from(document.querySelectorAll('[data-testid="tile"]'))) {
      const r = tile.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) problems.push(`tile ${tile.getAttribute('data-name')} has no size`);
      if (
        r.left < stage.left - 0.5 ||
        r.right > stage.right + 0.5 ||
        r.top < stage.top - 0.5 ||
        r.bottom > stage.bottom + 0.5
      )
        problems.push(`tile ${tile.getAttribute('data-name')} sticks out of the stage`);
    }
    const controls = document.querySelector('[data-testid="controls"]')?.getBoundingClientRect();
    if (!controls) problems.push('no controls');
    else if (controls.bottom > innerHeight + 0.5 || controls.right > innerWidth + 0.5)
      problems.push(
        `the controls are cut off (${Math.round(controls.right)}x${Math.round(controls.bottom)})`,
      );
    for (const button of Array.from(document.querySelectorAll('[data-testid="controls"] button'))) {
      const r = button.getBoundingClientRect();
      if (r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5)
        problems.push(`button "${button.textContent?.trim()}" is cut off`);
    }
    return problems;
  });
}

test('the room page lays out without overflow or overlap from phone to desktop', async () => {
  const roomId = `e2e-layout-${Date.now()}`;
  const names = [longName('Alexandra'), longName('Bartholomew'), longName('Christabel')];
  assert.ok(names.every((n) => n.length === 40));
  const pages: Page[] = [];
  for (const name of names) {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomId, name);
    pages.push(page);
  }
  const viewer = pages[0] as Page;
  // Everyone's tile, with video, on the viewer's page.
  await waitFor(
    'the viewer shows three tiles with video',
    () => viewer.locator('[data-testid="tile"][data-video="on"]').count(),
    (n) => n === 3,
    { timeoutMs: 45_000 },
  );
  // A chat message with a long word, so that the chat panel has content to lay out.
  await viewer.getByTestId('chat-input').fill(`${'Supercalifragilistic'.repeat(4)} 👍🎉`);
  await viewer.getByTestId('chat-send').click();
  await viewer.getByTestId('chat-message').first().waitFor();

  const chatOpen = () =>
    viewer
      .getByTestId('chat-panel')
      .count()
      .then((n) => n > 0);
  const setChat = async (open: boolean) => {
    if ((await chatOpen()) !== open) await viewer.getByTestId('toggle-chat').click();
    await waitFor(`chat ${open ? 'open' : 'closed'}`, chatOpen, (v) => v === open);
  };
  const setView = async (view: 'grid' | 'speaker') => {
    const stage = viewer.getByTestId('stage');
    if ((await stage.getAttribute('data-view')) !== view) await viewer.getByTestId('toggle-view').click();
    await waitFor(
      `${view} view`,
      () => stage.getAttribute('data-view'),
      (v) => v === view,
    );
  };

  const failures: string[] = [];
  for (const size of sizes) {
    await viewer.setViewportSize(size);
    for (const [open, view] of [
      [true, 'grid'],
      [false, 'grid'],
      [false, 'speaker'],
      [true, 'speaker'],
    ] as const) {
      await setChat(open);
      await setView(view);
      const label = `layout-${size.width}x${size.height}-chat-${open ? 'open' : 'closed'}-${view}`;
      // The stage measures itself and lays the tiles out after a resize: wait until it settled.
      const problems = await waitFor(
        `${label}: no layout problems`,
        async () => [...(await layoutProblems(viewer)), ...(await boxProblems(viewer))],
        (p) => p.length === 0,
        { timeoutMs: 5_000, intervalMs: 250 },
      ).catch(async () => [...(await layoutProblems(viewer)), ...(await boxProblems(viewer))]);
      await saveScreenshot(viewer, label);
      if (problems.length > 0) failures.push(`${label}:\n  ${problems.join('\n  ')}`);
      // Every participant is on the stage (three tiles fit a page at every size, or the strip).
      const tiles = await viewer.locator('[data-testid="tile"]').count();
      if (view === 'grid' && tiles !== 3 && (await viewer.getByTestId('page-controls').count()) === 0)
        failures.push(`${label}: ${tiles} tiles and no page controls`);
    }
  }
  assert.deepEqual(failures, []);
  await setView('grid');
});
