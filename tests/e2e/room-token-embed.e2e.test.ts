// Browser end-to-end: room tokens and embed mode. An operator's page on another site (here
// http://localhost:<port>, while the server is http://127.0.0.1:<port>: two sites) shows the
// room in an iframe with a host token in the link (#token=…). Inside the frame the name is
// the token's and cannot be edited, the person joins the call (camera and microphone through
// the iframe's allow attribute; signaling authenticated by the partitioned cookie the frame
// got), and has the host controls. A second person opens a participant token's link: joins
// with that name, without host controls, and the two see each other's video. An expired
// token's link says why it was refused; a page of an origin not in EMBED_ORIGINS cannot
// frame the app (the browser refuses it by frame-ancestors).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { SignJWT } from 'jose';
import type { Frame, Page } from 'playwright-core';
import { newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';

const secret = 'e2e-room-token-secret-0123456789abcdef';

/** A tiny site of the operator's: /embed?src=<url> is a page framing that url. */
async function startEmbeddingSite(): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    const src = new URL(request.url ?? '/', 'http://localhost').searchParams.get('src') ?? '';
    const attribute = src.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      `<!doctype html><title>Operator app</title><h1>Our app</h1>` +
        `<iframe src="${attribute}" allow="camera; microphone; autoplay; display-capture" ` +
        `style="width: 1000px; height: 700px"></iframe>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://localhost:${(server.address() as AddressInfo).port}` };
}

let allowed: { server: Server; origin: string } | undefined;
let foreign: { server: Server; origin: string } | undefined;
after(() => {
  allowed?.server.close();
  foreign?.server.close();
});

// The operator's sites start first: the server is told which one may frame it.
const fixture = useServerAndBrowser(async () => {
  allowed = await startEmbeddingSite();
  foreign = await startEmbeddingSite();
  return { ROOM_TOKEN_SECRET: secret, EMBED_ORIGINS: allowed.origin };
});
const site = (which: typeof allowed) => {
  if (!which) throw new Error('the embedding sites are not started');
  return which.origin;
};

async function token(room: string, name: string, role: 'host' | 'participant', exp: number | string = '10m') {
  return new SignJWT({ room, name, role })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(typeof exp === 'number' ? exp - 600 : undefined)
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

/** The room app inside the operator's page. */
async function roomFrame(page: Page): Promise<Frame> {
  const element = await page.waitForSelector('iframe');
  const frame = await element.contentFrame();
  assert.ok(frame, 'the iframe has a document');
  return frame;
}

test('an embedded host and a linked participant join with their tokens’ names and roles', async () => {
  const roomId = `e2e-token-${Date.now()}`;
  const hostLink = `${fixture.server.url}/r/${roomId}#token=${await token(roomId, 'Hana Host', 'host')}`;
  const { page: operatorPage } = await newParticipantPage(fixture.browser, fixture.server.url);
  await operatorPage.goto(`${site(allowed)}/embed?src=${encodeURIComponent(hostLink)}`);
  const hana = await roomFrame(operatorPage);

  // The name is the token's, read-only; the token is gone from the frame's address.
  const nameInput = hana.getByLabel('Your name');
  await hana.waitForFunction(
    () =>
      (document.querySelector('input[name="displayName"]') as HTMLInputElement | null)?.value === 'Hana Host',
  );
  assert.equal(await nameInput.getAttribute('readonly'), '');
  assert.doesNotMatch(hana.url(), /token=/);
  await hana.getByTestId('join').click();
  await hana.getByTestId('room').waitFor({ timeout: 30_000 });
  await hana.waitForFunction(
    () => document.querySelector('[data-testid="room"]')?.getAttribute('data-status') === 'joined',
  );
  await hana.getByTestId('lock-room').waitFor();

  // A participant's link, opened directly.
  const { page: pat } = await newParticipantPage(fixture.browser, fixture.server.url);
  await pat.goto(`/r/${roomId}#token=${await token(roomId, 'Pat Participant', 'participant')}`);
  await pat.waitForFunction(
    () =>
      (document.querySelector('input[name="displayName"]') as HTMLInputElement | null)?.value ===
      'Pat Participant',
  );
  await pat.getByTestId('join').click();
  await pat.waitForFunction(
    () => document.querySelector('[data-testid="room"]')?.getAttribute('data-status') === 'joined',
  );
  assert.equal(await pat.getByTestId('lock-room').count(), 0, 'a participant token gives no host controls');

  // Each sees the other under the token's name, with the token's role, and decodes their video.
  await hana.locator('[data-testid="tile"][data-name="Pat Participant"]').waitFor({ timeout: 20_000 });
  await pat.locator('[data-testid="tile"][data-name="Hana Host"]').waitFor({ timeout: 20_000 });
  await assertMediaFlows(pat, ['Hana Host'], 'Pat sees the embedded host');
  await assertMediaFlows(hana, ['Pat Participant'], 'the embedded host sees Pat');
  if ((await pat.getByTestId('tab-people').count()) === 0) await pat.getByTestId('toggle-chat').click();
  await pat.getByTestId('tab-people').click();
  await pat.locator('[data-testid="person"][data-name="Hana Host"][data-role="host"]').waitFor();
});

test('an expired token’s link says why it was refused', async () => {
  const roomId = `e2e-token-expired-${Date.now()}`;
  const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
  const expired = await token(roomId, 'Late Larry', 'host', Math.floor(Date.now() / 1000) - 120);
  await page.goto(`/r/${roomId}#token=${expired}`);
  const alert = page.getByTestId('token-error');
  await alert.waitFor();
  assert.match(await alert.innerText(), /refused: the room token expired at/);
  assert.equal(await page.getByLabel('Your name').getAttribute('readonly'), null, 'the name is free again');
});

test('a site not in EMBED_ORIGINS cannot frame the app', async () => {
  const roomId = `e2e-token-foreign-${Date.now()}`;
  const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
  const refused = new Promise<string>((resolve) => {
    page.on('console', (message) => {
      if (/frame-ancestors/.test(message.text())) resolve(message.text());
    });
  });
  const link = `${fixture.server.url}/r/${roomId}#token=${await token(roomId, 'Framed Fred', 'host')}`;
  await page.goto(`${site(foreign)}/embed?src=${encodeURIComponent(link)}`);
  const message = await Promise.race([
    refused,
    new Promise<string>((_, reject) =>
      setTimeout(() => reject(new Error('no frame-ancestors refusal')), 15_000),
    ),
  ]);
  assert.match(
    message,
    /violates the following Content Security Policy directive: "frame-ancestors 'self' http:\/\/localhost:\d+".*blocked/,
  );
  const frame = await roomFrame(page);
  assert.equal(
    await frame.locator('[data-testid="prejoin"]').count(),
    0,
    'the app did not load in the frame',
  );
});
