// Metrics without a server: the METRICS_* configuration, the bearer check, the bounded
// labels of the signaling counter, and the ICE/DTLS failure counting on a fake transport.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import type { types } from 'mediasoup';
import { loadConfig } from '../src/config.js';
import { ServerMetrics, invalidFrameMethod } from '../src/metrics/registry.js';
import { bearerMatches } from '../src/metrics/routes.js';
import { parseMetrics, valueOf } from './support/metrics.js';

const token = 'abcdefghijklmnop0123';

describe('METRICS_TOKEN and METRICS_LISTEN', () => {
  test('unset by default: metrics are not served', () => {
    assert.deepEqual(loadConfig({}).metrics, { token: undefined, listen: undefined });
  });

  test('read and parsed', () => {
    const config = loadConfig({ METRICS_TOKEN: token, METRICS_LISTEN: '127.0.0.1:9100' });
    assert.deepEqual(config.metrics, { token, listen: { host: '127.0.0.1', port: 9100 } });
    assert.deepEqual(loadConfig({ METRICS_LISTEN: '[::1]:9100' }).metrics.listen, {
      host: '::1',
      port: 9100,
    });
    assert.deepEqual(loadConfig({ METRICS_LISTEN: 'localhost:9100' }).metrics.listen, {
      host: 'localhost',
      port: 9100,
    });
    assert.deepEqual(loadConfig({ METRICS_LISTEN: '0.0.0.0:1' }).metrics.listen, {
      host: '0.0.0.0',
      port: 1,
    });
  });

  test('invalid values stop the start with a message naming the variable', () => {
    for (const value of [
      '9100',
      ':9100',
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:65536',
      'a:b:9100',
      '::1:9100',
      'host:91x',
    ]) {
      assert.throws(
        () => loadConfig({ METRICS_LISTEN: value }),
        /METRICS_LISTEN: METRICS_LISTEN must be host:port/,
        value,
      );
    }
    assert.throws(
      () => loadConfig({ METRICS_TOKEN: 'short' }),
      /METRICS_TOKEN: METRICS_TOKEN must be at least 16/,
    );
    assert.throws(
      () => loadConfig({ METRICS_TOKEN: 'with a space inside it' }),
      /METRICS_TOKEN: .*printable ASCII/,
    );
  });

  test('empty values count as unset', () => {
    assert.deepEqual(loadConfig({ METRICS_TOKEN: '', METRICS_LISTEN: '' }).metrics, {
      token: undefined,
      listen: undefined,
    });
  });
});

