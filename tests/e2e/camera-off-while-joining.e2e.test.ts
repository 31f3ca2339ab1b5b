// Browser end-to-end: a camera turned off while someone is still setting up its video is
// shown off there. The consume answer says whether the producer is paused; a
// `producerPaused` told while the browser then sets the consumer up (seconds on a busy
// machine) is newer and must win. Before the fix, the answer's "not paused" overwrote it and
// the newcomer showed a frozen picture (and asked the server to forward it) until the
// camera was toggled again.
//
// Deterministic: Bob's page delays every setRemoteDescription by 3 s (an init script), so
// his consumer of Alice's camera is still being set up when the server has answered him;
// Alice turns her camera off right then.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { serverParticipant } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

test('a camera turned off while a newcomer sets up its video is shown off there, and on again after', async () => {
  const roomId = `e2e-cam-off-joining-${Date.now()}`;
  const { page: alice } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(alice, roomId, 'Alice');

  const { page: bob, context } = await newParticipantPage(fixture.browser, fixture.server.url);
  await context.addInitScript({
    content: `{
      const original = RTCPeerConnection.prototype.setRemoteDescription;
      RTCPeerConnection.prototype.setRemoteDescription = async function (...args) {
        await new Promise((resolve) => setTimeout(resolve, 3000));
        return original.apply(this, args);
      };
    }`,
  });
  await joinRoom(bob, roomId, 'Bob', { camOn: false });

  const bobOnServer = () => serverParticipant(fixture.server, roomId, 'Bob');
  // The server has answered Bob's consume of Alice's camera: his browser is setting it up.
  await waitFor(
    "the server answered Bob's consume of Alice's camera",
    async () => [...(bobOnServer()?.consumers.values() ?? [])].some((c) => c.kind === 'video'),
    (answered) => answered,
  );
  await alice.getByTestId('toggle-cam').click();

  // Once Bob's browser has set the consumer up (it resumed it: ready, no longer not_ready)…
  await waitFor(
    "Bob's browser finished setting up Alice's camera",
    async () => bobOnServer()?.media?.viewCounts(),
    (counts) => counts !== undefined && counts.notReady === 0 && counts.forwarding + counts.offView === 1,
    { timeoutMs: 30_000 },
  );
  // …his tile of Alice shows her camera off, and the server forwards nothing to it.
  const aliceTile = bob.locator('[data-testid="tile"][data-name="Alice"][data-source="webcam"]');
  await new Promise((resolve) => setTimeout(resolve, 2000)); // his next view, if it were wrong
  assert.equal(await aliceTile.getAttribute('data-video'), 'off');
  assert.deepEqual(bobOnServer()?.media?.viewCounts(), {
    forwarding: 0,
    offView: 1,
    notReady: 0,
    held: 0,
  });

  // On again: Bob sees it, and it is forwarded to him.
  await alice.getByTestId('toggle-cam').click();
  await waitFor(
    "Bob's tile of Alice shows her camera again",
    () => aliceTile.getAttribute('data-video'),
    (video) => video === 'on',
  );
  await waitFor(
    "Alice's camera is forwarded to Bob",
    async () => bobOnServer()?.media?.viewCounts().forwarding,
    (forwarding) => forwarding === 1,
  );
});
