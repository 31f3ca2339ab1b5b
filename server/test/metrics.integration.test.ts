// /metrics and /api/health on the real server with real mediasoup workers: not served
// unless configured; with METRICS_TOKEN only to the bearer of the token; with
// METRICS_LISTEN on its own port only. What raw peers do shows up in the metrics: rooms,
// participants, transports, producers, consumers, bytes carried, ICE failures, chat
// messages stored, signaling requests by method and code, HTTP latency by route template.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { scrape, samplesOf, valueOf, type Metrics } from './support/metrics.js';
import { RawPeer, clientDtlsParameters, opusRtpParameters, waitUntil } from './support/raw-peer.js';
import { connectIceOverTcp, sendRtpLikeOverTcp, stunOverTcp } from './support/stun.js';
import { homeOf } from './support/room-media.js';

const token = `metrics-token-${process.pid}-${randomUUID()}`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function health(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/api/health`);
  return { status: response.status, body: await response.json() };
}

/** The metric families this server must expose, with their types. */
const expectedFamilies = {
  meet_rooms: 'gauge',
  meet_piped_producers: 'gauge',
  meet_signaling_connections: 'gauge',
  meet_participants: 'gauge',
  meet_webrtc_transports: 'gauge',
  meet_producers: 'gauge',
  meet_consumers: 'gauge',
  meet_video_consumers: 'gauge',
  meet_video_consumers_held: 'gauge',
  meet_database_up: 'gauge',
  meet_media_worker_up: 'gauge',
  meet_media_worker_pid: 'gauge',
  meet_media_worker_routers: 'gauge',
  meet_media_worker_restarts_total: 'counter',
  meet_media_worker_cpu_seconds_total: 'counter',
  meet_media_worker_max_rss_bytes: 'gauge',
  meet_webrtc_received_bytes_total: 'counter',
  meet_webrtc_sent_bytes_total: 'counter',
  meet_ice_failures_total: 'counter',
  meet_dtls_failures_total: 'counter',
  meet_chat_messages_stored_total: 'counter',
  meet_signaling_requests_total: 'counter',
  meet_http_request_duration_seconds: 'histogram',
  // prom-client's process metrics
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
} as const;

describe('without METRICS_TOKEN or METRICS_LISTEN', () => {
  let server: TestServer;
  let webDir: string;
  before(async () => {
    // A built web app, so that its fallback (the app's page for unknown paths) is active.
    webDir = mkdtempSync(join(tmpdir(), 'meet-test-web-'));
    writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>app</title>');
    writeFileSync(join(webDir, '200.html'), '<!doctype html><title>app</title>');
    server = await startServer({ MEDIA_WORKERS: '1', WEB_DIR: webDir });
  });
  after(async () => {
    await server?.close();
    rmSync(webDir, { recursive: true, force: true });
  });

  test('/metrics is not served: 404, with or without a token, not the app page', async () => {
    const other = await fetch(`${server.url}/r/some-room`);
    assert.equal(other.status, 200, 'unknown paths get the app page');
    await other.arrayBuffer();
    for (const headers of [{}, { authorization: `Bearer ${token}` }] as Array<Record<string, string>>) {
      const response = await fetch(`${server.url}/metrics`, { headers });
      const body = await response.text();
      assert.equal(response.status, 404);
      assert.doesNotMatch(body, /meet_|<title>/);
    }
  });

  test('/api/health answers {status: ok} and nothing more', async () => {
    assert.deepEqual(await health(server.url), { status: 200, body: { status: 'ok' } });
  });
});

describe('with METRICS_TOKEN', () => {
  let server: TestServer;
  const peers: RawPeer[] = [];
  const scrapeNow = () => scrape(`${server.url}/metrics`, token);
  /** Waits until a scrape satisfies `check` (the server handles socket events asynchronously). */
  const scrapeUntil = async (what: string, check: (m: Metrics) => boolean): Promise<Metrics> => {
    let last: Metrics | undefined;
    await waitUntil(what, async () => check((last = await scrapeNow())));
    return last as Metrics;
  };
  const open = async (roomId: string, name: string) => {
    const peer = await RawPeer.connect(server, roomId, name);
    peers.push(peer);
    return peer;
  };
  const join = async (peer: RawPeer, name: string) => {
    const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
    return peer.ok<{ peerId: string }>('join', { displayName: name, rtpCapabilities });
  };
  const closeAll = async () => {
    await Promise.all(peers.splice(0).map((peer) => peer.close()));
    await waitUntil('every room to close', async () => (await server.app.rooms.list()).length === 0);
  };

  before(async () => {
    server = await startServer({ METRICS_TOKEN: token });
  });
  after(async () => {
    await closeAll().catch(() => undefined);
    await server?.close();
  });

  test('401 without the token or with a wrong one; 200 with it', async () => {
    for (const authorization of [
      undefined,
      token,
      `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
      'Bearer ',
    ]) {
      const response = await fetch(`${server.url}/metrics`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      const body = await response.text();
      assert.equal(response.status, 401, String(authorization));
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.doesNotMatch(body, /meet_/);
    }
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^# HELP /);
  });

  test('the text format parses and has every metric, with its type', async () => {
    const metrics = await scrapeNow();
    for (const [name, type] of Object.entries(expectedFamilies)) {
      assert.equal(metrics.families.get(name)?.type, type, `${name} is a ${type}`);
    }
    assert.equal(valueOf(metrics, 'meet_database_up'), 1);
    assert.equal(valueOf(metrics, 'meet_rooms'), 0);
    // Both media workers: up, their pids, CPU time and memory.
    const pids = server.app.pool.pids();
    assert.equal(pids.length, 2);
    for (const worker of ['0', '1']) {
      assert.equal(valueOf(metrics, 'meet_media_worker_up', { worker }), 1);
      assert.ok(pids.includes(valueOf(metrics, 'meet_media_worker_pid', { worker }) as number));
      assert.equal(valueOf(metrics, 'meet_media_worker_restarts_total', { worker }), 0);
      for (const mode of ['user', 'system']) {
        const cpu = valueOf(metrics, 'meet_media_worker_cpu_seconds_total', { worker, mode });
        assert.ok(cpu !== undefined && cpu >= 0, `cpu ${mode} of worker ${worker}: ${cpu}`);
      }
      assert.ok((valueOf(metrics, 'meet_media_worker_max_rss_bytes', { worker }) ?? 0) > 1024 * 1024);
      if (process.platform === 'linux')
        assert.ok(
          (valueOf(metrics, 'meet_media_worker_resident_memory_bytes', { worker }) ?? 0) > 1024 * 1024,
        );
      assert.equal(valueOf(metrics, 'meet_webrtc_received_bytes_total', { worker }), 0);
    }
    assert.ok((valueOf(metrics, 'process_resident_memory_bytes') ?? 0) > 0);
  });

  test('rooms, participants, transports, producers and consumers follow what peers do', async () => {
    const roomId = `metrics-media-${process.pid}`;
    const gauges = (m: Metrics) => ({
      rooms: valueOf(m, 'meet_rooms'),
      connections: valueOf(m, 'meet_signaling_connections'),
      call: valueOf(m, 'meet_participants', { state: 'call' }),
      chat: valueOf(m, 'meet_participants', { state: 'chat' }),
      send: valueOf(m, 'meet_webrtc_transports', { direction: 'send' }),
      recv: valueOf(m, 'meet_webrtc_transports', { direction: 'recv' }),
      mic: valueOf(m, 'meet_producers', { source: 'mic' }),
      webcam: valueOf(m, 'meet_producers', { source: 'webcam' }),
      consumedMic: valueOf(m, 'meet_consumers', { source: 'mic' }),
    });
    const none = {
      rooms: 0,
      connections: 0,
      call: 0,
      chat: 0,
      send: 0,
      recv: 0,
      mic: 0,
      webcam: 0,
      consumedMic: 0,
    };
    assert.deepEqual(gauges(await scrapeNow()), none);

    const alice = await open(roomId, 'Alice');
    assert.deepEqual(gauges(await scrapeNow()), { ...none, rooms: 1, connections: 1 });
    await join(alice, 'Alice');
    assert.deepEqual(gauges(await scrapeNow()), { ...none, rooms: 1, connections: 1, chat: 1 });
    const send = await alice.ok<{ id: string }>('createWebRtcTransport', { direction: 'send' });
    assert.deepEqual(gauges(await scrapeNow()), { ...none, rooms: 1, connections: 1, call: 1, send: 1 });
    await alice.ok('connectWebRtcTransport', {
      transportId: send.id,
      dtlsParameters: clientDtlsParameters(),
    });
    const producer = await alice.ok<{ id: string }>('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: opusRtpParameters(),
      source: 'mic',
    });

    const bob = await open(roomId, 'Bob');
    await join(bob, 'Bob');
    assert.deepEqual(gauges(await scrapeNow()), {
      ...none,
      rooms: 1,
      connections: 2,
      call: 1,
      chat: 1,
      send: 1,
      mic: 1,
    });
    const recv = await bob.ok<{ id: string }>('createWebRtcTransport', { direction: 'recv' });
    await bob.ok('consume', { transportId: recv.id, producerId: producer.id });
    assert.deepEqual(gauges(await scrapeNow()), {
      ...none,
      rooms: 1,
      connections: 2,
      call: 2,
      send: 1,
      recv: 1,
      mic: 1,
      consumedMic: 1,
    });
    // The room's worker hosts one router.
    const room = (await server.app.rooms.list()).find((r) => r.id === roomId);
    const media = await room?.currentMedia();
    assert.ok(media);
    const m = await scrapeNow();
    assert.equal(valueOf(m, 'meet_media_worker_routers', { worker: String(homeOf(media).workerIndex) }), 1);
    assert.equal(
      valueOf(m, 'meet_media_worker_routers', { worker: String(1 - homeOf(media).workerIndex) }),
      0,
    );

    await closeAll();
    assert.deepEqual(gauges(await scrapeNow()), none);
  });

  test('ICE over TCP: its bytes are counted, and losing it while on signaling is an ICE failure', async () => {
    const roomId = `metrics-ice-${process.pid}`;
    const alice = await open(roomId, 'Alice');
    const { peerId } = await join(alice, 'Alice');
    const transport = await alice.ok<{
      id: string;
      iceParameters: { usernameFragment: string; password: string };
    }>('createWebRtcTransport', { direction: 'send' });
    await alice.ok('connectWebRtcTransport', {
      transportId: transport.id,
      dtlsParameters: clientDtlsParameters(),
    });
    const room = (await server.app.rooms.list()).find((r) => r.id === roomId);
    const media = await room?.currentMedia();
    assert.ok(room && media);
    const worker = String(homeOf(media).workerIndex);
    const port = (await server.app.pool.health()).find((w) => w.index === homeOf(media).workerIndex)?.port;
    assert.ok(port);
    const bytes = (m: Metrics) => ({
      received: valueOf(m, 'meet_webrtc_received_bytes_total', { worker }) as number,
      sent: valueOf(m, 'meet_webrtc_sent_bytes_total', { worker }) as number,
    });
    const failures = (m: Metrics) => ({
      disconnected: valueOf(m, 'meet_ice_failures_total', { reason: 'disconnected' }),
      neverConnected: valueOf(m, 'meet_ice_failures_total', { reason: 'never_connected' }),
    });
    const before = await scrapeNow();
    const failuresBefore = failures(before);

    const socket = await connectIceOverTcp(port, transport.iceParameters);
    const serverTransport = room.participants.get(peerId)?.transports.get(transport.id);
    await waitUntil('ICE to complete', () => serverTransport?.iceState === 'completed');
    const connected = await scrapeUntil(
      'the first STUN response to be counted',
      (m) => bytes(m).sent > bytes(before).sent,
    );
    // Then a packet in and a STUN response out: counted to the byte. (STUN requests are not:
    // the WebRtcServer hands them to the transport without counting them.)
    sendRtpLikeOverTcp(socket, 200);
    const { responseBytes } = await stunOverTcp(socket, transport.iceParameters);
    const during = await scrapeUntil(
      'the packet to be counted',
      (m) => bytes(m).received > bytes(connected).received,
    );
    assert.deepEqual(bytes(during), {
      received: bytes(connected).received + 200,
      sent: bytes(connected).sent + responseBytes,
    });

    socket.destroy();
    await waitUntil('ICE to be disconnected', () => serverTransport?.iceState === 'disconnected');
    await scrapeUntil(
      'the ICE failure to be counted',
      (m) => failures(m).disconnected === (failuresBefore.disconnected as number) + 1,
    );

    // Bob asks to connect a transport whose ICE never happens, then leaves: never_connected.
    const bob = await open(roomId, 'Bob');
    await join(bob, 'Bob');
    const recv = await bob.ok<{ id: string }>('createWebRtcTransport', { direction: 'recv' });
    await bob.ok('connectWebRtcTransport', { transportId: recv.id, dtlsParameters: clientDtlsParameters(7) });
    await closeAll();
    const afterwards = await scrapeNow();
    assert.deepEqual(failures(afterwards), {
      disconnected: (failuresBefore.disconnected as number) + 1,
      // Alice's transport had connected: only Bob's counts.
      neverConnected: (failuresBefore.neverConnected as number) + 1,
    });
    // The bytes of closed transports stay counted (a counter never goes down).
    assert.ok(bytes(afterwards).received >= bytes(during).received);
    assert.ok(bytes(afterwards).sent >= bytes(during).sent);
  });

  test('chat messages are counted once stored, a retry once, private ones apart', async () => {
    const roomId = `metrics-chat-${process.pid}`;
    const ann = await open(roomId, 'Ann');
    await join(ann, 'Ann');
    const ben = await open(roomId, 'Ben');
    await join(ben, 'Ben');
    const stored = async () => {
      const m = await scrapeNow();
      return {
        room: valueOf(m, 'meet_chat_messages_stored_total', { audience: 'room' }),
        private: valueOf(m, 'meet_chat_messages_stored_total', { audience: 'private' }),
      };
    };
    assert.deepEqual(await stored(), { room: 0, private: 0 });
    await ann.ok('chatSend', { clientId: 'metrics-0001', text: 'hello' });
    assert.deepEqual(await stored(), { room: 1, private: 0 });
    await ann.ok('chatSend', { clientId: 'metrics-0001', text: 'hello' });
    assert.deepEqual(await stored(), { room: 1, private: 0 }, 'a retry stores nothing');
    await ann.ok('chatSend', { clientId: 'metrics-0002', text: 'psst', recipientId: ben.identity?.id });
    assert.deepEqual(await stored(), { room: 1, private: 1 });
    await ann.fails('chatSend', { clientId: 'metrics-0003', text: '' }, 400, /text/);
    assert.deepEqual(await stored(), { room: 1, private: 1 }, 'a refused message is not counted');
    await closeAll();
  });

  test('signaling requests are counted by method and code, refused ones included', async () => {
    const roomId = `metrics-signaling-${process.pid}`;
    const count = (m: Metrics, method: string, code: string) =>
      valueOf(m, 'meet_signaling_requests_total', { method, code }) ?? 0;
    const before = await scrapeNow();
    const peer = await open(roomId, 'Eve');
    await peer.ok('getRouterRtpCapabilities', {});
    await peer.fails('createWebRtcTransport', { direction: 'send' }, 403, /join the room before/);
    await peer.fails('join', { displayName: 'Eve' }, 400, /rtpCapabilities/);
    await peer.fails('noSuchMethod', {}, 400, /unknown method/);
    peer.sendRaw('this is not json');
    const refused = await peer.nextResponse(null);
    assert.equal(refused.errorCode, 400);

    const m = await scrapeUntil(
      'the refused frame to be counted',
      (m) => count(m, '_invalid_frame', '400') === count(before, '_invalid_frame', '400') + 1,
    );
    for (const [method, code] of [
      ['getRouterRtpCapabilities', '200'],
      ['createWebRtcTransport', '403'],
      ['join', '400'],
      ['_unknown', '400'],
    ] as const) {
      assert.equal(count(m, method, code), count(before, method, code) + 1, `${method} ${code}`);
    }
    assert.equal(samplesOf(m, 'meet_signaling_requests_total', { method: 'noSuchMethod' }).length, 0);
    await closeAll();
  });

  test('HTTP latency by method, route template and status code', async () => {
    const id = randomUUID();
    await (await fetch(`${server.url}/api/health`)).arrayBuffer();
    await (await fetch(`${server.url}/api/attachments/${id}`)).arrayBuffer();
    const unmatched = await fetch(`${server.url}/no/such/${id}`);
    await unmatched.arrayBuffer();
    const histogram = 'meet_http_request_duration_seconds_count';
    const m = await scrapeUntil('the requests to be observed', (m) =>
      samplesOf(m, histogram, { route: 'unmatched' }).some((s) => s.value > 0),
    );
    assert.ok((valueOf(m, histogram, { method: 'GET', route: '/api/health', status_code: '200' }) ?? 0) >= 1);
    const attachment = samplesOf(m, histogram, { method: 'GET', route: '/api/attachments/:id' });
    assert.equal(attachment.length, 1, JSON.stringify(attachment));
    assert.match(attachment[0]?.labels.status_code ?? '', /^4\d\d$/);
    // 404, or 200 with the app's page when the web app is built.
    const status_code = String(unmatched.status);
    assert.equal(samplesOf(m, histogram, { method: 'GET', route: 'unmatched', status_code }).length, 1);
    assert.ok(!m.samples.some((s) => Object.values(s.labels).some((v) => v.includes(id))), 'no raw URL');
    // Histogram buckets are cumulative and end with +Inf = count.
    const buckets = samplesOf(m, 'meet_http_request_duration_seconds_bucket', {
      method: 'GET',
      route: '/api/health',
      status_code: '200',
    });
    assert.equal(buckets.at(-1)?.labels.le, '+Inf');
    assert.equal(
      buckets.at(-1)?.value,
      valueOf(m, histogram, { method: 'GET', route: '/api/health', status_code: '200' }),
    );
  });

  test('/api/health is 503 {status: unavailable} when the database fails or does not answer in time', async () => {
    const prisma = server.app.database.prisma as unknown as Record<string, unknown>;
    const original = prisma.$queryRaw;
    try {
      prisma.$queryRaw = () => Promise.reject(new Error('connection refused'));
      assert.deepEqual(await health(server.url), { status: 503, body: { status: 'unavailable' } });
      assert.equal(valueOf(await scrapeNow(), 'meet_database_up'), 0);
      prisma.$queryRaw = () => new Promise(() => undefined);
      assert.deepEqual(await health(server.url), { status: 503, body: { status: 'unavailable' } });
    } finally {
      prisma.$queryRaw = original;
    }
    assert.deepEqual(await health(server.url), { status: 200, body: { status: 'ok' } });
    assert.equal(valueOf(await scrapeNow(), 'meet_database_up'), 1);
  });
});

