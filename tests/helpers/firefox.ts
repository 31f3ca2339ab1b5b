// Debian's Firefox ESR driven by playwright-core over WebDriver BiDi, with fake camera and
// microphone, optionally inside a network namespace (tests/helpers/netns.ts).
//
// Two things stand between playwright-core 1.65 and firefox-esr 153, both handled here:
//
// - Playwright sends `emulation.setMediaFeaturesOverride` (prefers-color-scheme) for every
//   new context and page, and Firefox 153 answers "unknown command", which fails
//   `newContext()`. Playwright talks to a small BiDi proxy in this process instead of to
//   Firefox directly; the proxy answers that one command with success (the tests do not
//   emulate media features) and passes everything else through unchanged.
// - Inside a network namespace, Firefox's BiDi server listens on the namespace's loopback.
//   Playwright starts tests/helpers/firefox-launcher.ts as the browser executable, which
//   bridges Firefox's BiDi port to a Unix socket the proxy connects to, and tells
//   Playwright the proxy's address instead of Firefox's.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firefox, type Browser } from 'playwright-core';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import type { Netns } from './netns.js';

export const firefoxPath = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const launcher = fileURLToPath(new URL('./firefox-launcher.ts', import.meta.url));

/** BiDi commands Firefox ESR does not know and Playwright sends anyway: answered here. */
const unsupportedCommands = new Set(['emulation.setMediaFeaturesOverride']);

export interface FirefoxOptions {
  /** Run Firefox inside this network namespace. */
  netns?: Netns;
  /** Origins treated as secure (camera and microphone over plain http on an IP address). */
  secureOrigins?: string[];
}

/** Proxy between Playwright and Firefox's BiDi server (reached through `socketPath`). */
async function startBidiProxy(socketPath: string): Promise<{ url: string; close(): void }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  server.on('connection', (client, request) => {
    // Firefox's HTTP server accepts only its own address as Host header (see the launcher).
    const port = readFileSync(`${socketPath}.port`, 'utf8').trim();
    const upstream = new WebSocket(`ws+unix://${socketPath}:${request.url ?? '/session'}`, {
      headers: { host: `127.0.0.1:${port}` },
    });
    const pending: RawData[] = [];
    const toFirefox = (data: RawData) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data.toString());
      else pending.push(data);
    };
    client.on('message', (data) => {
      let command: { id?: unknown; method?: unknown } | undefined;
      try {
        command = JSON.parse(data.toString()) as typeof command;
      } catch {
        // Not JSON: Firefox answers it.
      }
      if (typeof command?.method === 'string' && unsupportedCommands.has(command.method)) {
        client.send(JSON.stringify({ type: 'success', id: command.id, result: {} }));
        return;
      }
      toFirefox(data);
    });
    upstream.on('open', () => {
      for (const data of pending.splice(0)) upstream.send(data.toString());
    });
    upstream.on('message', (data) => client.send(data.toString()));
    const closeBoth = () => {
      client.close();
      upstream.close();
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('BiDi proxy has no TCP address');
  return {
    url: `ws://127.0.0.1:${address.port}`,
    close: () => {
      for (const client of server.clients) client.terminate();
      server.close();
    },
  };
}

const quote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

export async function launchFirefox(options: FirefoxOptions = {}): Promise<Browser> {
  if (!existsSync(firefoxPath)) {
    throw new Error(
      `Firefox not found at ${firefoxPath}: run scripts/setup-system.sh --test (npm test does)`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'meet-firefox-'));
  const socketPath = join(dir, 'bidi.sock');
  const proxy = await startBidiProxy(socketPath);
  const cleanUp = () => {
    proxy.close();
    rmSync(dir, { recursive: true, force: true });
  };
  // The "executable" Playwright starts: the launcher, in the namespace if there is one.
  const argv = [process.execPath, launcher, socketPath, proxy.url, firefoxPath];
  const wrapper = join(dir, 'firefox');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec ${(options.netns ? options.netns.wrap(argv) : argv).map(quote).join(' ')} "$@"\n`,
    { mode: 0o755 },
  );
  const secureHosts = (options.secureOrigins ?? []).map((origin) => new URL(origin).hostname);
  try {
    const browser = await firefox.launch({
      channel: 'moz-firefox',
      executablePath: wrapper,
      headless: true,
      firefoxUserPrefs: {
        // Fake camera and microphone, granted without asking.
        'media.navigator.streams.fake': true,
        'media.navigator.permission.disabled': true,
        // Plain http on an IP address is not a secure context (no getUserMedia) unless listed.
        'dom.securecontext.allowlist': secureHosts.join(','),
        // Real host candidate addresses in getStats() (not mDNS names), for the tests to check.
        'media.peerconnection.ice.obfuscate_host_addresses': false,
        'media.autoplay.default': 0,
        'media.autoplay.block-webaudio': false,
      },
    });
    browser.on('disconnected', cleanUp);
    return browser;
  } catch (error) {
    cleanUp();
    throw error;
  }
}
