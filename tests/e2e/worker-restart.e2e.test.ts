// Browser end-to-end: the mediasoup worker hosting a call is killed. The pool replaces it,
// the room drops its media part and tells its callers (mediaReset); the browsers set their
// media up again on their own and see and hear each other again. Nobody's socket closes:
// a chat-only participant beside the call notices nothing, and the chat carries on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';

const fixture = useServerAndBrowser();

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
}

async function sees(page: Page, text: string): Promise<void> {
  await page.getByTestId('chat-text').filter({ hasText: text }).first().waitFor({ timeout: 15_000 });
}

test('a killed media worker: callers get their media back by themselves, chat-only participants stay', async () => {
  const roomId = `e2e-restart-${Date.now()}`;
  const { page: ann } = await newParticipantPage(fixture.browser, fixture.server.url);
  const { page: ben } = await newParticipantPage(fixture.browser, fixture.server.url);
  const { page: cid } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(ann, roomId, 'Ann');
  await joinRoom(ben, roomId, 'Ben');
  await joinRoom(cid, roomId, 'Cid', { textOnly: true });
  await assertMediaFlows(ann, ['Ben'], 'Ann');
  await assertMediaFlows(ben, ['Ann'], 'Ben');

  const room = fixture.server.app.rooms.get(roomId);
  const media = await room?.currentMedia();
  assert.ok(room && media, 'the room has media');
  const workerIndex = media.home?.workerIndex;
  assert.ok(workerIndex !== undefined, 'the room has a router');
  const participantIds = [...room.participants.keys()].sort();
  const health = await fixture.server.app.pool.health();
  const victim = health[workerIndex];
  assert.ok(victim?.pid, 'the room has a live worker');
  const restarted = new Promise<number>((resolve) =>
    fixture.server.app.pool.once('workerRestarted', resolve),
  );
  process.kill(victim.pid, 'SIGKILL');
  assert.equal(await restarted, workerIndex);

  // Both callers set their media up again on their own, on the same room.
  await assertMediaFlows(ann, ['Ben'], 'Ann');
  await assertMediaFlows(ben, ['Ann'], 'Ben');
  const rebuilt = await room.currentMedia();
  assert.ok(rebuilt && rebuilt !== media, 'the room got new media');
  assert.equal(room.closed, false);
  assert.deepEqual(
    [...room.participants.keys()].sort(),
    participantIds,
    'the same three participants: no socket was closed, nobody reconnected',
  );
  // The chat-only participant was never disturbed, and the chat works both ways.
  await send(cid, 'did anything happen?');
  await sees(ann, 'did anything happen?');
  await send(ann, 'the media server restarted');
  await sees(cid, 'the media server restarted');
  const after = await fixture.server.app.pool.health();
  assert.ok(after.every((w) => w.alive));
  assert.equal(after[workerIndex]?.restarts, 1);
});