describe('with METRICS_LISTEN', () => {
  let server: TestServer;
  let metricsPort: number;
  let closed = false;
  before(async () => {
    metricsPort = await freePort();
    server = await startServer({ MEDIA_WORKERS: '1', METRICS_LISTEN: `127.0.0.1:${metricsPort}` });
  });
  after(async () => {
    if (!closed) await server?.close();
  });

  test('the separate port serves /metrics (no token needed); the main port answers 404', async () => {
    const metrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(valueOf(metrics, 'meet_media_worker_up', { worker: '0' }), 1);
    assert.ok(metrics.families.has('nodejs_eventloop_lag_seconds'));
    for (const headers of [{}, { authorization: `Bearer ${token}` }] as Array<Record<string, string>>) {
      const response = await fetch(`${server.url}/metrics`, { headers });
      assert.equal(response.status, 404);
      assert.doesNotMatch(await response.text(), /meet_/);
    }
  });

  test('the separate port serves nothing else', async () => {
    for (const path of ['/', '/api/health', '/metrics/x', '/metricsx']) {
      const response = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
      assert.equal(response.status, 404, path);
      await response.arrayBuffer();
    }
    const post = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 404);
    await post.arrayBuffer();
  });

  test('/api/health is 503 when no media worker is alive, and the metrics say which', async () => {
    server.app.pool.close();
    assert.deepEqual(await health(server.url), { status: 503, body: { status: 'unavailable' } });
    const metrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(valueOf(metrics, 'meet_media_worker_up', { worker: '0' }), 0);
    assert.equal(valueOf(metrics, 'meet_media_worker_pid', { worker: '0' }), undefined);
  });

  test('the separate listener closes with the app', async () => {
    closed = true;
    await server.close();
    await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`));
  });
});

describe('with METRICS_LISTEN and METRICS_TOKEN', () => {
  let server: TestServer;
  let metricsPort: number;
  before(async () => {
    metricsPort = await freePort();
    server = await startServer({
      MEDIA_WORKERS: '1',
      METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
      METRICS_TOKEN: token,
    });
  });
  after(async () => {
    await server?.close();
  });

  test('the separate port wants the token too; the main port answers 404', async () => {
    const without = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(without.status, 401);
    assert.doesNotMatch(await without.text(), /meet_/);
    const metrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`, token);
    assert.equal(valueOf(metrics, 'meet_media_worker_up', { worker: '0' }), 1);
    const main = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(main.status, 404);
    await main.arrayBuffer();
  });

  test('a METRICS_LISTEN address in use stops the start with a message naming it', async () => {
    await assert.rejects(
      startServer({ MEDIA_WORKERS: '1', METRICS_LISTEN: `127.0.0.1:${metricsPort}` }),
      new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${metricsPort}: .*EADDRINUSE`),
    );
  });
});
