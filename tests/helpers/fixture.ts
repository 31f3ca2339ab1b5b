// The usual set-up of a browser test file: one real server and one Chromium for all its
// tests, closed after them. On request also a network namespace (the server then listens
// on, and announces, the host side of its veth pair: a non-loopback address), a second
// Chromium inside that namespace (whose link a test can constrain: netns.limitRate,
// netns.dropRandom) and Firefox (inside that namespace when there is one).
import { after, before } from 'node:test';
import type { Browser } from 'playwright-core';
import { fakeAudioPath, type FakeAudio } from './audio-files.js';
import { launchBrowser } from './browser.js';
import { launchFirefox } from './firefox.js';
import { createNetns, type Netns } from './netns.js';
import { startServer, type StartOptions, type TestServer } from './server.js';

export interface FixtureOptions extends Omit<StartOptions, 'host'> {
  /**
   * Create a network namespace (tests/helpers/netns.ts; needs root) and put the server on
   * the host side of its veth pair. Chromium stays in this machine's namespace and reaches
   * the server there too.
   */
  netns?: boolean;
  /** Also launch Firefox ESR, inside the namespace when there is one. */
  firefox?: boolean;
  /** What the (host) Chromium's fake microphone plays. Default: Chromium's beep. */
  fakeAudio?: FakeAudio;
  /**
   * Also launch a Chromium inside the network namespace (implies `netns: true`), as
   * `fixture.netnsBrowser`, with its own fake microphone sound if given.
   */
  netnsChromium?: boolean | { fakeAudio?: FakeAudio };
}

export interface Fixture {
  server: TestServer;
  /** Chromium, in this machine's network namespace. */
  browser: Browser;
  /** Chromium inside the network namespace (only with `netnsChromium`). */
  netnsBrowser: Browser;
  /** Firefox (only with `firefox: true`). */
  firefox: Browser;
  /** The network namespace (only with `netns: true`). */
  netns: Netns;
}

/**
 * `env` is the server's environment (over the test defaults), or a function of the network
 * namespace giving it (e.g. to announce an address inside the namespace), run before the
 * server starts (it may start what the environment names first).
 */
export function useServerAndBrowser(
  env:
    | Record<string, string>
    | ((netns: Netns | undefined) => Record<string, string> | Promise<Record<string, string>>) = {},
  options: FixtureOptions = {},
): Fixture {
  const {
    netns: wantNetns,
    firefox: wantFirefox,
    fakeAudio,
    netnsChromium: wantNetnsChromium,
    ...startOptions
  } = options;
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  let netnsBrowser: Browser | undefined;
  let firefox: Browser | undefined;
  let netns: Netns | undefined;
  before(async () => {
    if (wantNetns || wantNetnsChromium) netns = await createNetns();
    server = await startServer(typeof env === 'function' ? await env(netns) : env, {
      ...startOptions,
      ...(netns ? { host: netns.hostAddress } : {}),
    });
    const secureOrigins = netns ? [server.url] : [];
    browser = await launchBrowser({
      secureOrigins,
      ...(fakeAudio ? { fakeAudioFile: await fakeAudioPath(fakeAudio) } : {}),
    });
    if (wantNetnsChromium) {
      const audio = typeof wantNetnsChromium === 'object' ? wantNetnsChromium.fakeAudio : undefined;
      netnsBrowser = await launchBrowser({
        netns,
        secureOrigins,
        ...(audio ? { fakeAudioFile: await fakeAudioPath(audio) } : {}),
      });
    }
    if (wantFirefox) firefox = await launchFirefox({ netns, secureOrigins });
  });
  after(async () => {
    await firefox?.close().catch((error: Error) => console.error(`closing Firefox: ${error.message}`));
    await netnsBrowser?.close();
    await browser?.close();
    await server?.close();
    await netns?.destroy();
  });
  const need = <T>(value: T | undefined, what: string): T => {
    if (!value) throw new Error(`${what} (use it inside a test)`);
    return value;
  };
  return {
    get server() {
      return need(server, 'the test server is not started');
    },
    get browser() {
      return need(browser, 'the browser is not launched');
    },
    get netnsBrowser() {
      return need(
        netnsBrowser,
        'there is no Chromium in the namespace (useServerAndBrowser(env, { netnsChromium: true }))',
      );
    },
    get firefox() {
      return need(firefox, 'Firefox is not launched (useServerAndBrowser(env, { firefox: true }))');
    },
    get netns() {
      return need(netns, 'there is no network namespace (useServerAndBrowser(env, { netns: true }))');
    },
  };
}
