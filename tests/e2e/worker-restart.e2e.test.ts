// Browser end-to-end: the mediasoup worker hosting a call is killed. The pool replaces it,
// the room tells its peers (roomReset), and the browsers reconnect on their own and see
// and hear each other again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';

const fixture = useServerAndBrowser();

test('a killed media worker is replaced and the call resumes by itself', async () => {
  const roomId = `e2e-restart-${Date.now()}`;
  const { page: ann } = await newParticipantPage(fixture.browser, fixture.server.url);
  const { page: ben } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(ann, roomId, 'Ann');
  await joinRoom(ben, roomId, 'Ben');
  await assertMediaFlows(ann, ['Ben'], 'Ann');
  await assertMediaFlows(ben, ['Ann'], 'Ben');

  const room = (await fixture.server.app.rooms.list()).find((r) => r.id === roomId);
  assert.ok(room, 'room exists');
  const health = await fixture.server.app.pool.health();
  const victim = health[room.workerIndex];
  assert.ok(victim?.pid, 'the room has a live worker');
  const restarted = new Promise<number>((resolve) =>
    fixture.server.app.pool.once('workerRestarted', resolve),
  );
  process.kill(victim.pid, 'SIGKILL');
  assert.equal(await restarted, room.workerIndex);

  // Both pages reconnect on their own and media flows again, on a new room instance.
  await assertMediaFlows(ann, ['Ben'], 'Ann');
  await assertMediaFlows(ben, ['Ann'], 'Ben');
  const rebuilt = (await fixture.server.app.rooms.list()).find((r) => r.id === roomId);
  assert.ok(rebuilt && rebuilt !== room, 'the room was rebuilt');
  assert.equal(rebuilt.joinedPeers().length, 2);
  assert.ok(room.closed);
  const after = await fixture.server.app.pool.health();
  assert.ok(after.every((w) => w.alive));
  assert.equal(after[room.workerIndex]?.restarts, 1);
});
