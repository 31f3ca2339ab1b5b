// Browser end-to-end: a page whose `join` gets no answer (a server busy for longer than
// protoo's request timeout, ~22 s) connects and joins again instead of leaving the call for
// good, back after a dropped connection and on its very first connection. Bob's signaling
// sockets go through Playwright's WebSocket route, which drops the server's answer to one
// `join` (and, in the first test, cuts his first socket once he is in the call). The status
// line says "Reconnecting…" to a person who was in the call, and "Connecting…" to one who
// never got in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { interceptSignaling, joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

/** Routes Bob's sockets; the answer to the join of connection `lost` never reaches his page. */
async function dropJoinAnswer(bob: Page, lost: number) {
  const joinIds = new Map<number, unknown>();
  const state = { dropped: false };
  const sockets = await interceptSignaling(bob, {
    onRequest: (request, connection) => {
      if (request.request && request.method === 'join') joinIds.set(connection, request.id);
    },
    dropAnswer: (answer, connection) => {
      if (connection !== lost || !answer.response || answer.id !== joinIds.get(lost) || state.dropped)
        return false;
      state.dropped = true;
      return true;
    },
  });
  return { sockets, state };
}

/**
 * Records every text the page's status line shows (read every 50 ms: the retry waits at
 * least 500 ms between connections) in `window.__statusTexts`; `seen()` returns them.
 */
async function recordStatusLine(context: BrowserContext, page: Page) {
  await context.addInitScript({
    content: `window.__statusTexts = [];
      setInterval(() => {
        const text = document.querySelector('[data-testid="status"]')?.textContent?.trim();
        if (text && !window.__statusTexts.includes(text)) window.__statusTexts.push(text);
      }, 50);`,
  });
  return { seen: () => page.evaluate('window.__statusTexts') as Promise<string[]> };
}

/** Bob's page, on connection `expected` after it waited out the lost join, is back in the call. */
async function assertBackInCall(
  roomId: string,
  alice: Page,
  bob: Page,
  sockets: unknown[],
  expected: number,
) {
  // His page waits out the request (~22 s), drops that connection and joins on the next one.
  await waitFor(
    `connection ${expected}`,
    async () => sockets.length,
    (n) => n >= expected,
    { timeoutMs: 45_000 },
  );
  await bob.locator('[data-testid="room"][data-status="joined"]').waitFor({ timeout: 30_000 });
  await assertMediaFlows(alice, ['Bob'], 'Alice after Bob joined again', { timeoutMs: 30_000 });
  await assertMediaFlows(bob, ['Alice'], 'Bob after he joined again', { timeoutMs: 30_000 });
  const room = fixture.server.app.rooms.get(roomId);
  await waitFor(
    'the room holds Alice and one Bob',
    async () => (room?.joinedParticipants() ?? []).map((p) => p.displayName).sort(),
    (names) => JSON.stringify(names) === JSON.stringify(['Alice', 'Bob']),
  );
  assert.equal(
    await alice.locator('[data-testid="tile"][data-name="Bob"]').count(),
    1,
    'Alice sees Bob once',
  );
}

test('a join lost while reconnecting is asked again on a new connection; the call comes back', async () => {
  const roomId = `e2e-rejoin-retry-${Date.now()}`;
  const { page: alice } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(alice, roomId, 'Alice');

  const { page: bob, context } = await newParticipantPage(fixture.browser, fixture.server.url);
  const statusLine = await recordStatusLine(context, bob);
  const { sockets, state } = await dropJoinAnswer(bob, 2);
  await joinRoom(bob, roomId, 'Bob');
  await assertMediaFlows(alice, ['Bob'], 'Alice before the cut');

  sockets[0]?.cut();
  await waitFor('the answer to Bob’s second join dropped', async () => state.dropped, Boolean, {
    timeoutMs: 20_000,
  });
  await assertBackInCall(roomId, alice, bob, sockets, 3);
  const seen = await statusLine.seen();
  assert.ok(seen.includes('Reconnecting…'), `Bob, who was in the call, saw: ${JSON.stringify(seen)}`);
});

test('a first join whose answer is lost is asked again on a new connection; the person gets in', async () => {
  const roomId = `e2e-first-join-retry-${Date.now()}`;
  const { page: alice } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(alice, roomId, 'Alice');

  const { page: bob, context } = await newParticipantPage(fixture.browser, fixture.server.url);
  const statusLine = await recordStatusLine(context, bob);
  const { sockets, state } = await dropJoinAnswer(bob, 1);
  // "Joined" comes only after the lost request's timeout (~22 s) and a second connection.
  await joinRoom(bob, roomId, 'Bob', { timeoutMs: 60_000 });
  assert.ok(state.dropped, 'the answer to Bob’s first join was dropped');
  await assertBackInCall(roomId, alice, bob, sockets, 2);
  // He never got in before: the page kept saying it is connecting, never "Reconnecting…".
  const seen = await statusLine.seen();
  assert.ok(seen.includes('Connecting…'), `Bob saw: ${JSON.stringify(seen)}`);
  assert.ok(!seen.includes('Reconnecting…'), `Bob, who never got in, saw: ${JSON.stringify(seen)}`);
});
