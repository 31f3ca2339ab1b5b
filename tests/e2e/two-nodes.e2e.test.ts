// Browser end-to-end: two server nodes (real processes, one media worker each) sharing one
// PostgreSQL database and one Redis (Debian's redis-server), behind haproxy. The load
// balancer sends every connection to the first node while it is up (`balance first`), so
// that a test knows where each page lands: a page opened through it is on node A, a page
// opened on node B's own address is on node B.
//
// - Two participants on two nodes see and hear each other (media piped between the nodes),
//   chat sent on one node arrives on the other in order, and a host on node A mutes a
//   participant on node B.
// - A room opened on node B: its later participants, sent to node A by the load balancer,
//   are told to move (moveTo) and their pages connect again naming node B (the load balancer
//   routes that to node B): the room stays on one node.
// - Node A is killed: its participant's page reconnects through the load balancer (to node
//   B), the participant on node B keeps its connection, and media flows again both ways.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chatLines, joinRoom, launchBrowser, newParticipantPage } from '../helpers/browser.js';
import { startLoadBalancer, startNode, type TestLoadBalancer, type TestNode } from '../helpers/cluster.js';
import { assertMediaFlows } from '../helpers/media.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

let redis: TestRedis;
let database: TestDatabase;
let nodeA: TestNode;
let nodeB: TestNode;
let balancer: TestLoadBalancer;
let browser: Browser;
const metricsToken = 'two-nodes-e2e-metrics-token';

/** Participants in the call on a node (its /metrics). */
async function inCallOn(node: TestNode): Promise<number> {
  const response = await fetch(`${node.url}/metrics`, {
    headers: { authorization: `Bearer ${metricsToken}` },
  });
  const line = (await response.text())
    .split('\n')
    .find((l) => l.startsWith('meet_participants{state="call"} '));
  return Number(line?.split(' ')[1] ?? 0);
}

