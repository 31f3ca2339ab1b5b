// Browser end-to-end: hosts control their room, through the UI, mostly with the keyboard
// (focus a control, press Enter: every control is a real button). Alice makes the room and
// is its host; she locks it, a newcomer waits in the lobby and is admitted (their media
// flows), another is refused; she mutes Bob's microphone (he is told, the others see it, he
// unmutes himself) and stops Carol's camera; hands go up and are queued for her; she
// removes Bob (he cannot get back in while the room is locked) and ends the meeting for all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();

/** Activates a control the way a keyboard user does: focus it, press Enter. */
async function pressEnterOn(page: Page, control: ReturnType<Page['getByRole']>): Promise<void> {
  await control.focus();
  assert.equal(
    await control.evaluate((element) => element === document.activeElement),
    true,
    'the control takes the keyboard focus',
  );
  await page.keyboard.press('Enter');
}

/** Opens the room link and asks to join a locked room: the page says it waits for a host. */
async function knock(page: Page, roomId: string, name: string): Promise<void> {
  await page.goto(`/r/${roomId}`);
  await page.getByLabel('Your name').fill(name);
  await page.getByTestId('join').click();
  await page.getByTestId('waiting').waitFor({ timeout: 20_000 });
}

async function openPeople(page: Page): Promise<void> {
  if ((await page.getByTestId('tab-people').count()) === 0) await page.getByTestId('toggle-chat').click();
  await page.getByTestId('tab-people').click();
}

const tile = (page: Page, name: string) => page.locator(`[data-testid="tile"][data-name="${name}"]`);

async function tileState(page: Page, name: string, attribute: 'data-audio' | 'data-video' | 'data-hand') {
  return tile(page, name).getAttribute(attribute);
}

