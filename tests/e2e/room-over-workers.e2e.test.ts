// Browser end-to-end: one room spread over two mediasoup workers of one server. With at most
// two participants per router (MEDIA_ROUTER_PARTICIPANTS=2), Ann and Ben's media go on the
// room's first router and Cal and Dee's on a second router on the other worker; producers
// are piped between the two. Everyone sees and hears everyone.
//
// Then the first router's worker is killed (the one that also watches who speaks): Cal and
// Dee, on the other worker, keep decoding each other with no freeze longer than 2 s and are
// not asked to set their media up again; Ann and Ben are (mediaReset), do so by themselves,
// and everyone decodes everyone again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Room } from '../../server/src/room/room.js';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows, watchFrames } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser({ MEDIA_WORKERS: '2', MEDIA_ROUTER_PARTICIPANTS: '2' });

const NAMES = ['Ann', 'Ben', 'Cal', 'Dee'] as const;
type Name = (typeof NAMES)[number];

/** Worker index of each participant's media, by display name (undefined: no media yet). */
function workersOf(room: Room): Map<string, number | undefined> {
  return new Map(
    [...room.participants.values()].map((p) => [p.displayName ?? p.id, p.media?.place.workerIndex]),
  );
}

async function everyoneDecodesEveryone(pages: Record<Name, Page>, when: string): Promise<void> {
  for (const name of NAMES) {
    await assertMediaFlows(
      pages[name],
      NAMES.filter((other) => other !== name),
      `${name} (${when})`,
    );
  }
}

test('a room over two workers: everyone decodes everyone, and a dead worker takes only its own participants', async () => {
  const roomId = `e2e-over-workers-${Date.now()}`;
  const pages = {} as Record<Name, Page>;
  // One at a time, so that the first two are placed on the first router.
  for (const name of NAMES) {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    pages[name] = page;
    await joinRoom(page, roomId, name);
    const room = fixture.server.app.rooms.get(roomId);
    assert.ok(room);
    await waitFor(
      `${name}'s media to be placed`,
      () => Promise.resolve(workersOf(room).get(name)),
      (worker) => worker !== undefined,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }
  const room = fixture.server.app.rooms.get(roomId);
  const media = await room?.currentMedia();
  assert.ok(room && media);
  const placed = workersOf(room);
  const first = placed.get('Ann');
  const second = placed.get('Cal');
  assert.ok(first !== undefined && second !== undefined);
  assert.notEqual(first, second, 'the room has a router on each worker');
  assert.equal(placed.get('Ben'), first, 'Ben shares the first router');
  assert.equal(placed.get('Dee'), second, 'Dee shares the second router');
  assert.equal(media.routers().length, 2);

  await everyoneDecodesEveryone(pages, 'spread over two workers');
  // Each side consumes the other's camera and microphone through pipes (2 × 2 each way),
  // and Cal and Dee's microphones are also piped to the first router, which watches who speaks.
  assert.ok(media.pipedProducers >= 8, `producers piped between the routers: ${media.pipedProducers}`);

  // Kill the first router's worker.
  const mediaOf = (name: Name) => [...room.participants.values()].find((p) => p.displayName === name)?.media;
  const survivorsMedia = [mediaOf('Cal'), mediaOf('Dee')];
  const participantIds = [...room.participants.keys()].sort();
  const victim = (await fixture.server.app.pool.health()).find((w) => w.index === first);
  assert.ok(victim?.pid);
  const restarted = new Promise<number>((resolve) =>
    fixture.server.app.pool.once('workerRestarted', resolve),
  );
  const survivorsWatch = Promise.all([
    watchFrames(pages.Cal, ['Dee'], 6000),
    watchFrames(pages.Dee, ['Cal'], 6000),
  ]);
  process.kill(victim.pid, 'SIGKILL');
  const [calWatch, deeWatch] = await survivorsWatch;
  console.log(
    'survivors while the other worker died:',
    JSON.stringify({ calSeesDee: calWatch.Dee, deeSeesCal: deeWatch.Cal }),
  );
  for (const [who, watch] of [
    ['Cal sees Dee', calWatch.Dee],
    ['Dee sees Cal', deeWatch.Cal],
  ] as const) {
    assert.ok(watch, who);
    assert.ok(watch.framesDecoded > 0, `${who}: frames decoded after the other worker died`);
    assert.ok(watch.longestGapMs < 2000, `${who}: longest gap ${watch.longestGapMs} ms`);
  }
  assert.equal(await restarted, first);

  // Ann and Ben set their media up again by themselves; Cal and Dee were never reset.
  await everyoneDecodesEveryone(pages, 'after the worker died');
  assert.ok(
    survivorsMedia.every(Boolean) &&
      mediaOf('Cal') === survivorsMedia[0] &&
      mediaOf('Dee') === survivorsMedia[1],
    'Cal and Dee kept their media (transports, producers) through it',
  );
  assert.equal(workersOf(room).get('Cal'), second);
  assert.deepEqual([...room.participants.keys()].sort(), participantIds, 'nobody reconnected');
});
