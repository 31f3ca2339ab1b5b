// The usual set-up of a browser test file: one real server and one Chromium for all its
// tests, closed after them. On request also a network namespace (the server then listens
// on, and announces, the host side of its veth pair: a non-loopback address) and Firefox
// (inside that namespace when there is one).
import { after, before } from 'node:test';
import type { Browser } from 'playwright-core';
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
}

export interface Fixture {
  server: TestServer;
  /** Chromium. */
  browser: Browser;
  /** Firefox (only with `firefox: true`). */
  firefox: Browser;
  /** The network namespace (only with `netns: true`). */
  netns: Netns;
}

/**
 * `env` is the server's environment (over the test defaults), or a function of the network
 * namespace giving it (e.g. to announce an address inside the namespace).
 */
export function useServerAndBrowser(
  env: Record<string, string> | ((netns: Netns | undefined) => Record<string, string>) = {},
  options: FixtureOptions = {},
): Fixture {
  const { netns: wantNetns, firefox: wantFirefox, ...startOptions } = options;
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  let firefox: Browser | undefined;
  let netns: Netns | undefined;
  before(async () => {
    if (wantNetns) netns = await createNetns();
    server = await startServer(typeof env === 'function' ? env(netns) : env, {
      ...startOptions,
      ...(netns ? { host: netns.hostAddress } : {}),
    });
    const secureOrigins = netns ? [server.url] : [];
    browser = await launchBrowser({ secureOrigins });
    if (wantFirefox) firefox = await launchFirefox({ netns, secureOrigins });
  });
  after(async () => {
    await firefox?.close().catch((error: Error) => console.error(`closing Firefox: ${error.message}`));
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
    get firefox() {
      return need(firefox, 'Firefox is not launched (useServerAndBrowser(env, { firefox: true }))');
    },
    get netns() {
      return need(netns, 'there is no network namespace (useServerAndBrowser(env, { netns: true }))');
    },
  };
}
