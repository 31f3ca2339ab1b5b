// Browser end-to-end: reactions and search in the chat panel. Bo reacts to Ada's message from
// the picker and Ada sees "👍 1" with Bo's name on it; Ada adds hers ("👍 2", pressed for her),
// then Bo takes his back ("👍 1"), and a reload still shows it (stored). Ada searches the
// history: the matching messages, newest first, with the words marked; closing the search
// brings the conversation back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();
const quick = { timeoutMs: 15_000, intervalMs: 100 };

async function send(page: Page, text: string) {
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
}

const messageWith = (page: Page, text: string) =>
  page
    .getByTestId('chat-message')
    .filter({ has: page.getByTestId('chat-text').getByText(text, { exact: true }) });

const thumbs = (page: Page, text: string) =>
  messageWith(page, text).locator('[data-testid="chat-reaction"][data-emoji="👍"]');

async function chipState(page: Page, text: string) {
  const chip = thumbs(page, text);
  if ((await chip.count()) === 0) return 'none';
  return `${await chip.getAttribute('data-count')} ${await chip.getAttribute('aria-pressed')}`;
}

test('reactions reach the other browser and stay; search finds and marks the words', async () => {
  const roomId = `e2e-reactions-${Date.now()}`;
  const open = async (name: string) => {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomId, name, { textOnly: true });
    return page;
  };
  const ada = await open('Ada');
  const bo = await open('Bo');
  await send(ada, 'shall we meet on Monday?');
  await send(ada, 'lunch first');
  await send(bo, 'the meeting notes are ready');
  await waitFor(
    'Bo sees Ada’s question',
    () => messageWith(bo, 'shall we meet on Monday?').count(),
    (n) => n === 1,
    quick,
  );

  // Bo reacts from the picker.
  const question = messageWith(bo, 'shall we meet on Monday?');
  await question.getByTestId('chat-react').click();
  await question.locator('[data-testid="chat-react-choice"][data-emoji="👍"]').click();
  await waitFor(
    'Ada sees 👍 1, not hers',
    () => chipState(ada, 'shall we meet on Monday?'),
    (s) => s === '1 false',
    quick,
  );
  assert.equal(await thumbs(ada, 'shall we meet on Monday?').getAttribute('title'), 'Bo');
  assert.equal(await chipState(bo, 'shall we meet on Monday?'), '1 true');

  // Ada adds hers by clicking the chip; Bo takes his back.
  await thumbs(ada, 'shall we meet on Monday?').click();
  await waitFor(
    'Bo sees 👍 2',
    () => chipState(bo, 'shall we meet on Monday?'),
    (s) => s === '2 true',
    quick,
  );
  await thumbs(bo, 'shall we meet on Monday?').click();
  await waitFor(
    'Ada sees 👍 1, hers',
    () => chipState(ada, 'shall we meet on Monday?'),
    (s) => s === '1 true',
    quick,
  );

  // Stored: Bo opens the room again and sees the same.
  await joinRoom(bo, roomId, 'Bo', { textOnly: true });
  await waitFor(
    'after a reload, Bo sees 👍 1 (Ada’s)',
    () => chipState(bo, 'shall we meet on Monday?'),
    (s) => s === '1 false',
    quick,
  );

  // Search.
  await ada.getByTestId('chat-search-input').fill('meet');
  await ada.getByTestId('chat-search-input').press('Enter');
  const results = ada.getByTestId('chat-search-result');
  await waitFor(
    'two results',
    () => results.count(),
    (n) => n === 2,
    quick,
  );
  assert.deepEqual(await results.locator('p').allInnerTexts(), [
    'the meeting notes are ready',
    'shall we meet on Monday?',
  ]);
  assert.deepEqual(await results.locator('mark').allInnerTexts(), ['meeting', 'meet']);
  assert.equal(await ada.getByTestId('chat-messages').isVisible(), false, 'results replace the conversation');
  await ada.getByTestId('chat-search-input').fill('nothing-like-this');
  await ada.getByTestId('chat-search-input').press('Enter');
  await waitFor(
    'no results',
    () => ada.getByTestId('chat-search-empty').count(),
    (n) => n === 1,
    quick,
  );
  await ada.getByTestId('chat-search-close').click();
  assert.equal(
    await ada.getByTestId('chat-messages').isVisible(),
    true,
    'closing brings the conversation back',
  );
  assert.equal(await messageWith(ada, 'lunch first').count(), 1);
});
