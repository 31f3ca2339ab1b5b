// Browser end-to-end: network honesty. A Chromium inside a network namespace (its link cut
// or narrowed by tests/helpers/netns.ts; needs root and iptables/tc) in a call with a
// Chromium on this machine.
//
// - A dropped network recovers by ICE restart, without rejoining. First the namespace's
//   UDP is cut both ways: the ICE restart (counted: `restartIce` answered 200 in /metrics)
//   finds the server's TCP candidate and media flows both ways again during the cut. Then
//   every media path is cut for ~15 s (UDP, and TCP but for the server's HTTP port: the
//   signaling websocket stays up): the page shows the media alert, ICE is restarted during
//   the cut, and once the link is back media flows both ways again, the alert goes, and
//   the participant is the same one (same selfId; the signaling never left 'joined').
// - A poor uplink is told: the namespace's uplink limited to 150 kbit/s while the other
//   participant pins its camera (the top layer is wanted): the publisher's page shows the
//   uplink warning; the limit lifted, the warning goes. (What tells it here is the sender's
//   `qualityLimitationReason` 'bandwidth': the server's producer scores stay high, the
//   sender's bandwidth estimate keeping losses low. The warning goes once the estimate has
//   ramped up to what the wanted layers need again: some 30 s after the limit is lifted.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { scrape, valueOf } from '../../server/test/support/metrics.js';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const METRICS_TOKEN = 'network-recovery-metrics-token-0123456789';
const fixture = useServerAndBrowser({ METRICS_TOKEN }, { netnsChromium: true });

const CUT_MS = 15_000;
const T0 = Date.now();
/** What the test saw, and when (seconds since the file started): for the log. */
const step = (what: string) => console.log(`[${((Date.now() - T0) / 1000).toFixed(1)} s] ${what}`);

/** `restartIce` requests the server answered with 200. */
async function iceRestarts(): Promise<number> {
  const metrics = await scrape(new URL('/metrics', fixture.server.url).href, METRICS_TOKEN);
  return valueOf(metrics, 'meet_signaling_requests_total', { method: 'restartIce', code: '200' }) ?? 0;
}

const selfId = (page: Page) =>
  page.evaluate(() => (window as unknown as { __meet: { selfId(): string } }).__meet.selfId());

/** Records every signaling status the page goes through (sampled every 100 ms, in the page). */
async function recordStatuses(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __meet: { status(): string }; __statuses: string[] };
    w.__statuses = [w.__meet.status()];
    setInterval(() => {
      const now = w.__meet.status();
      if (w.__statuses[w.__statuses.length - 1] !== now) w.__statuses.push(now);
    }, 100);
  });
}

const statuses = (page: Page) =>
  page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);

