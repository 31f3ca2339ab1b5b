// Browser end-to-end: the app runs under its strict Content Security Policy. The page is
// served with the policy (and the other security headers), and a call with chat between
// two Chromium participants works without a single policy violation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { joinRoom, newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';
import { assertMediaFlows } from '../helpers/media.js';

const fixture = useServerAndBrowser();

/** Records every CSP violation the page reports, from its first script on. */
async function recordViolations(page: Page): Promise<() => Promise<string[]>> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __violations: string[] }).__violations = seen;
    document.addEventListener('securitypolicyviolation', (event) =>
      seen.push(
        `${event.effectiveDirective} blocked ${event.blockedURI || '(inline)'} at ${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
      ),
    );
  });
  return () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
}

test('the app works under its Content Security Policy: a call and a chat, no violation', async () => {
  const roomId = `e2e-csp-${Date.now()}`;
  const response = await fetch(new URL(`/r/${roomId}`, fixture.server.url));
  const csp = response.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(
    csp,
    /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/,
    'scripts: this origin and the shell by hash',
  );
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /object-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-eval/);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
  assert.ok(response.headers.get('referrer-policy'));

  const { page: ada } = await newParticipantPage(fixture.browser, fixture.server.url);
  const { page: bo } = await newParticipantPage(fixture.browser, fixture.server.url);
  const violations = [await recordViolations(ada), await recordViolations(bo)];
  await joinRoom(ada, roomId, 'Ada');
  await joinRoom(bo, roomId, 'Bo');
  await assertMediaFlows(ada, ['Bo'], 'Ada');
  await assertMediaFlows(bo, ['Ada'], 'Bo');
  await ada.getByTestId('chat-input').fill('under a strict policy');
  await ada.getByTestId('chat-send').click();
  await bo.getByTestId('chat-text').filter({ hasText: 'under a strict policy' }).first().waitFor();
  for (const read of violations) assert.deepEqual(await read(), []);
});
