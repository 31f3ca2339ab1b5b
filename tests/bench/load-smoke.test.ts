// Keeps the media load tool (bench/load/) from rotting: a few seconds with 2 publishers and
// 1 receive-only participant against the real server and a real mediasoup worker, through
// the real signaling and a real WebRTC stack (werift). Asserts only correctness: every
// subscriber received packets from every publisher's audio and video, with a VP8 keyframe.
// Never a timing, a bitrate or a loss figure (the benchmark records those: npm run bench).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runLoadTool } from '../../bench/load/cli.js';

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
