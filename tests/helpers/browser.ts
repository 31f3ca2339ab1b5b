// Debian's Chromium driven by playwright-core, with fake camera and microphone, and what
// every participant page does (open, join, read statistics), in Chromium or Firefox
// (tests/helpers/firefox.ts). Chromium runs in this machine's network namespace, or inside
// a test namespace (tests/helpers/netns.ts) through a wrapper script used as its
// executable (`ip netns exec <ns> chromium "$@"`; Playwright drives it over pipes, which
// cross namespaces).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Frame, type Page } from 'playwright-core';
import type { SelectedPair } from '../../web/src/lib/call/transport-stats.js';
import type { Netns } from './netns.js';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ChromiumOptions {
  /**
   * Origins treated as secure: the camera and microphone need a secure context, which
   * plain http is only on localhost (a server on a namespace's veth address is not).
   */
  secureOrigins?: string[];
  /** Run this Chromium inside the network namespace (its traffic then crosses the pair). */
  netns?: Netns;
  /**
   * A WAV file the fake microphone plays, looped (tests/helpers/audio-files.ts makes a
   * speech and a silent one). Default: Chromium's beep.
   */
  fakeAudioFile?: string;
  /**
   * A .y4m or .mjpeg file the fake camera plays, looped, at the file's size (getUserMedia
   * constraints do not scale it). Default: Chromium's generated pattern, which takes the
   * size asked for (1280x720 for ideal 1280x720) at `fakeVideoFps`.
   */
  fakeVideoFile?: string;
  /** Frame rate of the generated fake camera. Chromium's default is 20. */
  fakeVideoFps?: number;
}

const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

export async function launchBrowser(options: ChromiumOptions = {}): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}: run scripts/setup-system.sh (npm test does)`);
  }
  for (const [flag, file] of [
    ['fakeAudioFile', options.fakeAudioFile],
    ['fakeVideoFile', options.fakeVideoFile],
  ] as const) {
    if (file !== undefined && !existsSync(file))
      throw new Error(`launchBrowser: ${flag} ${file} does not exist`);
  }
  // Inside a namespace: a wrapper script as the executable, removed when the browser goes.
  let wrapperDir: string | undefined;
  let executablePath = chromiumPath;
  if (options.netns) {
    wrapperDir = mkdtempSync(join(tmpdir(), 'meet-chromium-'));
    executablePath = join(wrapperDir, 'chromium');
    writeFileSync(
      executablePath,
      `#!/bin/sh\nexec ${options.netns.wrap([chromiumPath]).map(quote).join(' ')} "$@"\n`,
      { mode: 0o755 },
    );
  }
  const cleanUp = () => {
    if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
  };
  try {
    const browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        options.fakeVideoFps
          ? `--use-fake-device-for-media-stream=fps=${options.fakeVideoFps}`
          : '--use-fake-device-for-media-stream',
        '--use-fake-ui-for-media-stream',
        ...(options.fakeAudioFile ? [`--use-file-for-fake-audio-capture=${options.fakeAudioFile}`] : []),
        ...(options.fakeVideoFile ? [`--use-file-for-fake-video-capture=${options.fakeVideoFile}`] : []),
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
    browser.on('disconnected', cleanUp);
    return browser;
  } catch (error) {
    cleanUp();
    throw error;
  }
}

let pagesOpened = 0;

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
  // Debugging aid: MEET_TEST_PAGE_CONSOLE=1 prints the pages' console warnings and errors.
  if (process.env.MEET_TEST_PAGE_CONSOLE) {
    const label = `page ${++pagesOpened}`;
    page.on('console', (message) => {
      if (message.type() === 'warning' || message.type() === 'error')
        console.error(`[${label} ${message.type()}] ${message.text()}`);
    });
  }
  return { context, page };
}

/**
 * Keeps every RTCPeerConnection the context's pages make in `window.__pcs`, so that a test can
 * read what the browser itself reports (why an encoding is limited, the send-side estimate)
 * beyond what the web app exposes. Diagnostics only; call before the page loads the app.
 */
