// Browser end-to-end: the mediasoup worker hosting a call is killed. The pool replaces it,
// the room tells its peers (roomReset), and the browsers reconnect on their own and see
// and hear each other again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { joinRoom, launchBrowser, newParticipantPage, statsOf } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let browser: Browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Waits until `page` decodes new video frames and audio packets from `name`. */
async function waitForMediaFrom(page: Page, name: string, timeoutMs = 45_000): Promise<void> {
  const sample = async () => (await statsOf(page)).find((s) => s.displayName === name);
  const deadline = Date.now() + timeoutMs;
  let first = await sample();
  for (;;) {
    await new Promise((r) => setTimeout(r, 700));
    const now = await sample();
    if (
      first?.video &&
      now?.video &&
      now.video.framesDecoded > first.video.framesDecoded &&
      now.video.frameWidth > 0 &&
      first.audio &&
      now.audio &&
      now.audio.packetsReceived > first.audio.packetsReceived
    ) {
      return;
    }
    if (Date.now() > deadline) assert.fail(`no media from ${name}: ${JSON.stringify(now)}`);
    first = now;
  }
}

test('a killed media worker is replaced and the call resumes by itself', async () => {
  const roomId = `e2e-restart-${Date.now()}`;
  const { page: ann } = await newParticipantPage(browser, server.url);
  const { page: ben } = await newParticipantPage(browser, server.url);
  await joinRoom(ann, roomId, 'Ann');
  await joinRoom(ben, roomId, 'Ben');
  await waitForMediaFrom(ann, 'Ben');
  await waitForMediaFrom(ben, 'Ann');

  const room = (await server.app.rooms.list()).find((r) => r.id === roomId);
  assert.ok(room, 'room exists');
  const health = await server.app.pool.health();
  const victim = health[room.workerIndex];
  assert.ok(victim?.pid, 'the room has a live worker');
  const restarted = new Promise<number>((resolve) => server.app.pool.once('workerRestarted', resolve));
  process.kill(victim.pid, 'SIGKILL');
  assert.equal(await restarted, room.workerIndex);

  // Both pages reconnect on their own and media flows again, on a new room instance.
  await waitForMediaFrom(ann, 'Ben');
  await waitForMediaFrom(ben, 'Ann');
  const rebuilt = (await server.app.rooms.list()).find((r) => r.id === roomId);
  assert.ok(rebuilt && rebuilt !== room, 'the room was rebuilt');
  assert.equal(rebuilt.joinedPeers().length, 2);
  assert.ok(room.closed);
  const after = await server.app.pool.health();
  assert.ok(after.every((w) => w.alive));
  assert.equal(after[room.workerIndex]?.restarts, 1);
});