test('a dropped network recovers by ICE restart, without rejoining (UDP cut: over TCP; all media cut: once it is back)', async () => {
  const { netns } = fixture;
  const roomId = `recovery-${Date.now()}`;
  const { page: alice, context: aliceContext } = await newParticipantPage(
    fixture.netnsBrowser,
    fixture.server.url,
  );
  const { page: bob, context: bobContext } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(alice, roomId, 'Alice');
  await joinRoom(bob, roomId, 'Bob');
  await assertMediaFlows(alice, ['Bob'], 'Alice before the cut');
  await assertMediaFlows(bob, ['Alice'], 'Bob before the cut');
  const aliceId = await selfId(alice);
  assert.ok(aliceId);
  await recordStatuses(alice);
  const alert = alice.getByTestId('media-alert');
  const restartsAtStart = await iceRestarts();
  step('call up, media flowing both ways');

  try {
    // 1. UDP cut both ways: the ICE restart finds the server's TCP candidate, and media
    //    flows again during the cut.
    await netns.dropRandom({ toNamespace: 1, fromNamespace: 1 }, { protocol: 'udp' });
    await assertMediaFlows(alice, ['Bob'], 'Alice, UDP cut', { timeoutMs: 60_000 });
    await assertMediaFlows(bob, ['Alice'], 'Bob, UDP cut', { timeoutMs: 60_000 });
    const udpCut = await netns.conditionStats();
    assert.equal(udpCut.toNamespace.dropProtocol, 'udp');
    assert.ok(udpCut.toNamespace.randomDropped > 0, 'UDP toward the namespace was dropped');
    assert.ok(udpCut.fromNamespace.randomDropped > 0, 'UDP from the namespace was dropped');
    const udpRestarts = (await iceRestarts()) - restartsAtStart;
    step(`UDP cut: media flows (over TCP) after ${udpRestarts} ICE restart(s)`);
    assert.ok(udpRestarts >= 1, `the server answered restartIce during the UDP cut (${udpRestarts})`);

    // 2. Every media path cut both ways (UDP, and TCP but for the server's HTTP port: the
    //    websocket stays up) for CUT_MS: the page says so and restarts ICE while it lasts.
    const httpPort = Number(new URL(fixture.server.url).port);
    const cutAt = Date.now();
    const restartsBeforeCut = await iceRestarts();
    await netns.dropRandom({ toNamespace: 1, fromNamespace: 1 }, { spareTcpPort: httpPort });
    await alert.waitFor({ timeout: CUT_MS + 15_000 });
    step(
      `media cut: alert after ${Date.now() - cutAt} ms (kind ${await alert.getAttribute('data-kind')}): ` +
        (await alice.getByTestId('media-alert-detail').innerText()),
    );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, CUT_MS - (Date.now() - cutAt))));
    const cut = await netns.conditionStats();
    assert.ok(cut.toNamespace.randomDropped > 0, 'packets toward the namespace were dropped');
    assert.ok(cut.fromNamespace.randomDropped > 0, 'packets from the namespace were dropped');
    const cutRestarts = (await iceRestarts()) - restartsBeforeCut;
    step(`media cut for ${Date.now() - cutAt} ms: ${cutRestarts} ICE restart(s) answered during it`);
    assert.ok(cutRestarts >= 1, `the server answered restartIce during the cut (${cutRestarts})`);
  } finally {
    await netns.clearConditions();
  }

  // The link is back: media flows both ways again, on the same participant, and the alert goes.
  const restoredAt = Date.now();
  await assertMediaFlows(alice, ['Bob'], 'Alice after the cut', { timeoutMs: 60_000 });
  await assertMediaFlows(bob, ['Alice'], 'Bob after the cut', { timeoutMs: 60_000 });
  await waitFor(
    'the media alert to go',
    () => alert.count(),
    (n) => n === 0,
    { timeoutMs: 30_000 },
  );
  step(
    `link back: media flows and the alert is gone after ${Date.now() - restoredAt} ms; ` +
      `${(await iceRestarts()) - restartsAtStart} ICE restart(s) in all`,
  );
  assert.equal(await selfId(alice), aliceId, 'Alice is the same participant');
  assert.deepEqual(await statuses(alice), ['joined'], 'the signaling stayed joined throughout');
  assert.equal(await bob.getByTestId('media-alert').count(), 0);
  await aliceContext.close();
  await bobContext.close();
});

test('a poor uplink (150 kbit/s) is told to the publisher; the notice goes when the link is good again', async () => {
  const { netns } = fixture;
  const roomId = `uplink-${Date.now()}`;
  const { page: alice, context: aliceContext } = await newParticipantPage(
    fixture.netnsBrowser,
    fixture.server.url,
  );
  const { page: bob, context: bobContext } = await newParticipantPage(fixture.browser, fixture.server.url);
  await bob.setViewportSize({ width: 1280, height: 800 });
  await joinRoom(alice, roomId, 'Alice');
  await joinRoom(bob, roomId, 'Bob', { camOn: false });
  // Bob shows Alice large: her top layer is wanted.
  await bob.getByRole('button', { name: 'Pin Alice', exact: true }).click();
  await assertMediaFlows(bob, ['Alice'], 'Bob, Alice pinned');
  const warning = alice.getByTestId('uplink-warning');
  await waitFor(
    'no uplink warning on the good link',
    () => warning.count(),
    (n) => n === 0,
  );

  await netns.limitRate({ fromNamespace: 150 });
  try {
    const limitedAt = Date.now();
    await warning.waitFor({ timeout: 60_000 });
    step(`uplink limited: warning after ${Date.now() - limitedAt} ms`);
    assert.ok((await netns.conditionStats()).fromNamespace.overlimits > 0, 'the limit shaped the uplink');
  } finally {
    await netns.limitRate({ fromNamespace: null });
  }
  const liftedAt = Date.now();
  await waitFor(
    'the uplink warning to go',
    () => warning.count(),
    (n) => n === 0,
    { timeoutMs: 90_000 },
  );
  step(`limit lifted: warning gone after ${Date.now() - liftedAt} ms`);
  await aliceContext.close();
  await bobContext.close();
});
