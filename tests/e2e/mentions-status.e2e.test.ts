// Browser end-to-end: @mentions, status and in-page notifications. Bo types "@A" and picks
// Ada from the suggestions; his message reaches Ada marked as naming her, "@Ada" marked in
// it. With Ada's tab in the background, a message naming her puts "(1 @)" in her tab's title,
// gone when she is back. Bo sets himself busy: Ada's people list shows him busy, and his
// choice holds when he comes back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();
const quick = { timeoutMs: 15_000, intervalMs: 100 };

/** Makes the page believe its tab went to the background (or came back). */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  // (A string: a function would be compiled with helpers the page does not have.)
  await page.evaluate(`
    Object.defineProperty(document, 'visibilityState', { configurable: true, get() { return '${hidden ? 'hidden' : 'visible'}'; } });
    document.dispatchEvent(new Event('visibilitychange'));
  `);
}

test('a mention picked from suggestions reaches its person marked; the title counts it in the background; busy shows', async () => {
  const roomId = `e2e-mentions-${Date.now()}`;
  const open = async (name: string) => {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomId, name, { textOnly: true });
    return page;
  };
  const ada = await open('Ada');
  const bo = await open('Bo');

  await bo.getByTestId('chat-input').pressSequentially('@A', { delay: 30 });
  await bo.getByTestId('mention-suggestion').filter({ hasText: '@Ada' }).click();
  assert.equal(await bo.getByTestId('chat-input').inputValue(), '@Ada ');
  await bo.getByTestId('chat-input').pressSequentially('look at this', { delay: 10 });
  await bo.getByTestId('chat-send').click();
  const named = ada.locator('[data-testid="chat-message"][data-mentioned="true"]');
  await waitFor(
    'Ada gets the message naming her',
    () => named.count(),
    (n) => n === 1,
    quick,
  );
  assert.equal(await named.getByTestId('chat-mention').innerText(), '@Ada');
  assert.equal(await named.getByTestId('chat-text').innerText(), '@Ada look at this');

  // In the background: the title counts what arrives, "@" when it names her.
  await setHidden(ada, true);
  await bo.getByTestId('chat-input').fill('anyone?');
  await bo.getByTestId('chat-send').click();
  await waitFor(
    'the title counts one',
    () => ada.title(),
    (title) => title.startsWith('(1) '),
    quick,
  );
  await bo.getByTestId('chat-input').pressSequentially('@Ad', { delay: 30 });
  await bo.getByTestId('chat-input').press('Tab');
  await bo.getByTestId('chat-input').pressSequentially('ping', { delay: 10 });
  await bo.getByTestId('chat-send').click();
  await waitFor(
    'the title says one names her',
    () => ada.title(),
    (title) => title.startsWith('(2 @) '),
    quick,
  );
  await setHidden(ada, false);
  await waitFor(
    'back: no count',
    () => ada.title(),
    (title) => !title.startsWith('('),
    quick,
  );

  // Bo is busy: Ada sees it; it holds when he comes back.
  await bo.getByTestId('tab-people').click();
  await bo.getByTestId('my-status').selectOption('busy');
  await ada.getByTestId('tab-people').click();
  const boInAdasList = ada.locator('[data-testid="person"][data-name="Bo"]');
  await waitFor(
    'Ada sees Bo busy',
    () => boInAdasList.getAttribute('data-status'),
    (s) => s === 'busy',
    quick,
  );
  await joinRoom(bo, roomId, 'Bo', { textOnly: true });
  await bo.getByTestId('tab-people').click();
  assert.equal(await bo.getByTestId('my-status').inputValue(), 'busy');
  await waitFor(
    'still busy for Ada',
    () => boInAdasList.getAttribute('data-status'),
    (s) => s === 'busy',
    quick,
  );
});
