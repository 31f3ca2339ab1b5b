// Browser end-to-end: the service worker shows a web push. Chromium delivers a push to the
// app's service worker through its DevTools protocol (ServiceWorker.deliverPushMessage, as a
// push service would after the server's push); the service worker shows it as a notification
// with the title, text and link the server sent, a link off this site is not kept, and the
// room page opened at that link shows the message marked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();
const quick = { timeoutMs: 20_000, intervalMs: 200 };

interface Shown {
  title: string;
  body: string;
  url: string;
}

test('a delivered push is shown by the service worker; its link opens the room at the message', async () => {
  const roomId = `e2e-push-${Date.now()}`;
  const { context, page } = await newParticipantPage(fixture.browser, fixture.server.url);
  const origin = new URL(fixture.server.url).origin;
  await context.grantPermissions(['notifications'], { origin });
  await joinRoom(page, roomId, 'Ann', { textOnly: true });
  await page.getByTestId('chat-input').fill('the message to come back to');
  await page.getByTestId('chat-send').click();
  const messageId = await waitFor(
    'the message is stored',
    () => page.locator('[data-testid="chat-message"]').first().getAttribute('data-id'),
    (id) => id !== null,
    quick,
  );
  await page.evaluate('navigator.serviceWorker.ready.then(() => true)');

  const cdp = await context.newCDPSession(page);
  const registrationId = new Promise<string>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL.startsWith(origin) && !r.isDeleted);
      if (ours) resolve(ours.registrationId);
    });
  });
  await cdp.send('ServiceWorker.enable');
  // DevTools answers a delivery before it is made and drops its outcome: a push that went
  // nowhere (most likely: the registration not yet stored, which follows `ready`) is lost
  // without a word.
  // Seen once in a fresh-clone run (nothing shown in 20 s). A push service would hold the
  // message; here it is delivered again until shown, and a repeat replaces its copy (same tag).
  const deliver = async (payload: unknown) =>
    cdp.send('ServiceWorker.deliverPushMessage', {
      origin,
      registrationId: await registrationId,
      data: JSON.stringify(payload),
    });
  const shown = () =>
    page.evaluate(`navigator.serviceWorker.ready
      .then((registration) => registration.getNotifications())
      .then((list) => list.map((n) => ({ title: n.title, body: n.body, url: n.data && n.data.url })))`) as Promise<
      Shown[]
    >;
  const deliverUntilShown = async (payload: Shown & { tag: string }, what: string, count: number) => {
    const deadline = Date.now() + 20_000;
    for (let attempt = 1; ; attempt++) {
      await deliver(payload);
      const until = Math.min(Date.now() + 3000, deadline);
      while (Date.now() < until) {
        const list = await shown();
        if (list.length === count) return list;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const list = await shown();
      if (list.length === count) return list;
      if (Date.now() >= deadline)
        assert.fail(`timed out waiting for ${what}; last value: ${JSON.stringify(list)}`);
      console.log(`${what}: not shown after delivery ${attempt}; delivering again`);
    }
  };

  const [notification] = await deliverUntilShown(
    { title: `Bo in ${roomId}`, body: 'look at this', url: `/r/${roomId}#m=${messageId}`, tag: roomId },
    'the notification is shown',
    1,
  );
  assert.deepEqual(notification, {
    title: `Bo in ${roomId}`,
    body: 'look at this',
    url: `/r/${roomId}#m=${messageId}`,
  });

  // A link off this site is not kept (the click would open the app's home instead).
  const list = await deliverUntilShown(
    { title: 'Elsewhere', body: 'x', url: 'https://evil.example/', tag: 'other' },
    'the second notification',
    2,
  );
  assert.equal(list.find((n) => n.title === 'Elsewhere')?.url, '/');

  // What a click opens (a new window at the link): the room at the message, marked.
  const opened = await context.newPage();
  await opened.goto(`/r/${roomId}#m=${messageId}`);
  await opened.getByTestId('join-text').click();
  const marked = opened.locator(`[data-testid="chat-message"][data-id="${messageId}"].jumped`);
  await waitFor(
    'the message is marked',
    () => marked.count(),
    (n) => n === 1,
    quick,
  );
});
