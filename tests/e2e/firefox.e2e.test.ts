// Browser end-to-end across browsers: a Firefox ESR participant and two Chromium
// participants see and hear each other through the real server and mediasoup workers.
//
// Firefox does not pair loopback ICE candidates, so this call runs over a real (virtual)
// network: the server listens on, and announces, the host side of a veth pair into a
// network namespace (tests/helpers/netns.ts, needs root), Firefox runs inside that
// namespace and Chromium on this machine.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage, transportStatsOf } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser({}, { netns: true, firefox: true });

test('a Firefox participant and two Chromium participants exchange video and audio', async () => {
  const roomId = `firefox-${Date.now()}`;
  const names = ['Fiona', 'Alice', 'Bob'];
  const pages: Record<string, Page> = {};
  pages.Fiona = (await newParticipantPage(fixture.firefox, fixture.server.url)).page;
  pages.Alice = (await newParticipantPage(fixture.browser, fixture.server.url)).page;
  pages.Bob = (await newParticipantPage(fixture.browser, fixture.server.url)).page;
  assert.equal(await pages.Fiona.evaluate(() => navigator.userAgent.includes('Firefox')), true);
  for (const name of names) await joinRoom(pages[name] as Page, roomId, name);

  for (const name of names) {
    const page = pages[name] as Page;
    const others = names.filter((n) => n !== name);
    await waitFor(
      `${name} sees tiles of ${others.join(', ')}`,
      () =>
        page
          .locator('[data-testid="tile"][data-self="false"]')
          .evaluateAll((tiles) => tiles.map((t) => t.getAttribute('data-name') ?? '').sort()),
      (v) => JSON.stringify(v) === JSON.stringify([...others].sort()),
    );
  }
  for (const name of names) {
    await assertMediaFlows(
      pages[name] as Page,
      names.filter((n) => n !== name),
      name,
    );
  }
  // Firefox's media really went over the veth pair, from inside the namespace.
  const pairs = await transportStatsOf(pages.Fiona);
  assert.deepEqual(pairs.map((p) => [p.direction, p.localAddress, p.remoteAddress]).sort(), [
    ['recv', fixture.netns.nsAddress, fixture.netns.hostAddress],
    ['send', fixture.netns.nsAddress, fixture.netns.hostAddress],
  ]);

  // A working call shows no media connection alert, in either browser.
  for (const name of names) {
    assert.equal(await (pages[name] as Page).getByTestId('media-alert').count(), 0, `${name}: no alert`);
  }
});
