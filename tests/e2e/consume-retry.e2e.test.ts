// Browser end-to-end: a `consume` whose answer is lost is asked again, and the repeat gets
// the same consumer. On a saturated machine (eight pages on 2 cores) the server once took
// longer than protoo's request timeout (~22 s) to answer a page's consume of the newest
// camera: the page gave up, the server kept a consumer nobody resumed, and that camera
// reached nobody (eight-participants.e2e.test.ts). Here the loss is made certain: Bob's
// signaling socket goes through Playwright's WebSocket route, which drops the server's first
// answer to his consume of Alice's camera.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interceptSignaling, joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { serverParticipant } from '../helpers/server.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

test('a consume whose answer was lost is asked again, gets the same consumer, and the video plays', async () => {
  const roomId = `e2e-consume-retry-${Date.now()}`;
  const { page: alice } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(alice, roomId, 'Alice');
  // "Joined" shows before the camera is produced: wait for it on the server.
  const aliceCamera = await waitFor(
    "Alice's camera on the server",
    async () =>
      [...(serverParticipant(fixture.server, roomId, 'Alice')?.producers.values() ?? [])]
        .filter((p) => p.kind === 'video')
        .map((p) => p.id),
    (ids) => ids.length === 1,
    { timeoutMs: 20_000 },
  );

  const { page: bob } = await newParticipantPage(fixture.browser, fixture.server.url);
  const consumeRequests: number[] = [];
  let dropped: string | undefined;
  await interceptSignaling(bob, {
    onRequest: (request) => {
      const data = request.data as { producerId?: string } | undefined;
      if (request.request && request.method === 'consume' && data?.producerId === aliceCamera[0])
        consumeRequests.push(request.id as number);
    },
    // The first answer to a consume of Alice's camera never reaches the page.
    dropAnswer: (answer) => {
      if (!answer.response || answer.id !== consumeRequests[0] || dropped !== undefined) return false;
      dropped = String((answer.data as { id?: string } | undefined)?.id);
      return true;
    },
  });
  await joinRoom(bob, roomId, 'Bob', { camOn: false });

  // Bob's page times out (protoo's ~22 s), asks again and gets the consumer the server made.
  await waitFor(
    'a second consume of the same camera',
    async () => consumeRequests.length,
    (n) => n >= 2,
    {
      timeoutMs: 45_000,
    },
  );
  await assertMediaFlows(bob, ['Alice'], 'Bob after the retried consume', { timeoutMs: 30_000 });
  const bobOnServer = serverParticipant(fixture.server, roomId, 'Bob');
  const consumers = [...(bobOnServer?.consumers.values() ?? [])].filter((c) => c.kind === 'video');
  assert.deepEqual(
    consumers.map((c) => c.id),
    [dropped],
    'one video consumer on the server: the one whose first answer was dropped',
  );
  assert.equal(consumers[0]?.paused, false, 'resumed by the page and forwarded');
});
