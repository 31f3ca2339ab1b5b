// The test helpers for constrained networks and fake media, checked on their own (no call):
// a Chromium inside a network namespace reaches the server as a secure origin, with the
// fake camera at 1280x720 and speech on its fake microphone; netns.limitRate shapes the
// namespace's downlink and uplink (tc counters, and a transfer takes longer than without);
// netns.dropRandom drops packets in both directions and only there; clearConditions
// removes it all; the speech WAV is speech and the silent one silence.
//
// Needs root (network namespaces), tc, iptables and espeak-ng (scripts/setup-system.sh --test).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { readWav, rms, silentWav, speechWav } from '../helpers/audio-files.js';
import { newParticipantPage } from '../helpers/browser.js';
import { useServerAndBrowser } from '../helpers/fixture.js';

const fixture = useServerAndBrowser({}, { netnsChromium: { fakeAudio: 'speech' } });

// A plain HTTP server on the host side of the pair: a blank page (the app's Content Security
// Policy would forbid fetching from here), 500 kB down, uploads counted. Started by
// the first test that needs it (root-level `before` hooks of node:test do not wait for the
// fixture's: the namespace would not exist yet).
const blob = randomBytes(500_000);
let files: http.Server | undefined;
let filesUrl: Promise<string> | undefined;
const peers = new Set<string>();
function startFiles(): Promise<string> {
  filesUrl ??= new Promise((resolve) => {
    const server = http.createServer((request, response) => {
      peers.add(request.socket.remoteAddress ?? '');
      if (request.method === 'POST') {
        let received = 0;
        request.on('data', (chunk: Buffer) => (received += chunk.length));
        request.on('end', () => response.end(String(received)));
        return;
      }
      if (request.url === '/') {
        response.setHeader('content-type', 'text/html');
        response.end('<!doctype html><title>files</title>');
        return;
      }
      response.setHeader('content-type', 'application/octet-stream');
      response.end(blob);
    });
    files = server;
    const host = fixture.netns.hostAddress;
    server.listen(0, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
  });
  return filesUrl;
}
after(() => {
  files?.closeAllConnections();
  files?.close();
});

test('the speech WAV is speech, the silent WAV silence (48 kHz mono 16-bit)', async () => {
  const speech = readWav(await speechWav());
  const silence = readWav(await silentWav());
  for (const wav of [speech, silence]) {
    assert.deepEqual([wav.sampleRate, wav.channels, wav.bitsPerSample], [48_000, 1, 16]);
  }
  assert.ok(speech.samples.length / speech.sampleRate > 5, 'a few seconds of speech');
  assert.ok(rms(speech.samples) > 0.02, `speech is audible (rms ${rms(speech.samples)})`);
  assert.ok(silence.samples.length > 0);
  assert.equal(rms(silence.samples), 0);
  assert.equal(await speechWav(), await speechWav(), 'made once');
});

test('a Chromium inside the namespace: secure origin, fake camera at 1280x720, speech on its microphone', async () => {
  const { page, context } = await newParticipantPage(fixture.netnsBrowser, fixture.server.url);
  await page.goto('/');
  const media = await page.evaluate(async () => {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    const settings = stream.getVideoTracks()[0]?.getSettings();
    const audio = new AudioContext();
    const analyser = audio.createAnalyser();
    audio.createMediaStreamSource(stream).connect(analyser);
    const buffer = new Float32Array(analyser.fftSize);
    let loudest = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      analyser.getFloatTimeDomainData(buffer);
      loudest = Math.max(loudest, Math.sqrt(buffer.reduce((sum, x) => sum + x * x, 0) / buffer.length));
    }
    for (const track of stream.getTracks()) track.stop();
    await audio.close();
    return { secure: isSecureContext, width: settings?.width, height: settings?.height, loudest };
  });
  assert.equal(media.secure, true, 'the server origin is treated as secure');
  assert.deepEqual([media.width, media.height], [1280, 720]);
  assert.ok(media.loudest > 0.01, `the microphone plays the speech file (rms ${media.loudest})`);
  // Its traffic comes from inside the namespace.
  await page.goto(await startFiles());
  await page.evaluate(() => fetch('/blob').then(async (r) => (await r.arrayBuffer()).byteLength));
  assert.deepEqual([...peers], [fixture.netns.nsAddress]);
  await context.close();
});