test('a host locks the room, admits, refuses, mutes, removes, sees hands and ends the meeting', async () => {
  const roomId = `e2e-hosts-${Date.now()}`;
  const open = async () => (await newParticipantPage(fixture.browser, fixture.server.url)).page;
  const alice = await open();
  await joinRoom(alice, roomId, 'Alice');
  const bob = await open();
  await joinRoom(bob, roomId, 'Bob');
  const carol = await open();
  await joinRoom(carol, roomId, 'Carol');

  // Alice made the room: she is its host and has the host controls; the others do not.
  await alice.getByTestId('lock-room').waitFor();
  for (const page of [bob, carol]) assert.equal(await page.getByTestId('lock-room').count(), 0);

  // She locks it with the keyboard; everyone sees that it is locked.
  await pressEnterOn(alice, alice.getByRole('button', { name: 'Lock room' }));
  for (const page of [alice, bob, carol]) await page.getByTestId('locked-badge').waitFor();
  assert.equal(await alice.getByTestId('lock-room').getAttribute('aria-pressed'), 'true');

  // Two newcomers knock: each sees that they wait; Alice sees both in the lobby, in order.
  const nia = await open();
  await knock(nia, roomId, 'Nia');
  assert.match(await nia.getByTestId('waiting').innerText(), /Waiting for a host to let you in/);
  const otto = await open();
  await knock(otto, roomId, 'Otto');
  await waitFor(
    'Alice sees Nia and Otto waiting',
    () =>
      alice.getByTestId('lobby-entry').evaluateAll((items) => items.map((i) => i.getAttribute('data-name'))),
    (names) => JSON.stringify(names) === JSON.stringify(['Nia', 'Otto']),
  );
  assert.equal(await bob.getByTestId('lobby').count(), 0, 'members do not see the lobby');

  // Alice admits Nia (keyboard): Nia joins by herself, and media flows both ways.
  await pressEnterOn(alice, alice.getByRole('button', { name: 'Admit Nia' }));
  await nia.locator('[data-testid="room"][data-status="joined"]').waitFor({ timeout: 20_000 });
  await assertMediaFlows(nia, ['Alice', 'Bob', 'Carol'], 'Nia after being admitted');
  await assertMediaFlows(alice, ['Bob', 'Carol', 'Nia'], 'Alice with Nia');

  // ... and refuses Otto: his page says so, and it does not try again.
  await alice.getByRole('button', { name: 'Refuse Otto' }).click();
  await otto.getByTestId('ended').waitFor();
  assert.match(await otto.getByTestId('ended').innerText(), /Alice did not let you in/);
  await alice.getByTestId('lobby').waitFor({ state: 'detached' });

  // Alice mutes Bob's microphone from the people list.
  await openPeople(alice);
  await waitFor(
    'Alice can mute Bob',
    () => alice.getByRole('button', { name: 'Mute Bob' }).isEnabled(),
    (enabled) => enabled,
  );
  await pressEnterOn(alice, alice.getByRole('button', { name: 'Mute Bob' }));
  await waitFor(
    "Bob's page says a host muted him",
    () =>
      bob
        .getByTestId('notice')
        .innerText()
        .catch(() => ''),
    (text) => /Alice turned off your microphone/.test(text),
  );
  assert.equal(await bob.getByTestId('toggle-mic').innerText(), 'Unmute');
  for (const page of [alice, carol, nia])
    await waitFor(
      'the others see Bob muted',
      () => tileState(page, 'Bob', 'data-audio'),
      (v) => v === 'off',
    );
  // Only Bob can unmute himself: he does, and the others hear him again.
  await pressEnterOn(bob, bob.getByTestId('toggle-mic'));
  for (const page of [alice, carol])
    await waitFor(
      'the others see Bob unmuted',
      () => tileState(page, 'Bob', 'data-audio'),
      (v) => v === 'on',
    );

  // Alice stops Carol's camera: Carol's page follows (camera off), the others see it.
  await pressEnterOn(alice, alice.getByRole('button', { name: 'Stop camera of Carol' }));
  await waitFor(
    "Carol's camera is off on her page",
    () => carol.getByTestId('toggle-cam').innerText(),
    (text) => text === 'Start camera',
  );
  await waitFor(
    'Bob sees Carol without video',
    () => tileState(bob, 'Carol', 'data-video'),
    (v) => v === 'off',
  );

  // Hands: Carol, then Bob; Alice sees the queue in that order and the hands on their tiles.
  await pressEnterOn(carol, carol.getByRole('button', { name: 'Raise hand' }));
  await waitFor(
    'Carol sees her hand up',
    () => carol.getByTestId('raise-hand').getAttribute('aria-pressed'),
    (v) => v === 'true',
  );
  await bob.getByRole('button', { name: 'Raise hand' }).click();
  const queue = () =>
    alice.getByTestId('hand').evaluateAll((items) => items.map((i) => i.getAttribute('data-name')));
  await waitFor(
    "Alice's queue: Carol, Bob",
    queue,
    (names) => JSON.stringify(names) === JSON.stringify(['Carol', 'Bob']),
  );
  assert.equal(await tileState(alice, 'Carol', 'data-hand'), '1');
  assert.equal(await tileState(alice, 'Bob', 'data-hand'), '2');
  assert.equal(await bob.getByTestId('hands').count(), 0, 'the queue panel is for hosts');
  await waitFor(
    'Bob sees the hand on Carol’s tile',
    () => tileState(bob, 'Carol', 'data-hand'),
    (v) => v === '1',
  );
  // Carol had her say: Alice lowers her hand.
  await pressEnterOn(alice, alice.getByRole('button', { name: 'Lower hand of Carol' }));
  await waitFor("Alice's queue: Bob", queue, (names) => JSON.stringify(names) === JSON.stringify(['Bob']));
  await waitFor(
    'Carol sees her hand down',
    () => carol.getByTestId('raise-hand').getAttribute('aria-pressed'),
    (v) => v === 'false',
  );

  // Alice makes Carol a host: Carol gets the host controls.
  await pressEnterOn(alice, alice.getByRole('button', { name: 'Make host: Carol' }));
  await carol.getByTestId('lock-room').waitFor();

  // Alice removes Bob: his page says so; the others no longer see him.
  await pressEnterOn(alice, alice.getByRole('button', { name: 'Remove Bob' }));
  await bob.getByTestId('ended').waitFor();
  assert.match(await bob.getByTestId('ended').innerText(), /Alice removed you from the meeting/);
  for (const page of [alice, carol, nia]) await tile(page, 'Bob').waitFor({ state: 'detached' });
  // He tries again: the room is locked and he is no longer a member, so he waits.
  await bob.getByTestId('join').click();
  await bob.getByTestId('waiting').waitFor({ timeout: 20_000 });
  await alice.locator('[data-testid="lobby-entry"][data-name="Bob"]').waitFor();
  await carol.locator('[data-testid="lobby-entry"][data-name="Bob"]').waitFor();

  // Alice ends the meeting for everyone (asked to confirm; the confirmation has the focus).
  await pressEnterOn(alice, alice.getByRole('button', { name: 'End meeting for all' }));
  await alice.getByTestId('confirm-end').waitFor();
  assert.equal(
    await alice.getByTestId('confirm-end').evaluate((element) => element === document.activeElement),
    true,
  );
  await alice.keyboard.press('Enter');
  for (const page of [alice, carol, nia, bob]) {
    await page.getByTestId('ended').waitFor();
    assert.match(await page.getByTestId('ended').innerText(), /Alice ended the meeting/);
  }
  // No page reconnects: the room closes and stays closed.
  await waitFor(
    'the room to close',
    async () => fixture.server.app.rooms.get(roomId) === undefined,
    (closed) => closed,
  );
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assert.equal(fixture.server.app.rooms.get(roomId), undefined, 'nobody came back by themselves');
  assert.equal(await otto.getByTestId('ended').count(), 1, 'Otto never retried');
});