describe('bearerMatches', () => {
  test('only the exact token, as a Bearer credential', () => {
    assert.equal(bearerMatches(`Bearer ${token}`, token), true);
    assert.equal(bearerMatches(`bearer ${token}`, token), true, 'the scheme is case-insensitive');
    for (const header of [
      undefined,
      '',
      token,
      'Bearer',
      'Bearer ',
      `Basic ${token}`,
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token.toUpperCase()}`,
      `Bearer ${token} extra`,
    ]) {
      assert.equal(bearerMatches(header, token), false, String(header));
    }
  });
});

describe('ServerMetrics', () => {
  const scrape = async (metrics: ServerMetrics) => parseMetrics(await metrics.registry.metrics());

  test('registries of two instances are separate', async () => {
    const a = new ServerMetrics();
    const b = new ServerMetrics();
    a.chatMessageStored(false);
    assert.equal(valueOf(await scrape(a), 'meet_chat_messages_stored_total', { audience: 'room' }), 1);
    assert.equal(valueOf(await scrape(b), 'meet_chat_messages_stored_total', { audience: 'room' }), 0);
  });

  test('signaling requests: methods outside the protocol share one label; codes are HTTP-like', async () => {
    const metrics = new ServerMetrics();
    metrics.signalingRequest('join', 200);
    metrics.signalingRequest('join', 409);
    metrics.signalingRequest('no-such-method-1', 400);
    metrics.signalingRequest('no-such-method-2', 400);
    metrics.signalingRequest(invalidFrameMethod, 400);
    metrics.signalingRequest('produce', Number.NaN);
    const m = await scrape(metrics);
    const value = (method: string, code: string) =>
      valueOf(m, 'meet_signaling_requests_total', { method, code });
    assert.equal(value('join', '200'), 1);
    assert.equal(value('join', '409'), 1);
    assert.equal(value('_unknown', '400'), 2);
    assert.equal(value('_invalid_frame', '400'), 1);
    assert.equal(value('produce', '500'), 1);
    assert.ok(!m.samples.some((s) => s.labels.method?.startsWith('no-such')));
  });

  test('ICE and DTLS failures of a transport', async () => {
    const metrics = new ServerMetrics();
    const fakeTransport = () => {
      const observer = new EventEmitter();
      return { observer, transport: { observer } as unknown as types.WebRtcTransport };
    };
    let peerConnected = true;
    let connectRequested = true;
    const context = { peerConnected: () => peerConnected, connectRequested: () => connectRequested };
    const failures = async () => {
      const m = await scrape(metrics);
      return {
        disconnected: valueOf(m, 'meet_ice_failures_total', { reason: 'disconnected' }),
        neverConnected: valueOf(m, 'meet_ice_failures_total', { reason: 'never_connected' }),
        dtlsFailed: valueOf(m, 'meet_dtls_failures_total', { state: 'failed' }),
        dtlsClosed: valueOf(m, 'meet_dtls_failures_total', { state: 'closed' }),
      };
    };
    assert.deepEqual(await failures(), { disconnected: 0, neverConnected: 0, dtlsFailed: 0, dtlsClosed: 0 });

    // Connected, then lost while the participant is still there; DTLS failed; closed.
    const a = fakeTransport();
    metrics.watchTransport(a.transport, context);
    a.observer.emit('icestatechange', 'completed');
    a.observer.emit('icestatechange', 'disconnected');
    a.observer.emit('dtlsstatechange', 'failed');
    a.observer.emit('close');
    assert.deepEqual(await failures(), { disconnected: 1, neverConnected: 0, dtlsFailed: 1, dtlsClosed: 0 });

    // Never connected although the participant asked to: counted when it closes.
    const b = fakeTransport();
    metrics.watchTransport(b.transport, context);
    b.observer.emit('close');
    assert.equal((await failures()).neverConnected, 1);

    // Never asked to connect (the participant left before): nothing.
    connectRequested = false;
    const c = fakeTransport();
    metrics.watchTransport(c.transport, context);
    c.observer.emit('close');
    assert.equal((await failures()).neverConnected, 1);

    // The browser closed DTLS while still on signaling: counted; after leaving: not.
    connectRequested = true;
    const d = fakeTransport();
    metrics.watchTransport(d.transport, context);
    d.observer.emit('icestatechange', 'connected');
    d.observer.emit('dtlsstatechange', 'closed');
    peerConnected = false;
    d.observer.emit('dtlsstatechange', 'closed');
    d.observer.emit('icestatechange', 'disconnected');
    d.observer.emit('close');
    assert.deepEqual(await failures(), { disconnected: 1, neverConnected: 1, dtlsFailed: 1, dtlsClosed: 1 });
  });

  test('every metric has a meet_ name, a HELP text and a TYPE', async () => {
    const metrics = new ServerMetrics();
    metrics.observeHttpRequest('GET', '/api/health', 200, 0.003);
    const m = await scrape(metrics);
    for (const family of m.families.values()) {
      assert.match(family.name, /^meet_[a-z_]+$/);
      assert.ok(family.help.length > 20, family.name);
    }
    assert.equal(m.families.get('meet_http_request_duration_seconds')?.type, 'histogram');
    assert.equal(
      valueOf(m, 'meet_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/api/health',
        status_code: '200',
      }),
      1,
    );
  });
});