test('limitRate shapes the downlink and the uplink; clearConditions removes it', async () => {
  const { netns } = fixture;
  const { page, context } = await newParticipantPage(fixture.netnsBrowser, fixture.server.url);
  await page.goto(await startFiles());
  const download = () =>
    page.evaluate(async (url) => {
      const start = performance.now();
      const size = (await (await fetch(url, { cache: 'no-store' })).arrayBuffer()).byteLength;
      return { size, ms: performance.now() - start };
    }, '/blob');
  const upload = () =>
    page.evaluate(async (url) => {
      const start = performance.now();
      const body = new Uint8Array(250_000).fill(120);
      const size = Number(await (await fetch(url, { method: 'POST', body })).text());
      return { size, ms: performance.now() - start };
    }, '/upload');

  const freeDown = await download();
  const freeUp = await upload();
  await netns.limitRate({ toNamespace: 2000, fromNamespace: 1000 });
  let counters = await netns.conditionStats();
  assert.equal(counters.toNamespace.rateKbit, 2000);
  assert.equal(counters.fromNamespace.rateKbit, 1000);
  const slowDown = await download();
  const slowUp = await upload();
  counters = await netns.conditionStats();

  assert.equal(slowDown.size, blob.length);
  assert.equal(slowUp.size, 250_000);
  // The qdiscs carried the transfers and held packets back for tokens.
  assert.ok(counters.toNamespace.sentBytes > blob.length, JSON.stringify(counters.toNamespace));
  assert.ok(counters.toNamespace.overlimits > 0, JSON.stringify(counters.toNamespace));
  assert.ok(counters.fromNamespace.sentBytes > 250_000, JSON.stringify(counters.fromNamespace));
  assert.ok(counters.fromNamespace.overlimits > 0, JSON.stringify(counters.fromNamespace));
  // 500 kB at 2 Mbit/s takes ~2 s, 250 kB at 1 Mbit/s the same: far longer than unshaped.
  console.log(
    `download ${freeDown.ms} ms free, ${slowDown.ms} ms limited; upload ${freeUp.ms}, ${slowUp.ms}`,
  );
  assert.ok(slowDown.ms > 2 * freeDown.ms, `download ${freeDown.ms} ms free, ${slowDown.ms} ms limited`);
  assert.ok(slowUp.ms > 2 * freeUp.ms, `upload ${freeUp.ms} ms free, ${slowUp.ms} ms limited`);

  await netns.clearConditions();
  counters = await netns.conditionStats();
  assert.equal(counters.toNamespace.rateKbit, null);
  assert.equal(counters.fromNamespace.rateKbit, null);
  await context.close();
});

/** UDP datagrams received by nobody in the namespace so far (they got past INPUT). */
async function udpNoPorts(): Promise<number> {
  const snmp = (await fixture.netns.exec(['cat', '/proc/net/snmp']))
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const [names, values] = snmp.map((l) => l.split(/\s+/));
  return Number(values?.[names?.indexOf('NoPorts') ?? -1]);
}

test('dropRandom drops packets toward and from the namespace, counted; clearConditions removes it', async () => {
  const { netns } = fixture;
  files?.closeAllConnections(); // No other traffic on the pair than this test's.
  const sent = 300;
  await netns.dropRandom({ toNamespace: 0.5, fromNamespace: 0.5 });

  // Toward the namespace: datagrams to a port nobody listens on there.
  const before = await udpNoPorts();
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, netns.hostAddress, resolve));
  for (let i = 0; i < sent; i++) {
    await new Promise<void>((resolve, reject) =>
      socket.send(Buffer.from(`to ${i}`), 9, netns.nsAddress, (error) => (error ? reject(error) : resolve())),
    );
  }
  // From the namespace: datagrams to this socket, sent by a node process inside it.
  let received = 0;
  socket.on('message', () => received++);
  const port = (socket.address() as AddressInfo).port;
  const sender = `const s = require('node:dgram').createSocket('udp4');
    let i = 0;
    const next = () => (i++ < ${sent} ? s.send('from', ${port}, '${netns.hostAddress}', next) : s.close());
    next();`;
  await netns.exec([process.execPath, '-e', sender]);
  await new Promise((resolve) => setTimeout(resolve, 500)); // let the last datagrams in
  socket.close();
  const arrived = (await udpNoPorts()) - before;
  const counters = await netns.conditionStats();

  assert.equal(counters.toNamespace.dropProbability, 0.5);
  assert.ok(counters.toNamespace.randomDropped > 0, JSON.stringify(counters.toNamespace));
  assert.ok(arrived > 0 && arrived < sent, `${arrived} of ${sent} arrived in the namespace`);
  assert.ok(counters.toNamespace.randomDropped >= sent - arrived, JSON.stringify(counters.toNamespace));
  assert.ok(counters.fromNamespace.randomDropped > 0, JSON.stringify(counters.fromNamespace));
  assert.ok(received > 0 && received < sent, `${received} of ${sent} arrived from the namespace`);
  assert.ok(counters.fromNamespace.randomDropped >= sent - received, JSON.stringify(counters.fromNamespace));

  await netns.clearConditions();
  const cleared = await netns.conditionStats();
  assert.deepEqual([cleared.toNamespace.dropProbability, cleared.fromNamespace.dropProbability], [0, 0]);
  assert.deepEqual([cleared.toNamespace.randomDropped, cleared.fromNamespace.randomDropped], [0, 0]);
});
