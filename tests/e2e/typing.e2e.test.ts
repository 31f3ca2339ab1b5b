// Browser end-to-end: typing indicators. Bo types in the composer and Ada's chat says "Bo is
// typing…" until his message arrives; with "Only Ada" chosen, Ada's says he is writing to
// her privately, and Cy, the third person, sees no private indicator.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

const typingLine = (page: Page) => page.getByTestId('typing').innerText();
const quick = { timeoutMs: 15_000, intervalMs: 100 };

test('typing shows to the others until the message arrives, and privately to its recipient only', async () => {
  const roomId = `e2e-typing-${Date.now()}`;
  const open = async (name: string) => {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomId, name, { textOnly: true });
    return page;
  };
  const ada = await open('Ada');
  const bo = await open('Bo');
  const cy = await open('Cy');

  await bo.getByTestId('chat-input').pressSequentially('hello every', { delay: 30 });
  for (const page of [ada, cy])
    await waitFor(
      'Bo is typing, to the room',
      () => typingLine(page),
      (line) => line === 'Bo is typing…',
      quick,
    );
  assert.equal(await typingLine(bo), '', 'nobody is shown their own typing');
  await bo.getByTestId('chat-send').click();
  await waitFor(
    'the indicator goes when the message arrives',
    () => typingLine(ada),
    (line) => line === '',
    quick,
  );

  await bo.getByTestId('chat-recipient').selectOption({ label: 'Only Ada' });
  await bo.getByTestId('chat-input').pressSequentially('just you', { delay: 30 });
  await waitFor(
    'Ada sees Bo writing to her',
    () => typingLine(ada),
    (line) => line === 'Bo is writing to you privately…',
    quick,
  );
  assert.equal(await typingLine(cy), '', 'Cy sees no private indicator');
});
