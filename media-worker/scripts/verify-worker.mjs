#!/usr/bin/env node
// Verifies that a mediasoup-worker binary starts and answers: creates a worker, a router
// and a WebRtcTransport through the real mediasoup API, then closes them.
// Usage: MEDIASOUP_DIR=<node_modules/mediasoup> node verify-worker.mjs <binary>
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const bin = process.argv[2];
if (!bin || !existsSync(bin)) {
  console.error(`verify-worker: no binary at ${bin}`);
  process.exit(1);
}
process.env.MEDIASOUP_WORKER_BIN = bin;
const require = createRequire(import.meta.url);
const msPath = process.env.MEDIASOUP_DIR
  ? join(process.env.MEDIASOUP_DIR, 'node/lib/index.js')
  : require.resolve('mediasoup');
const mediasoup = require(msPath);

const timer = setTimeout(() => {
  console.error('verify-worker: no answer from the worker within 20 s');
  process.exit(1);
}, 20_000);
try {
  const worker = await mediasoup.createWorker({ logLevel: 'error' });
  const router = await worker.createRouter({
    mediaCodecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }],
  });
  const transport = await router.createWebRtcTransport({
    listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
  });
  const usage = await worker.getResourceUsage();
  transport.close();
  router.close();
  worker.close();
  clearTimeout(timer);
  console.log(
    `verify-worker: ok ${bin} (mediasoup ${mediasoup.version}, worker pid ${worker.pid}, maxrss ${usage.ru_maxrss} KiB)`,
  );
} catch (error) {
  console.error(`verify-worker: ${bin} failed: ${error?.stack ?? error}`);
  process.exit(1);
}
