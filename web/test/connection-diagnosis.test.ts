// What the media connection alert says, from a transport's state and statistics: ICE
// (no network path) and DTLS (path found, no secure session) told apart, lost connections,
// no local candidates; the server's address and what to check named.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeCandidates,
  diagnose,
  type DiagnosisInput,
  type ServerCandidate,
} from '../src/lib/call/connection-diagnosis.js';

const candidates: ServerCandidate[] = [
  { address: '198.51.100.7', port: 40000, protocol: 'udp' },
  { address: '198.51.100.7', port: 40000, protocol: 'tcp' },
];
const local = { type: 'local-candidate', id: 'L1', candidateType: 'host' };
const input = (overrides: Partial<DiagnosisInput>): DiagnosisInput => ({
  state: 'failed',
  stats: [local],
  candidates,
  turn: false,
  wasConnected: false,
  waitedSeconds: 12,
  ...overrides,
});

test('candidates are described once per address and port, with their protocols', () => {
  assert.equal(describeCandidates(candidates), '198.51.100.7:40000 (UDP or TCP)');
  assert.equal(
    describeCandidates([
      { address: '2001:db8::1', port: 40001, protocol: 'udp' },
      { address: '198.51.100.7', port: 40000, protocol: 'tcp' },
    ]),
    '[2001:db8::1]:40001 (UDP), 198.51.100.7:40000 (TCP)',
  );
  assert.equal(describeCandidates([]), 'the media server');
});

test('no candidate pair succeeded: ICE, naming the address and what to check', () => {
  const problem = diagnose(
    input({
      stats: [local, { type: 'candidate-pair', state: 'failed' }, { type: 'transport', dtlsState: 'new' }],
    }),
  );
  assert.equal(problem.kind, 'ice');
  assert.equal(problem.final, true);
  assert.equal(problem.title, 'Media connection failed');
  assert.match(problem.detail, /could not reach the media server at 198\.51\.100\.7:40000 \(UDP or TCP\)/);
  assert.ok(problem.hints.some((h) => h.includes('RTC_ANNOUNCED_ADDRESS (now 198.51.100.7)')));
  assert.ok(problem.hints.some((h) => h.includes('UDP and TCP port 40000')));
  assert.ok(problem.hints.some((h) => h.includes('TURN server (TURN_URLS)')));
});

test('DTLS "failed" without a working pair (what Firefox reports when ICE fails) is still ICE', () => {
  const stats = [local, { type: 'transport', iceState: 'checking', dtlsState: 'failed' }];
  assert.equal(diagnose(input({ stats })).kind, 'ice');
});

test('still connecting: not final, says how long it has tried; with TURN the hint is about TURN', () => {
  const problem = diagnose(input({ state: 'connecting', turn: true }));
  assert.equal(problem.kind, 'ice');
  assert.equal(problem.final, false);
  assert.equal(problem.title, 'Media is not connecting');
  assert.match(problem.detail, /still trying after 12 s/);
  assert.ok(problem.hints.some((h) => h.startsWith('A TURN server is configured but')));
});

test('a candidate pair succeeded but DTLS did not: DTLS', () => {
  for (const stats of [
    [local, { type: 'candidate-pair', state: 'succeeded' }],
    [local, { type: 'transport', selectedCandidatePairId: 'P1', dtlsState: 'connecting' }],
    [local, { type: 'transport', iceState: 'connected', dtlsState: 'failed' }],
  ]) {
    const problem = diagnose(input({ stats }));
    assert.equal(problem.kind, 'dtls', JSON.stringify(stats));
    assert.match(problem.detail, /reached the media server at 198\.51\.100\.7:40000.*DTLS/);
  }
});

test('a connection that worked and stopped: lost', () => {
  const problem = diagnose(input({ state: 'disconnected', wasConnected: true }));
  assert.equal(problem.kind, 'lost');
  assert.equal(problem.title, 'Media connection interrupted');
  assert.equal(diagnose(input({ state: 'failed', wasConnected: true })).kind, 'lost');
});

test('statistics without any local candidate: the browser has no network to send from', () => {
  assert.equal(diagnose(input({ stats: [{ type: 'transport', dtlsState: 'new' }] })).kind, 'no-candidates');
  // No statistics at all (they could not be read): ICE, the likely cause.
  assert.equal(diagnose(input({ stats: [] })).kind, 'ice');
});
