// Browser end-to-end for the room chat, against both databases (embedded PGlite and a real
// PostgreSQL): live chat in order, history for late joiners, after a reload and after a
// server restart, private messages seen by exactly two pages, text-only participants and
// switching to video, statuses, edits/deletes, unread marks, attachments, XSS as text.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chatLines, joinRoom, launchBrowser, newParticipantPage } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { waitFor as waitForAtMost } from '../helpers/wait.js';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Chat updates are quick: a shorter deadline, a finer poll. */
const waitFor = <T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean) =>
  waitForAtMost(what, probe, ok, { timeoutMs: 20_000, intervalMs: 200 });

async function send(page: Page, text: string, to?: string): Promise<void> {
  if (to) await page.getByTestId('chat-recipient').selectOption({ label: `Only ${to}` });
  else await page.getByTestId('chat-recipient').selectOption({ label: 'Everyone' });
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
  // Acknowledged = stored: the pending line is gone.
  await waitFor(
    'acknowledgement',
    () => page.getByTestId('chat-pending').count(),
    (n) => n === 0,
  );
}

const statusOf = (page: Page, name: string) =>
  page.locator(`[data-testid="person"][data-name="${name}"]`).getAttribute('data-status');

for (const database of ['embedded', 'postgres'] as const) {
  describe(`chat (${database} database)`, () => {
    let server: TestServer;
    let dataDir: string;
    let pgDatabase: TestDatabase | undefined;
    let env: Record<string, string>;

    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'meet-chat-e2e-'));
      env = { DATA_DIR: dataDir };
      if (database === 'postgres') {
        pgDatabase = await createTestDatabase();
        env.DATABASE_URL = pgDatabase.url;
      }
      server = await startServer(env);
    });
    after(async () => {
      await server?.close();
      await pgDatabase?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test('messages, history, private messages, reload and restart', async () => {
      const roomId = `chat-${database}-${Date.now()}`;
      const alice = (await newParticipantPage(browser, server.url)).page;
      const bob = (await newParticipantPage(browser, server.url)).page;
      await joinRoom(alice, roomId, 'Alice', { textOnly: true });
      await joinRoom(bob, roomId, 'Bob', { textOnly: true });

      await send(alice, 'hello from Alice 🎉');
      await send(bob, 'hi Alice, Bob here');
      await send(alice, 'third message');
      const expected = ['Alice: hello from Alice 🎉', 'Bob: hi Alice, Bob here', 'Alice: third message'];
      for (const page of [alice, bob]) {
        await waitFor(
          'the three messages in order',
          () => chatLines(page),
          (l) => JSON.stringify(l) === JSON.stringify(expected),
        );
      }
      assert.ok(
        (await alice.getByTestId('chat-system').allTextContents()).some((t) => t.startsWith('Bob joined')),
      );

      // A late joiner sees the history.
      const carolContext = await newParticipantPage(browser, server.url);
      const carol = carolContext.page;
      await joinRoom(carol, roomId, 'Carol', { textOnly: true });
      await waitFor(
        'history for Carol',
        () => chatLines(carol),
        (l) => JSON.stringify(l) === JSON.stringify(expected),
      );

      // A private message from Alice to Bob is on exactly two pages.
      await send(alice, 'just for Bob', 'Bob');
      await waitFor(
        'Bob gets the private message',
        () => chatLines(bob),
        (l) => l.includes('Alice: just for Bob'),
      );
      assert.ok((await chatLines(alice)).includes('Alice: just for Bob'));
      await send(bob, 'public again');
      await waitFor(
        'Carol gets the next public message',
        () => chatLines(carol),
        (l) => l.includes('Bob: public again'),
      );
      assert.ok(
        !(await chatLines(carol)).includes('Alice: just for Bob'),
        'Carol must not see the private message',
      );
      assert.equal(
        await bob.locator('[data-private="true"] [data-testid="chat-private-label"]').textContent(),
        'private to you',
      );

      // Reload: the history is still there (and still without the private message for Carol).
      await carol.reload();
      await carol.getByTestId('join-text').click();
      const withPublic = [...expected, 'Bob: public again'];
      await waitFor(
        'history after reload',
        () => chatLines(carol),
        (l) => JSON.stringify(l) === JSON.stringify(withPublic),
      );

      // Server restart on the same data: history and identities survive.
      for (const page of [alice, bob, carol]) await page.goto('about:blank');
      await server.close();
      server = await startServer(env);
      // The pages keep their identity cookie (cookies are per host, not per port).
      await joinRoom(bob, roomId, 'Bob', { textOnly: true, baseUrl: server.url });
      await waitFor(
        'history after restart (Bob sees the private message too)',
        () => chatLines(bob),
        (l) =>
          JSON.stringify(l) === JSON.stringify([...expected, 'Alice: just for Bob', 'Bob: public again']),
      );
      await carolContext.context.close();
      for (const page of [alice, bob]) await page.close();
    });

    test('text-only and call, statuses, edit, delete, unread, attachments, XSS as text', async () => {
      const roomId = `chat2-${database}-${Date.now()}`;
      const dan = (await newParticipantPage(browser, server.url)).page;
      const eve = (await newParticipantPage(browser, server.url)).page;
      await joinRoom(dan, roomId, 'Dan');
      await joinRoom(eve, roomId, 'Eve', { textOnly: true });

      // Statuses: Dan in the call, Eve text only; Eve switches to video and back.
      await dan.getByTestId('tab-people').click();
      await waitFor(
        'Dan sees Eve as text only',
        () => statusOf(dan, 'Eve'),
        (s) => s === 'text',
      );
      assert.equal(await statusOf(dan, 'Dan'), 'call');
      await eve.getByTestId('join-call').click();
      await waitFor(
        'Dan sees Eve in the call',
        () => statusOf(dan, 'Eve'),
        (s) => s === 'call',
      );
      await waitFor(
        'Dan gets a tile for Eve',
        () => dan.locator('[data-testid="tile"][data-name="Eve"]').count(),
        (n) => n === 1,
      );
      await eve.getByTestId('leave-call').click();
      await waitFor(
        'Dan sees Eve back to text only',
        () => statusOf(dan, 'Eve'),
        (s) => s === 'text',
      );
      await waitFor(
        'Eve tile gone',
        () => dan.locator('[data-testid="tile"][data-name="Eve"]').count(),
        (n) => n === 0,
      );
      // Away: Eve's tab is hidden.
      await eve.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      await waitFor(
        'Dan sees Eve away',
        () => statusOf(dan, 'Eve'),
        (s) => s === 'away',
      );
      await eve.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
      });
      await waitFor(
        'Dan sees Eve back',
        () => statusOf(dan, 'Eve'),
        (s) => s === 'text',
      );
      await dan.getByTestId('tab-chat').click();

      // Unread: Dan closes the panel; Eve writes twice; Dan sees a badge of 2, then the divider.
      await dan.getByTestId('toggle-chat').click();
      await send(eve, 'are you there?');
      await send(eve, 'ping');
      await waitFor(
        'unread badge',
        async () => (await dan.getByTestId('unread-badge').textContent())?.trim(),
        (t) => t === '2',
      );
      await dan.getByTestId('toggle-chat').click();
      await waitFor(
        'new-messages divider',
        () => dan.getByTestId('chat-unread-divider').count(),
        (n) => n === 1,
      );
      assert.equal(await dan.getByTestId('unread-badge').count(), 0);

      // Edit and delete are seen by the other side.
      await send(dan, 'typo mesage');
      const danMessage = dan.locator('[data-testid="chat-message"][data-author="Dan"]').last();
      await danMessage.getByTestId('chat-edit').click();
      await dan.getByTestId('chat-edit-input').fill('typo message (fixed)');
      await dan.getByTestId('chat-edit-save').click();
      await waitFor(
        'Eve sees the edit',
        () => chatLines(eve),
        (l) => l.includes('Dan: typo message (fixed)'),
      );
      await send(dan, 'to be deleted');
      await waitFor(
        'Eve sees it',
        () => chatLines(eve),
        (l) => l.includes('Dan: to be deleted'),
      );
      await dan
        .locator('[data-testid="chat-message"][data-author="Dan"]')
        .last()
        .getByTestId('chat-delete')
        .click();
      await waitFor(
        'Eve sees the deletion',
        () => eve.locator('[data-deleted="true"]').count(),
        (n) => n === 1,
      );
      assert.ok(!(await chatLines(eve)).includes('Dan: to be deleted'));

      // XSS payloads are shown as text; only http(s) becomes a link.
      const payload =
        '<img src=x onerror="window.__xss=1"> javascript:window.__xss=2 [x](javascript:alert(1)) https://example.org/ok';
      await send(eve, payload);
      await waitFor(
        'Dan gets the payload',
        () => chatLines(dan),
        (l) => l.includes(`Eve: ${payload}`),
      );
      const last = dan.locator('[data-testid="chat-message"][data-author="Eve"]').last();
      assert.equal(await last.locator('img').count(), 0);
      assert.deepEqual(await last.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href'))), [
        'https://example.org/ok',
      ]);
      assert.equal(await dan.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);

      // An image shared by Eve previews for Dan (the download is authorized by his cookie).
      const png = Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
        'base64',
      );
      await eve
        .getByTestId('chat-file-input')
        .setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png });
      const image = dan.getByTestId('chat-image').last();
      await image.waitFor({ timeout: 20_000 });
      await waitFor(
        'image loaded',
        () => image.evaluate((img) => (img as HTMLImageElement).naturalWidth),
        (w) => w === 1,
      );
      // A disguised file is refused with a clear error, and nothing is posted.
      const before = (await chatLines(dan)).length;
      await eve.getByTestId('chat-file-input').setInputFiles({
        name: 'photo.png',
        mimeType: 'image/png',
        buffer: Buffer.from('%PDF-1.4 not a png'),
      });
      await waitFor(
        'upload error shown',
        async () => (await eve.locator('.chat [role="alert"]').textContent()) ?? '',
        (t) => t.includes('photo.png'),
      );
      assert.equal((await chatLines(dan)).length, before);
      for (const page of [dan, eve]) await page.close();
    });
  });
}
