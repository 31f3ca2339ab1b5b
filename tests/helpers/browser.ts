// Debian's Chromium driven by playwright-core, with fake camera and microphone, and what
// every participant page does (open, join, read statistics), in Chromium or Firefox
// (tests/helpers/firefox.ts).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { SelectedPair } from '../../web/src/lib/call/transport-stats.js';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ChromiumOptions {
  /**
   * Origins treated as secure: the camera and microphone need a secure context, which
   * plain http is only on localhost (a server on a namespace's veth address is not).
   */
  secureOrigins?: string[];
}

export async function launchBrowser(options: ChromiumOptions = {}): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}: run scripts/setup-system.sh (npm test does)`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      // Keep timers and media running in background tabs: every page is "in front" for the test.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      ...(options.secureOrigins?.length
        ? [`--unsafely-treat-insecure-origin-as-secure=${options.secureOrigins.join(',')}`]
        : []),
    ],
  });
}

export async function newParticipantPage(
  browser: Browser,
  baseUrl: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    // Firefox grants the fake devices through its preferences (tests/helpers/firefox.ts).
    permissions: browser.browserType().name() === 'chromium' ? ['camera', 'microphone'] : [],
    baseURL: baseUrl,
    viewport: { width: 960, height: 600 },
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
  return { context, page };
}

export interface StatsSample {
  peerId: string;
  displayName: string;
  video: { framesDecoded: number; frameWidth: number; packetsReceived: number } | null;
  audio: { packetsReceived: number; bytesReceived: number } | null;
}

/** Receive statistics of a participant page (see CallSession.stats in the web app). */
export function statsOf(page: Page): Promise<StatsSample[]> {
  return page.evaluate(async () => {
    const meet = (window as unknown as { __meet?: { stats(): Promise<unknown> } }).__meet;
    return (meet ? await meet.stats() : []) as never;
  });
}

/** The selected ICE candidate pair of one media transport of a page (see the web app). */
export type TransportSample = SelectedPair & { direction: 'send' | 'recv' };

/** The selected ICE candidate pair of each media transport of a participant page. */
export function transportStatsOf(page: Page): Promise<TransportSample[]> {
  return page.evaluate(async () => {
    const meet = (window as unknown as { __meet?: { transportStats(): Promise<unknown> } }).__meet;
    return (meet ? await meet.transportStats() : []) as never;
  });
}

/** Opens the room link, types a name and joins. */
export async function joinRoom(
  page: Page,
  roomId: string,
  name: string,
  options: { camOn?: boolean; textOnly?: boolean; baseUrl?: string } = {},
): Promise<void> {
  await page.goto(options.baseUrl ? new URL(`/r/${roomId}`, options.baseUrl).href : `/r/${roomId}`);
  await page.getByLabel('Your name').fill(name);
  if (options.camOn === false) await page.getByLabel('Camera').uncheck();
  await page.getByTestId(options.textOnly ? 'join-text' : 'join').click();
  await page.locator('[data-testid="room"][data-status="joined"]').waitFor({ timeout: 20_000 });
}
