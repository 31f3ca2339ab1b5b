// Browser end-to-end: "Your rooms" on the home page, live across two browsers. Ann has been
// in a room and is on the home page; Ben joins its call, and Ann's list says he is in the
// call; Ben writes, and Ann's list counts it unread with his words; he leaves the call and
// the list says so. Ann (host) names the room and gives it a topic, and Ben's room header
// shows them at once; her star puts it first; its link takes her back in without typing her
// name again, and what she read is no longer unread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();
const live = { timeoutMs: 20_000, intervalMs: 200 };

test('my rooms: who is in the call and unread counts update live; name, topic and star', async () => {
  const roomId = `e2e-my-rooms-${Date.now()}`;
  const other = `e2e-my-rooms-other-${Date.now()}`;
  const { page: ann } = await newParticipantPage(fixture.browser, fixture.server.url);
  const { page: ben } = await newParticipantPage(fixture.browser, fixture.server.url);

  // Ann has been in two rooms (the first made by her: she is its host), and goes home.
  await joinRoom(ann, roomId, 'Ann', { textOnly: true });
  await joinRoom(ann, other, 'Ann', { textOnly: true });
  await ann.goto('/');
  const entry = (page: Page, id: string) => page.locator(`[data-testid="my-room"][data-room="${id}"]`);
  await entry(ann, roomId).waitFor({ timeout: 20_000 });
  assert.equal(await entry(ann, roomId).getByTestId('room-unread').count(), 0);
  assert.equal(await entry(ann, roomId).getByTestId('room-present').innerText(), 'Nobody here now');

  // Ben joins the call: Ann's list shows him in it.
  await joinRoom(ben, roomId, 'Ben');
  const present = () => entry(ann, roomId).getByTestId('room-present').getAttribute('data-in-call');
  await waitFor('Ann sees Ben in the call', present, (names) => names === 'Ben', live);

  // Ben writes: unread 1 with his words.
  await ben.getByTestId('chat-input').fill('are you coming?');
  await ben.getByTestId('chat-send').click();
  await waitFor(
    'Ann sees one unread',
    () =>
      entry(ann, roomId)
        .getByTestId('room-unread')
        .innerText()
        .catch(() => ''),
    (n) => n === '1',
    live,
  );
  assert.equal(await entry(ann, roomId).getByTestId('room-last').innerText(), 'Ben: are you coming?');
  assert.equal(
    await ann.getByTestId('my-room').first().getAttribute('data-room'),
    roomId,
    'most recent first',
  );

  // Ben leaves the call but stays in the chat.
  await ben.getByTestId('leave-call').click();
  await waitFor(
    'Ann sees Ben in the chat only',
    () => entry(ann, roomId).getByTestId('room-present').getAttribute('data-in-chat'),
    (names) => names === 'Ben',
    live,
  );
  assert.equal(await present(), '');

  // Ann names the room: Ben's header shows it at once.
  await entry(ann, roomId).getByTestId('room-rename').click();
  await entry(ann, roomId).getByTestId('room-name-input').fill('Planning');
  await entry(ann, roomId).getByTestId('room-topic-input').fill('Friday launch');
  await entry(ann, roomId).getByTestId('room-rename-save').click();
  await waitFor(
    'Ben’s header shows the name and topic',
    () => ben.getByTestId('room-title').innerText(),
    (title) => title === 'Planning · Friday launch',
    live,
  );
  await waitFor(
    'Ann’s list shows the name',
    () => entry(ann, roomId).getByTestId('my-room-link').innerText(),
    (t) => t === 'Planning',
    live,
  );

  // Starred, the other room comes first.
  await entry(ann, other).getByTestId('room-star').click();
  await waitFor(
    'the starred room first',
    () => ann.getByTestId('my-room').first().getAttribute('data-room'),
    (id) => id === other,
    live,
  );

  // The link takes Ann back in without typing her name; what she reads is read.
  await entry(ann, roomId).getByTestId('my-room-link').click();
  assert.equal(await ann.getByLabel('Your name').inputValue(), 'Ann');
  await ann.getByTestId('join-text').click();
  await ann.locator('[data-testid="room"][data-status="joined"]').waitFor({ timeout: 20_000 });
  await waitFor(
    'Ann sees Ben’s message',
    () => ann.getByTestId('chat-text').allInnerTexts(),
    (t) => t.includes('are you coming?'),
    live,
  );
  // (The page marks what is shown as read a moment after showing it.)
  await waitFor(
    'the read marker stored',
    () =>
      ann.evaluate(async (id) => {
        const answer = (await (await fetch(`/api/rooms/${id}`)).json()) as { room: { unread: number } };
        return answer.room.unread;
      }, roomId),
    (n) => n === 0,
    live,
  );
  await ann.goto('/');
  await entry(ann, roomId).waitFor({ timeout: 20_000 });
  await waitFor(
    'no longer unread',
    () => entry(ann, roomId).getByTestId('room-unread').count(),
    (n) => n === 0,
    live,
  );
});
