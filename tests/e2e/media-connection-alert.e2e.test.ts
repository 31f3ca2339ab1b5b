// Browser end-to-end: when the browser cannot reach the media server (ICE fails), the room
// page says so (what failed, what to check, a way to try again) instead of showing black
// tiles, and the message goes away once media connects.
//
// The server announces an address inside a network namespace (tests/helpers/netns.ts, needs
// root), which forwards it to the server like a NAT port forward (DNAT + MASQUERADE, only
// inside the namespace). A firewall rule in the namespace first drops everything arriving
// there: the announced media address is unreachable. Then the rule goes, and media connects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser((netns) => ({ RTC_ANNOUNCED_ADDRESS: netns?.nsAddress ?? '' }), {
  netns: true,
});

test('unreachable media server: the page says what failed and what to check; the alert goes once media connects', async () => {
  const { netns } = fixture;
  const iptables = (...args: string[]) => netns.exec(['iptables', ...args]);
  // Everything arriving in the namespace is dropped, before connection tracking and NAT.
  const firewall = (op: '-A' | '-D') =>
    iptables('-t', 'raw', op, 'PREROUTING', '-i', netns.nsInterface, '-j', 'DROP');
  // The namespace forwards its address to the server, as a NAT port forward does.
  const portForward = ['-d', netns.nsAddress, '-j', 'DNAT', '--to-destination', netns.hostAddress];
  await netns.exec(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  await iptables('-t', 'nat', '-A', 'PREROUTING', ...portForward);
  await iptables('-t', 'nat', '-A', 'POSTROUTING', '-o', netns.nsInterface, '-j', 'MASQUERADE');
  await firewall('-A');

  const roomId = `alert-${Date.now()}`;
  const { page: alice } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(alice, roomId, 'Alice');
  const alert = alice.getByTestId('media-alert');
  await alert.waitFor({ timeout: 45_000 });
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.equal(await alert.getAttribute('data-kind'), 'ice');
  const text = (await alert.innerText()).replace(/\s+/g, ' ');
  const address = netns.nsAddress.replaceAll('.', '\\.');
  assert.match(text, new RegExp(`could not reach the media server at ${address}:\\d+ \\(UDP or TCP\\)`));
  assert.match(text, new RegExp(`RTC_ANNOUNCED_ADDRESS \\(now ${address}\\)`));
  assert.match(text, /firewall/);
  assert.match(text, /TURN/);

  // "Try again" restarts ICE; still unreachable, the alert stays.
  const retry = alice.getByTestId('media-retry');
  await retry.click();
  await waitFor(
    'the ICE restart',
    () => retry.isEnabled(),
    (enabled) => enabled,
  );
  assert.equal(await alert.count(), 1);
  // The firewall opens: media connects and the alert goes.
  await firewall('-D');
  await waitFor(
    'the alert to go',
    () => alert.count(),
    (n) => n === 0,
    { timeoutMs: 30_000 },
  );

  const { page: bob } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(bob, roomId, 'Bob');
  await assertMediaFlows(bob, ['Alice'], 'Bob');
  await assertMediaFlows(alice, ['Bob'], 'Alice');
  for (const page of [alice, bob]) assert.equal(await page.getByTestId('media-alert').count(), 0);
});
