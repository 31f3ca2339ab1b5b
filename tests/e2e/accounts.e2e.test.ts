// Browser end-to-end: accounts. A guest who was in a room signs up on the account page and
// finds the room still theirs; another browser signs in with the same email and password and
// sees both browsers in its sessions list; it signs the first browser out (that browser is
// no longer signed in), then signs itself out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useServerAndBrowser();
const quick = { timeoutMs: 20_000, intervalMs: 200 };

test('sign up keeps a guest’s room; sign in elsewhere; revoke a session; sign out', async () => {
  const roomId = `e2e-accounts-${Date.now()}`;
  const email = `grace-${Date.now()}@example.com`;
  const password = 'a long enough password';
  const { page: laptop } = await newParticipantPage(fixture.browser, fixture.server.url);
  const { page: phone } = await newParticipantPage(fixture.browser, fixture.server.url);

  // A guest in a room signs up.
  await joinRoom(laptop, roomId, 'Grace', { textOnly: true });
  await laptop.goto('/account');
  await laptop.getByTestId('tab-signup').click();
  await laptop.getByTestId('email').fill(email);
  await laptop.getByTestId('password').fill(password);
  await laptop.getByTestId('account-submit').click();
  await laptop.getByTestId('signed-in').waitFor({ timeout: 20_000 });
  assert.equal(await laptop.getByTestId('account-email').innerText(), email);
  assert.equal(await laptop.getByTestId('account-name').innerText(), 'Grace');
  await laptop.goto('/');
  await laptop.locator(`[data-testid="my-room"][data-room="${roomId}"]`).waitFor({ timeout: 20_000 });

  // The phone signs in: two sessions, this one marked.
  await phone.goto('/account');
  await phone.getByTestId('email').fill(email);
  await phone.getByTestId('password').fill('a wrong password');
  await phone.getByTestId('account-submit').click();
  await waitFor(
    'a wrong password is refused',
    () =>
      phone
        .getByTestId('account-error')
        .innerText()
        .catch(() => ''),
    (t) => t === 'wrong email or password',
    quick,
  );
  await phone.getByTestId('password').fill(password);
  await phone.getByTestId('account-submit').click();
  await phone.getByTestId('signed-in').waitFor({ timeout: 20_000 });
  const sessions = phone.getByTestId('session');
  await waitFor(
    'two sessions',
    () => sessions.count(),
    (n) => n === 2,
    quick,
  );
  assert.deepEqual(await sessions.evaluateAll((items) => items.map((i) => i.getAttribute('data-current'))), [
    'true',
    'false',
  ]);
  await phone.goto('/');
  await phone.locator(`[data-testid="my-room"][data-room="${roomId}"]`).waitFor({ timeout: 20_000 });

  // The phone signs the laptop out.
  await phone.goto('/account');
  await phone.getByTestId('session-revoke').click();
  await waitFor(
    'one session left',
    () => phone.getByTestId('session').count(),
    (n) => n === 1,
    quick,
  );
  await laptop.goto('/account');
  await laptop.getByTestId('account-submit').waitFor({ timeout: 20_000 });
  assert.equal(await laptop.getByTestId('signed-in').count(), 0, 'the laptop is signed out');

  // The phone signs out.
  await phone.getByTestId('sign-out').click();
  await phone.getByTestId('account-submit').waitFor({ timeout: 20_000 });
  assert.equal(
    await phone.evaluate(async () => (await fetch('/api/rooms')).status),
    401,
    'the phone’s cookie no longer opens anything',
  );
});
