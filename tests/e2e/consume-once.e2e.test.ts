// Browser end-to-end: a producer announced while a page sets its call up is consumed once.
// Once its receive transport exists, the page sends its first view, then consumes every
// producer it knows of. A producer announced while that view is on its way is consumed on
// arrival, and it is also in the list consumed next. A fresh-clone run lost a camera this way
// after a media worker restart, when both pages set their calls up at the same moment
// (worker-restart.e2e.test.ts: "Ann: media from Ben" timed out). Here the window is held open:
// the answer to Ann's first setView waits until Ben's microphone and camera are announced.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interceptSignaling, joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

test('a producer announced while a page sets its call up is consumed once, and plays', async () => {
  const roomId = `e2e-consume-once-${Date.now()}`;
  const { page: ann } = await newParticipantPage(fixture.browser, fixture.server.url);
  let firstView: number | undefined;
  let releaseView = () => {};
  const viewHeld = new Promise<void>((resolve) => (releaseView = resolve));
  const announced: string[] = [];
  /** Ann's consume requests, by producer id. */
  const consumes = new Map<string, number>();
  await interceptSignaling(ann, {
    onRequest: (request) => {
      if (!request.request) return;
      if (request.method === 'setView') firstView ??= request.id as number;
      if (request.method === 'consume') {
        const { producerId } = request.data as { producerId: string };
        consumes.set(producerId, (consumes.get(producerId) ?? 0) + 1);
      }
    },
    hold: (message) => {
      if (message.notification && message.method === 'newProducer')
        announced.push((message.data as { id: string }).id);
      return message.response && message.id === firstView ? viewHeld : undefined;
    },
  });
  await joinRoom(ann, roomId, 'Ann');
  await waitFor(
    'Ann sends her first view',
    async () => firstView,
    (id) => id !== undefined,
  );

  const { page: ben } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(ben, roomId, 'Ben');
  await waitFor(
    "Ben's microphone and camera announced to Ann while her view is unanswered",
    async () => announced.length,
    (n) => n >= 2,
    { timeoutMs: 20_000 },
  );
  releaseView();

  await assertMediaFlows(ann, ['Ben'], 'Ann');
  await assertMediaFlows(ben, ['Ann'], 'Ben');
  assert.deepEqual(
    announced.map((id) => consumes.get(id)),
    [1, 1],
    "Ann asked once for each of Ben's producers",
  );
});