export async function keepPeerConnections(context: BrowserContext): Promise<void> {
  // tsx names the functions below with a `__name` helper the page does not have.
  await context.addInitScript({ content: 'globalThis.__name ??= (fn) => fn' });
  await context.addInitScript(() => {
    const Original = window.RTCPeerConnection;
    const kept: RTCPeerConnection[] = [];
    (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = kept;
    window.RTCPeerConnection = new Proxy(Original, {
      construct: (target, args: ConstructorParameters<typeof RTCPeerConnection>) => {
        const pc = new target(...args);
        kept.push(pc);
        return pc;
      },
    });
  });
}

/** A protoo message of the page's signaling (a request, an answer or a notification). */
export type SignalingMessage = Record<string, unknown>;

/**
 * Routes the page's signaling sockets through Playwright (call before the page connects).
 * Each connection (numbered from 1) shows `onRequest` what the page sends; a server message
 * for which `dropAnswer` returns true never reaches the page, and one for which `hold`
 * returns a promise reaches it once that promise settles (the messages after it go on
 * meanwhile). Returns the connections, each with `cut()`: both ends closed, as a lost
 * network would (code 3001).
 */
export async function interceptSignaling(
  page: Page,
  hooks: {
    onRequest?: (message: SignalingMessage, connection: number) => void;
    dropAnswer?: (message: SignalingMessage, connection: number) => boolean;
    hold?: (message: SignalingMessage, connection: number) => Promise<unknown> | undefined;
  },
): Promise<Array<{ cut: () => void }>> {
  const connections: Array<{ cut: () => void }> = [];
  const parse = (message: string | Buffer): SignalingMessage =>
    typeof message === 'string' ? (JSON.parse(message) as SignalingMessage) : {};
  await page.routeWebSocket(/\/ws(\?|$)/, (socket) => {
    const connection = connections.length + 1;
    const server = socket.connectToServer();
    connections.push({
      cut: () => {
        void socket.close({ code: 3001, reason: 'test: connection lost' });
        void server.close();
      },
    });
    socket.onMessage((message) => {
      hooks.onRequest?.(parse(message), connection);
      server.send(message);
    });
    server.onMessage((message) => {
      const parsed = parse(message);
      if (hooks.dropAnswer?.(parsed, connection)) return;
      const held = hooks.hold?.(parsed, connection);
      if (held) void held.finally(() => socket.send(message));
      else socket.send(message);
    });
  });
  return connections;
}

/** Receive statistics of one remote video (webcam or screen) on a participant page. */
export interface VideoStats {
  consumerId: string;
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  packetsReceived: number;
  bytesReceived: number;
  /** Sums of the delays between the frames shown, and of their squares (s, s²: inbound-rtp). */
  totalInterFrameDelay: number;
  totalSquaredInterFrameDelay: number;
  /** The simulcast layer the server forwards (null when not simulcast or not known). */
  spatialLayer: number | null;
}

/** Receive statistics of one remote participant (see CallSession.stats in the web app). */
export interface StatsSample {
  peerId: string;
  displayName: string;
  video: VideoStats | null;
  screen: VideoStats | null;
  audio: { packetsReceived: number; bytesReceived: number } | null;
}

/** Send statistics of one encoding (simulcast layer) of a participant's own video. */
export interface OutboundSample {
  source: 'webcam' | 'screen';
  /** The simulcast encoding (e.g. r0, r1, r2), or null without simulcast. */
  rid: string | null;
  /** Whether the encoding is enabled (dynacast pauses layers nobody watches). */
  active: boolean;
  framesEncoded: number;
  bytesSent: number;
  frameWidth: number;
}

/** Receive statistics of a participant page (see CallSession.stats in the web app). */
export function statsOf(page: Page | Frame): Promise<StatsSample[]> {
  return page.evaluate(async () => {
    const meet = (window as unknown as { __meet?: { stats(): Promise<unknown> } }).__meet;
    return (meet ? await meet.stats() : []) as never;
  });
}

/** Send statistics of a participant page's own video, per encoding (see the web app). */
export function outboundOf(page: Page): Promise<OutboundSample[]> {
  return page.evaluate(async () => {
    const meet = (window as unknown as { __meet?: { outboundStats?(): Promise<unknown> } }).__meet;
    return (meet?.outboundStats ? await meet.outboundStats() : []) as never;
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
  options: {
    camOn?: boolean;
    /** false: join with the microphone off (its producer paused: no audio to encode or decode). */
    micOn?: boolean;
    textOnly?: boolean;
    baseUrl?: string;
    /** For each step (page load, name field, joined): 20 s unless told (a crowded machine needs more). */
    timeoutMs?: number;
  } = {},
): Promise<void> {
  const timeout = options.timeoutMs ?? 20_000;
  await page.goto(options.baseUrl ? new URL(`/r/${roomId}`, options.baseUrl).href : `/r/${roomId}`, {
    timeout: Math.max(timeout, 30_000),
  });
  await page.getByLabel('Your name').fill(name, { timeout: Math.max(timeout, 30_000) });
  if (options.camOn === false) await page.getByRole('checkbox', { name: 'Camera' }).uncheck();
  if (options.micOn === false) await page.getByRole('checkbox', { name: 'Microphone' }).uncheck();
  await page.getByTestId(options.textOnly ? 'join-text' : 'join').click();
  await page.locator('[data-testid="room"][data-status="joined"]').waitFor({ timeout });
}

/** The chat as a page shows it: "author: text" per message, oldest first. */
export const chatLines = (page: Page) =>
  page
    .locator('[data-testid="chat-message"]')
    .evaluateAll((nodes) =>
      nodes.map(
        (n) =>
          `${n.getAttribute('data-author')}: ${n.querySelector('[data-testid="chat-text"]')?.textContent ?? ''}`,
      ),
    );
