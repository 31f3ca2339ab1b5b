// Keeps the media load tool (bench/load/) from rotting: a few seconds with 2 publishers and
// 1 receive-only participant against the real server and a real mediasoup worker, through
// the real signaling and a real WebRTC stack (werift). Asserts only correctness: every
// subscriber received packets from every publisher's audio and video, with a VP8 keyframe.
// Never a timing, a bitrate or a loss figure (the benchmark records those: npm run bench).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runLoadTool } from '../../bench/load/cli.js';
import { simulcastLayersFromKbps } from '../../bench/load/simulcast.js';

test('load tool smoke: 2 publishers + 1 subscriber receive each publisher’s audio and video', async (t) => {
  const result = await runLoadTool(
    {
      target: 'meet',
      url: undefined,
      room: 'load-smoke',
      rooms: 1,
      publishers: 2,
      subscribers: 1,
      duration: 2,
      warmup: 1,
      workers: 1,
      videoKbps: 300,
      audioKbps: 32,
      threads: 0,
    },
    (line) => t.diagnostic(line),
  );
  t.diagnostic(`forwarded ${result.forwardedMbps.toFixed(2)} Mbit/s, loss ${result.lossPct.toFixed(3)} %`);
  assert.deepEqual(result.errors, []);
  assert.equal(result.publishers, 2);
  assert.equal(result.subscribers, 1);
  // Each publisher receives the other (2 streams each), the subscriber both (4 streams).
  assert.equal(result.expectedStreams, 8);
  assert.deepEqual(
    result.check.missing,
    [],
    'every subscriber got packets and a keyframe from every publisher',
  );
  assert.equal(result.check.ok, true);
  assert.equal(result.activeStreams, 8, 'every stream kept receiving during the window');
});

// Simulcast and the view: the publishers send three encodings (rids r0 r1 r2, keyframes
// announcing 320, 640 and 1280 pixels wide); once everyone shows everyone in a 416x234 tile
// the server forwards only the lowest layer and tells the publishers to pause the others
// (dynacast). Asserted on the load tool's own counters (what was sent per rid, which widths
// the receivers' keyframes announced), never on a time.
test('load tool smoke: simulcast publishers, viewers with small tiles get the lowest layer', async (t) => {
  const result = await runLoadTool(
    {
      target: 'meet',
      url: undefined,
      room: 'load-smoke-simulcast',
      rooms: 1,
      publishers: 2,
      subscribers: 1,
      duration: 2,
      // The server lowers what it asks of a publisher only after 3 s (dynacast hold).
      warmup: 5,
      workers: 1,
      videoKbps: 300,
      audioKbps: 32,
      threads: 0,
      simulcast: simulcastLayersFromKbps([100, 300, 900]),
      tile: { width: 416, height: 234 },
    },
    (line) => t.diagnostic(line),
  );
  t.diagnostic(
    `sent per rid ${JSON.stringify(result.sentLayersMbps)}, received keyframes per width ${JSON.stringify(result.received.keyframesByWidth)}, window bytes per width ${JSON.stringify(result.received.windowBytesByWidth)}`,
  );
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.check.missing, []);
  assert.ok((result.received.keyframesByWidth['320'] ?? 0) > 0, 'the lowest layer reached the receivers');
  assert.deepEqual(
    Object.keys(result.received.windowBytesByWidth),
    ['320'],
    'in the window every receiver got the lowest layer only',
  );
  assert.ok((result.sentLayersMbps.r0 ?? 0) > 0, 'r0 is sent');
  assert.equal(result.sentLayersMbps.r1, 0, 'r1 is paused: nobody views it');
  assert.equal(result.sentLayersMbps.r2, 0, 'r2 is paused: nobody views it');
});
