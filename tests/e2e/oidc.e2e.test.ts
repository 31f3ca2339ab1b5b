// Browser end-to-end: sign-in with OpenID Connect against a real provider started here
// (oidc-provider, its development sign-in pages). A guest who was in a room signs in with the
// provider: back on the account page they are signed in, and the room is still theirs.
// Another browser signing in as the same person gets the same account, with the room.
// (Refused answers: server/test/oidc.integration.test.ts.)
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

let provider: TestOidcProvider | undefined;
const fixture = useServerAndBrowser(async () => {
  provider = await startOidcProvider();
  return provider.env('test', 'Test IdP');
});
after(async () => {
  await provider?.stop();
});

/** Signs in at the provider's development pages as `login`, and consents. */
async function atProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name="login"]').fill(login, { timeout: 20_000 });
  await page.locator('input[name="password"]').fill('any password');
  await page.locator('button[type="submit"]').click();
  // Consent (the first time for this client and account).
  const consent = page.locator('input[name="prompt"][value="consent"]');
  await consent.waitFor({ state: 'attached', timeout: 20_000 });
  await page.locator('button[type="submit"]').click();
}

test('a guest signs in with an OpenID Connect provider and keeps their room; another browser gets the same account', async () => {
  provider?.register([`${fixture.server.url}/api/auth/oidc/test/callback`]);
  const roomId = `e2e-oidc-${Date.now()}`;
  const { page: first } = await newParticipantPage(fixture.browser, fixture.server.url);
  await joinRoom(first, roomId, 'Olga', { textOnly: true });
  await first.goto('/account');
  await first.getByTestId('oidc-test').click();
  await atProvider(first, 'olga');
  await first.getByTestId('signed-in').waitFor({ timeout: 20_000 });
  assert.equal(await first.getByTestId('account-name').innerText(), 'Olga', 'the guest’s name stays');
  assert.match(await first.getByTestId('account-oidc').innerText(), /127\.0\.0\.1/);
  const idOf = (page: Page) =>
    page.evaluate(
      async () =>
        ((await (await fetch('/api/account')).json()) as { account: { identity: { id: string } } }).account
          .identity.id,
    );
  const accountId = await idOf(first);
  await first.goto('/');
  await first.locator(`[data-testid="my-room"][data-room="${roomId}"]`).waitFor({ timeout: 20_000 });

  // Another browser, never a guest here: the same person, the same account and room.
  const { page: second } = await newParticipantPage(fixture.browser, fixture.server.url);
  await second.goto('/account');
  await second.getByTestId('oidc-test').click();
  await atProvider(second, 'olga');
  await second.getByTestId('signed-in').waitFor({ timeout: 20_000 });
  assert.equal(await idOf(second), accountId);
  await second.goto('/');
  await second.locator(`[data-testid="my-room"][data-room="${roomId}"]`).waitFor({ timeout: 20_000 });
});