before(async () => {
  redis = await startRedis();
  database = await createTestDatabase();
  const env = (nodeId: string) => ({
    REDIS_URL: redis.url,
    DATABASE_URL: database.url,
    NODE_ID: nodeId,
    CLUSTER_NODE_TTL_MS: '2000',
    METRICS_TOKEN: metricsToken,
  });
  [nodeA, nodeB] = await Promise.all([startNode(env('node-a')), startNode(env('node-b'))]);
  balancer = await startLoadBalancer([nodeA.url, nodeB.url], {
    balance: 'first',
    nodeIds: ['node-a', 'node-b'],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await balancer?.stop();
  await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await database?.drop();
  await redis?.stop();
});

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
  // Acknowledged = stored: the pending line is gone.
  await waitFor(
    `"${text}" acknowledged`,
    () => page.getByTestId('chat-pending').count(),
    (n) => n === 0,
    { timeoutMs: 20_000, intervalMs: 200 },
  );
}

async function open(baseUrl: string, roomId: string, name: string): Promise<Page> {
  const { page } = await newParticipantPage(browser, baseUrl);
  await joinRoom(page, roomId, name);
  return page;
}

test('participants on two nodes see and hear each other; chat in order and a host action cross nodes', async () => {
  const roomId = `e2e-two-nodes-${Date.now()}`;
  const ann = await open(balancer.url, roomId, 'Ann');
  const ben = await open(nodeB.url, roomId, 'Ben');

  await assertMediaFlows(ann, ['Ben'], 'Ann (node A) receives Ben (node B)');
  await assertMediaFlows(ben, ['Ann'], 'Ben (node B) receives Ann (node A)');

  // Chat: each sends while the other's messages arrive; both see one order, the stored one.
  for (const text of ['one', 'two', 'three']) await send(ann, text);
  await send(ben, 'four');
  await send(ann, 'five');
  const expected = ['Ann: one', 'Ann: two', 'Ann: three', 'Ben: four', 'Ann: five'];
  for (const [who, page] of [
    ['Ann', ann],
    ['Ben', ben],
  ] as const)
    await waitFor(
      `${who} to show the five messages in order`,
      () => chatLines(page),
      (lines) => JSON.stringify(lines.filter((l) => !l.includes('joined'))) === JSON.stringify(expected),
      { timeoutMs: 20_000, intervalMs: 200 },
    );

  // Ann, the first member, is host; she turns Ben's microphone off from the people list.
  if ((await ann.getByTestId('tab-people').count()) === 0) await ann.getByTestId('toggle-chat').click();
  await ann.getByTestId('tab-people').click();
  const mute = ann.getByRole('button', { name: 'Mute Ben' });
  await waitFor(
    'Ann can mute Ben',
    () => mute.isEnabled(),
    (enabled) => enabled,
  );
  await mute.click();
  await waitFor(
    "Ben's page says a host muted him",
    () =>
      ben
        .getByTestId('notice')
        .innerText()
        .catch(() => ''),
    (text) => /Ann turned off your microphone/.test(text),
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  assert.equal(await ben.getByTestId('toggle-mic').innerText(), 'Unmute');
  await Promise.all([ann.close(), ben.close()]);
});

test("a room's later participants, sent by the load balancer to the other node, are moved to the room's node", async () => {
  // Fay opens the room on node B (directly). Gus and Hal come through the load balancer,
  // which sends them to node A (the first): node A tells their pages to move (moveTo), and
  // they connect again naming node B, which the load balancer routes to node B.
  const roomId = `e2e-placement-${Date.now()}`;
  await waitFor(
    'the earlier pages to have left both nodes',
    async () => [await inCallOn(nodeA), await inCallOn(nodeB)],
    (counts) => counts.every((n) => n === 0),
    { timeoutMs: 20_000, intervalMs: 250 },
  );
  const names = ['Fay', 'Gus', 'Hal'];
  const pages = [await open(nodeB.url, roomId, 'Fay')];
  const sockets: string[] = [];
  for (const name of ['Gus', 'Hal']) {
    const { page } = await newParticipantPage(browser, balancer.url);
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await joinRoom(page, roomId, name);
    pages.push(page);
  }
  for (const [i, name] of names.entries())
    await assertMediaFlows(
      pages[i] as Page,
      names.filter((other) => other !== name),
      `${name} (all on node B)`,
    );
  assert.deepEqual([await inCallOn(nodeA), await inCallOn(nodeB)], [0, 3], 'in the call on node A, node B');
  assert.equal(
    sockets.filter((url) => new URL(url).searchParams.get('node') === 'node-b').length,
    2,
    `Gus and Hal were moved, each once: ${sockets.join(' ')}`,
  );
  await Promise.all(pages.map((page) => page.close()));
});

test('a node dies: its participants come back through the load balancer, and media flows again', async () => {
  const roomId = `e2e-node-death-${Date.now()}`;
  const cal = await open(balancer.url, roomId, 'Cal');
  const dee = await open(nodeB.url, roomId, 'Dee');
  await assertMediaFlows(cal, ['Dee'], 'Cal (node A) receives Dee (node B)');
  await assertMediaFlows(dee, ['Cal'], 'Dee (node B) receives Cal (node A)');
  const deeSockets: string[] = [];
  dee.on('websocket', (ws) => deeSockets.push(ws.url()));

  const killedAt = Date.now();
  nodeA.kill('SIGKILL');
  await nodeA.exited;

  // Cal's page reconnects by itself, through the load balancer, to node B; Dee stays.
  await cal.locator('[data-testid="room"][data-status="joined"]').waitFor({ timeout: 30_000 });
  await assertMediaFlows(cal, ['Dee'], 'Cal (back, on node B) receives Dee');
  await assertMediaFlows(dee, ['Cal'], 'Dee receives Cal again');
  console.log(`node A killed: media flows both ways again after ${Date.now() - killedAt} ms`);
  assert.deepEqual(deeSockets, [], "Dee's page never opened another socket: its call went on");
});
