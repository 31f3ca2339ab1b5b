// Runs Firefox for tests/helpers/firefox.ts: started by Playwright as the "Firefox
// executable" (through a wrapper script, inside a network namespace when one is used), so
// it runs where Firefox runs. Node runs this file directly (type stripping; builtins only).
//
//   node firefox-launcher.ts <socket path> <proxy ws url> <firefox binary> <firefox args...>
//
// Firefox's WebDriver BiDi server listens on 127.0.0.1 of its own network namespace, which
// Playwright (in the host namespace) cannot reach. This script bridges it to a Unix socket
// (a filesystem path: reachable from every network namespace), writes Firefox's port to
// `<socket path>.port` (Firefox's HTTP server wants it in the Host header) and, instead of
// Firefox's "WebDriver BiDi listening on ws://127.0.0.1:<port>" line, prints the address
// of the BiDi proxy in the test process (which connects to that socket), so that
// Playwright connects there.
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';

const [socketPath, proxyUrl, firefox, ...args] = process.argv.slice(2);
if (!socketPath || !proxyUrl || !firefox) {
  console.error('usage: firefox-launcher.ts <socket path> <proxy ws url> <firefox binary> [args...]');
  process.exit(2);
}

const child = spawn(firefox, args, { stdio: ['inherit', 'inherit', 'pipe'] });
let bridge: net.Server | undefined;

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  console.error(`could not start ${firefox}: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  bridge?.close();
  rmSync(socketPath, { force: true });
  rmSync(`${socketPath}.port`, { force: true });
  process.exit(code ?? (signal ? 128 : 1));
});

const lines = createInterface({ input: child.stderr });
lines.on('line', (line) => {
  const match = /WebDriver BiDi listening on ws:\/\/(127\.0\.0\.1|\[::1\]|localhost):(\d+)/.exec(line);
  if (!match || bridge) {
    process.stderr.write(`${line}\n`);
    return;
  }
  const host = (match[1] as string).replace(/^\[|\]$/g, '');
  const port = Number(match[2]);
  rmSync(socketPath, { force: true });
  writeFileSync(`${socketPath}.port`, String(port));
  bridge = net.createServer((client) => {
    const upstream = net.connect(port, host);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  bridge.listen(socketPath, () => process.stderr.write(`WebDriver BiDi listening on ${proxyUrl}\n`));
});
