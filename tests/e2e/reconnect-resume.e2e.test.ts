// Browser end-to-end: a signaling socket that drops (any close but the server's 4000) is opened
// again by the call session, naming the participant it was (`resume`), so that a server still
// holding that participant (a half-open connection it has not noticed yet) drops it instead of
// showing the person twice. protoo-client's own retry would open the first URL again, without
// `resume` (and, in a cluster, with a stale `node`): the session closes protoo's peer on its
// 'disconnected' and connects itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { serverParticipant, serverParticipants } from '../helpers/server.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

/** Records every signaling socket the page opens (window.__sockets), before the app loads. */
async function recordSockets(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    const sockets: WebSocket[] = [];
    (window as unknown as { __sockets: WebSocket[] }).__sockets = sockets;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    };
  });
}

const socketUrls = (page: Page) =>
  page.evaluate(() => (window as unknown as { __sockets: WebSocket[] }).__sockets.map((s) => s.url));

test('a dropped signaling socket comes back as the same participant (resume), seen once', async () => {
  const roomId = `e2e-resume-${Date.now()}`;
  const { page: alice } = await newParticipantPage(fixture.browser, fixture.server.url);
  const { page: bob } = await newParticipantPage(fixture.browser, fixture.server.url);
  await recordSockets(bob);
  await joinRoom(alice, roomId, 'Alice');
  await joinRoom(bob, roomId, 'Bob');
  await assertMediaFlows(alice, ['Bob'], 'Alice');

  const before = serverParticipant(fixture.server, roomId, 'Bob');
  assert.ok(before, 'Bob is in the room');
  const [first, ...others] = await socketUrls(bob);
  assert.ok(first && others.length === 0, `one socket so far: ${String(first)} ${others.join(' ')}`);
  assert.equal(new URL(first).searchParams.get('resume'), null);

  // The socket drops with a code that is not the server's 4000: as a network error would,
  // except that the browser closes it (the server notices at once; a half-open connection's
  // participant is dropped by `resume` the same way, see server/test/hardening).
  await bob.evaluate(() => {
    const sockets = (window as unknown as { __sockets: WebSocket[] }).__sockets;
    sockets[sockets.length - 1]?.close(3001, 'test: connection lost');
  });

  const urls = await waitFor(
    'Bob opens a second signaling socket',
    () => socketUrls(bob),
    (u) => u.length >= 2,
  );
  const second = new URL(urls[1] as string);
  assert.equal(
    second.searchParams.get('resume'),
    before.id,
    `the second socket names the participant Bob was: ${second.href}`,
  );
  assert.equal(second.searchParams.get('roomId'), roomId);

  await bob.locator('[data-testid="room"][data-status="joined"]').waitFor({ timeout: 20_000 });
  await waitFor(
    'the room holds Alice and one Bob',
    async () =>
      serverParticipants(fixture.server, roomId)
        .map((p) => p.displayName)
        .sort(),
    (names) => JSON.stringify(names) === JSON.stringify(['Alice', 'Bob']),
  );
  // (The room holds the new Bob once he connected; Alice's page shows him once he joined.)
  const bobTiles = () => alice.locator('[data-testid="tile"][data-name="Bob"]').count();
  await waitFor('Alice sees Bob again', bobTiles, (n) => n >= 1);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(await bobTiles(), 1, 'Alice sees Bob once');
  await assertMediaFlows(alice, ['Bob'], 'Alice');
  await assertMediaFlows(bob, ['Alice'], 'Bob');
});
