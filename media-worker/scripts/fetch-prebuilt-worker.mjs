#!/usr/bin/env node
// Downloads mediasoup's own prebuilt worker for this platform (the same release asset its
// npm postinstall uses) into <dest-dir>. Exits non-zero quickly when it is unreachable.
// Usage: node fetch-prebuilt-worker.mjs <mediasoup-version> <dest-dir>
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

const [version, dest] = process.argv.slice(2);
const base =
  process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL ??
  'https://github.com/versatica/mediasoup/releases/download';
let name = `mediasoup-worker-${version}-${os.platform()}-${os.arch()}`;
if (os.platform() === 'linux') name += `-kernel${Number(os.release().split('.')[0])}`;
const url = `${base}/${version}/${name}.tgz`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  mkdirSync(dest, { recursive: true });
  const tgz = join(dest, `${name}.tgz`);
  writeFileSync(tgz, Buffer.from(await res.arrayBuffer()));
  execFileSync('tar', ['-xzf', tgz, '-C', dest]);
  console.log(`fetched ${url}`);
} catch (error) {
  console.error(`prebuilt worker not available from ${url}: ${error.cause?.code ?? error.message}`);
  process.exit(3);
}
