// Browser end-to-end: audio notes. Ann records one from the (fake) microphone in the composer
// for about two seconds and sends it; Bo receives it as an audio note showing its length, and
// his browser plays it (time advances, no media error).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();
const quick = { timeoutMs: 20_000, intervalMs: 100 };

test('an audio note recorded from the microphone reaches the other participant, playable, with its length', async () => {
  const roomId = `e2e-audio-note-${Date.now()}`;
  const open = async (name: string) => {
    const { page } = await newParticipantPage(fixture.browser, fixture.server.url);
    await joinRoom(page, roomId, name, { textOnly: true });
    return page;
  };
  const ann = await open('Ann');
  const bo = await open('Bo');

  await ann.getByTestId('voice-record').click();
  await waitFor(
    'two seconds recorded',
    () =>
      ann
        .getByTestId('voice-recording')
        .innerText()
        .catch(() => ''),
    (shown) => shown === '● 0:02',
    quick,
  );
  await ann.getByTestId('voice-stop').click();

  const note = bo.getByTestId('audio-note');
  await waitFor(
    'Bo receives the note',
    () => note.count(),
    (n) => n === 1,
    quick,
  );
  assert.match(await note.getByTestId('audio-note-duration').innerText(), /^0:0[2-3]$/);
  // (A string: a function would be compiled with helpers the page does not have.)
  const played = (await bo.evaluate(`(async () => {
    const audio = document.querySelector('[data-testid="audio-note-player"]');
    await audio.play();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    return { time: audio.currentTime, error: audio.error ? audio.error.message : null };
  })()`)) as { time: number; error: string | null };
  assert.equal(played.error, null);
  assert.ok(played.time > 0.3, `playback advanced to ${played.time} s`);
});
