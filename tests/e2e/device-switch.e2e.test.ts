// Browser end-to-end: devices. Before joining, the microphone level meter moves with the
// fake microphone (Chromium's beep) and falls to nothing when the microphone is off. In
// the call, a participant switches to another camera and another microphone from the
// devices dialog: the server keeps the same producers (the track is replaced, nothing is
// negotiated again), the page shows the new camera, and the other participant keeps
// decoding on the same consumers.
//
// Chromium's fake capture offers one camera unless told more: the switching participant
// runs in a Chromium of its own with `--use-fake-device-for-media-stream=device-count=3`
// (cameras fake_device_0 to 2; microphones "Fake Audio Input 1" and "2"). It switches to
// fake_device_2: fake_device_1 is a fake depth camera (16-bit grey frames) that plays in a
// <video> but that no WebRTC encoder takes, with or without this app.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath, joinRoom, newParticipantPage, statsOf } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();
let threeCameras: Browser | undefined;

before(async () => {
  threeCameras = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-device-for-media-stream=device-count=3',
      '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-gpu',
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
});
after(async () => {
  await threeCameras?.close();
});

const micLevel = async (page: Page) => Number(await page.getByTestId('mic-level').getAttribute('value'));

test('the pre-join microphone meter follows the microphone', async () => {
  const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
  await page.goto(`/r/meter-${Date.now()}`);
  // The camera preview shows, and the beep moves the meter (it is silent between beeps).
  await page.locator('[data-testid="preview"][data-video="on"] video').waitFor();
  const seen = new Set<number>();
  await waitFor(
    'the meter moves with the fake microphone',
    async () => {
      seen.add(await micLevel(page));
      return [...seen];
    },
    (levels) => levels.some((l) => l >= 20) && levels.some((l) => l < 20),
    { intervalMs: 50 },
  );
  // Microphone off: the meter falls to nothing and stays there.
  await page.getByRole('checkbox', { name: 'Microphone' }).uncheck();
  await waitFor(
    'the meter is at zero',
    () => micLevel(page),
    (l) => l === 0,
  );
  for (let i = 0; i < 5; i++) assert.equal(await micLevel(page), 0);
  // Camera off: the preview goes dark.
  await page.getByRole('checkbox', { name: 'Camera' }).uncheck();
  await page.locator('[data-testid="preview"][data-video="off"]').waitFor();
  await page.close();
});

/** The label of the camera track the page shows as its own tile. */
function ownCameraLabel(page: Page): Promise<string | undefined> {
  return page.evaluate(() => {
    const video = document.querySelector<HTMLVideoElement>('[data-testid="tile"][data-self="true"] video');
    return (video?.srcObject as MediaStream | null)?.getVideoTracks()[0]?.label;
  });
}

test('switching the camera and the microphone in the call keeps the producers; the other keeps decoding', async () => {
  assert.ok(threeCameras);
  const roomId = `devices-${Date.now()}`;
  const alice = (await newParticipantPage(threeCameras, fixture.server.url)).page;
  const bob = (await newParticipantPage(fixture.browser, fixture.server.url)).page;
  await joinRoom(alice, roomId, 'Alice');
  await joinRoom(bob, roomId, 'Bob');
  await assertMediaFlows(bob, ['Alice'], 'Bob before the switch');
  assert.equal(await ownCameraLabel(alice), 'fake_device_0');

  const room = fixture.server.app.rooms.get(roomId);
  const aliceOnServer = room?.joinedParticipants().find((p) => p.displayName === 'Alice');
  assert.ok(aliceOnServer);
  const producersBefore = [...aliceOnServer.producers.values()].map((p) => [p.appData.source, p.id]).sort();
  assert.equal(producersBefore.length, 2, 'a microphone and a camera');
  const bobStats = (await statsOf(bob)).find((s) => s.displayName === 'Alice');
  const consumerBefore = bobStats?.video?.consumerId;
  assert.ok(consumerBefore);

  // The devices dialog: another camera, then another microphone.
  await alice.getByTestId('device-settings').click();
  const dialog = alice.getByRole('dialog', { name: 'Devices' });
  await dialog.waitFor();
  await dialog.getByRole('combobox', { name: 'Camera' }).selectOption({ label: 'fake_device_2' });
  await waitFor(
    'Alice shows her third camera',
    () => ownCameraLabel(alice),
    (l) => l === 'fake_device_2',
  );
  await dialog.getByRole('combobox', { name: 'Microphone' }).selectOption({ label: 'Fake Audio Input 2' });
  // Escape closes the dialog.
  await alice.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });

  // The same producers on the server; Bob's consumer of the camera is the same and decodes.
  const producersAfter = [...aliceOnServer.producers.values()].map((p) => [p.appData.source, p.id]).sort();
  assert.deepEqual(producersAfter, producersBefore);
  await assertMediaFlows(bob, ['Alice'], 'Bob after the switch');
  assert.equal(
    (await statsOf(bob)).find((s) => s.displayName === 'Alice')?.video?.consumerId,
    consumerBefore,
  );

  // The choice is remembered for the next time.
  const saved = await alice.evaluate(() => localStorage.getItem('meet.devices'));
  const chosen = JSON.parse(saved ?? '{}') as Record<string, string>;
  const cameras = await alice.evaluate(async () =>
    (await navigator.mediaDevices.enumerateDevices())
      .filter((d) => d.kind === 'videoinput')
      .map((d) => [d.label, d.deviceId]),
  );
  assert.equal(chosen.videoinput, cameras.find(([label]) => label === 'fake_device_2')?.[1]);
});

test('keyboard shortcuts: M, V and C toggle, ? lists them, not while typing', async () => {
  const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(page, `keys-${Date.now()}`, 'Kim');
  const mic = page.getByTestId('toggle-mic');
  const cam = page.getByTestId('toggle-cam');
  await page.locator('body').click();
  await page.keyboard.press('m');
  await waitFor(
    'M mutes',
    () => mic.getAttribute('aria-pressed'),
    (v) => v === 'true',
  );
  await page.keyboard.press('v');
  await waitFor(
    'V stops the camera',
    () => cam.getAttribute('aria-pressed'),
    (v) => v === 'true',
  );
  // C opens or closes the chat.
  const chat = page.getByTestId('toggle-chat');
  const chatWas = await chat.getAttribute('aria-pressed');
  await page.keyboard.press('c');
  await waitFor(
    'C toggles the chat',
    () => chat.getAttribute('aria-pressed'),
    (v) => v !== chatWas,
  );
  if ((await chat.getAttribute('aria-pressed')) !== 'true') await page.keyboard.press('c');
  // Typing an "m" in the chat is text, not a shortcut.
  const composer = page.getByTestId('chat-input');
  await composer.waitFor();
  await composer.click();
  await page.keyboard.type('mm');
  assert.equal(await mic.getAttribute('aria-pressed'), 'true', 'still muted');
  // ? opens the list in a dialog; Escape closes it and the focus comes back.
  await page.locator('body').click();
  await page.keyboard.press('Shift+?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await help.waitFor();
  assert.match((await help.textContent()) ?? '', /Mute or unmute/);
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'hidden' });
  await page.close();
});
