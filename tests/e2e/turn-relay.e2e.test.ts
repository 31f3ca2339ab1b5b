// Browser end-to-end through a real coturn: the server tells both mediasoup-client
// transports to use iceTransportPolicy 'relay', so the only way media can flow is through
// TURN. The selected candidate pair must be a relay one, and video must decode.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { joinRoom, launchBrowser, newParticipantPage, statsOf } from '../helpers/browser.js';
import { startCoturn, type TestCoturn } from '../helpers/coturn.js';
import { startServer, type TestServer } from '../helpers/server.js';

let coturn: TestCoturn;
let server: TestServer | undefined;
let browser: Browser;

before(async () => {
  coturn = await startCoturn();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
  await coturn?.stop();
});

type PairInfo = {
  direction: string;
  local: string | null;
  remote: string | null;
  state: string | null;
  relayProtocol: string | null;
};
const transportStats = (page: Page) =>
  page.evaluate(() =>
    (window as unknown as { __meet: { transportStats(): Promise<PairInfo[]> } }).__meet.transportStats(),
  );

async function framesFrom(page: Page, name: string): Promise<number> {
  const s = (await statsOf(page)).find((x) => x.displayName === name);
  return s?.video?.frameWidth ? s.video.framesDecoded : 0;
}

for (const transport of ['udp', 'tcp'] as const) {
  test(`with relay-only ICE over TURN/${transport}, media flows through coturn and the nominated pair is relay`, async () => {
    await server?.close();
    server = await startServer({
      TURN_URLS: `turn:127.0.0.1:${coturn.port}?transport=${transport}`,
      TURN_SECRET: coturn.secret,
      ICE_TRANSPORT_POLICY: 'relay',
    });
    const roomId = `e2e-turn-${transport}-${Date.now()}`;
    const { page: una } = await newParticipantPage(browser, server.url);
    const { page: vic } = await newParticipantPage(browser, server.url);
    await joinRoom(una, roomId, 'Una');
    await joinRoom(vic, roomId, 'Vic');

    for (const [page, other] of [
      [una, 'Vic'],
      [vic, 'Una'],
    ] as const) {
      const deadline = Date.now() + 45_000;
      const start = await framesFrom(page, other);
      while ((await framesFrom(page, other)) < start + 10) {
        if (Date.now() > deadline) assert.fail(`no video from ${other} through TURN/${transport}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const pairs = await transportStats(page);
      assert.deepEqual(pairs.map((p) => p.direction).sort(), ['recv', 'send']);
      for (const pair of pairs) {
        assert.equal(pair.local, 'relay', `${pair.direction} transport local candidate is ${pair.local}`);
        assert.equal(
          pair.relayProtocol,
          transport,
          `${pair.direction} transport reaches TURN over ${pair.relayProtocol}`,
        );
        assert.equal(pair.state, 'succeeded');
      }
    }
    await una.close();
    await vic.close();
  });
}
