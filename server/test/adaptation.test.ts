// The pure parts of adaptive meetings: which layer a tile needs (media/layers.ts), what a
// view makes of a consumer (participant/view.ts), and when a publisher is told which layers
// are wanted (room/dynacast.ts, with a short hold).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  consumerPriority,
  ladderHeight,
  parseScalabilityMode,
  preferredLayers,
  spatialLayerForTile,
} from '../src/media/layers.js';
import {
  CALM_MS,
  FIRST_HOLD_MS,
  MAX_HOLD_MS,
  FALL_CONFIRM_MS,
  UpswitchBackoff,
  isFall,
  publisherSendsAbove,
} from '../src/media/upswitch-backoff.js';
import { ConsumerView } from '../src/participant/view.js';
import { Dynacast, LOWER_HOLD_MS } from '../src/room/dynacast.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('layers: the spatial layer a tile needs', () => {
  test('the camera ladder is 180, 360 and 720 lines; fewer encodings drop the bottom ones', () => {
    assert.deepEqual(
      [0, 1, 2].map((layer) => ladderHeight(layer, 3)),
      [180, 360, 720],
    );
    assert.deepEqual(
      [0, 1].map((layer) => ladderHeight(layer, 2)),
      [360, 720],
    );
    assert.equal(ladderHeight(0, 1), 720);
  });

  test('the smallest layer at least 75 % as tall as the tile (3 encodings)', () => {
    const cases: Array<[number, number, number]> = [
      [0, 0, 0],
      [160, 90, 0],
      [320, 180, 0],
      [320, 240, 0], // 240 * 0.75 = 180
      [320, 241, 1],
      [426, 240, 0], // 16:9 of 426 wide: 239.6
      [427, 240, 1], // 16:9 of 427 wide: 240.2
      [480, 270, 1],
      [640, 360, 1],
      [640, 480, 1], // 480 * 0.75 = 360
      [640, 481, 2],
      [853, 480, 1],
      [960, 540, 2],
      [1280, 720, 2],
      [3840, 2160, 2],
    ];
    for (const [width, height, layer] of cases)
      assert.equal(spatialLayerForTile({ width, height }, 3), layer, `${width}x${height}`);
  });

  test('a wide tile counts by the height a 16:9 picture as wide would have', () => {
    // 1280 wide, only 100 tall (a letterboxed strip): a 16:9 picture is 720 tall there.
    assert.equal(spatialLayerForTile({ width: 1280, height: 100 }, 3), 2);
    // A tall, narrow tile counts by its height.
    assert.equal(spatialLayerForTile({ width: 100, height: 700 }, 3), 2);
  });

  test('clamped to the encodings the producer has', () => {
    assert.equal(spatialLayerForTile({ width: 1920, height: 1080 }, 2), 1);
    assert.equal(spatialLayerForTile({ width: 320, height: 180 }, 2), 0); // 360 fits
    assert.equal(spatialLayerForTile({ width: 1920, height: 1080 }, 1), 0);
    assert.equal(spatialLayerForTile({ width: 1920, height: 1080 }, 0), 0);
  });

  test('preferred layers: the tile for a camera, the top for a screen or without a view; temporal max', () => {
    const l3t3 = parseScalabilityMode('L3T3');
    assert.deepEqual(preferredLayers('webcam', l3t3, { width: 320, height: 180 }), {
      spatialLayer: 0,
      temporalLayer: 2,
    });
    assert.deepEqual(preferredLayers('webcam', l3t3, undefined), { spatialLayer: 2, temporalLayer: 2 });
    assert.deepEqual(preferredLayers('screen', l3t3, { width: 160, height: 90 }), {
      spatialLayer: 2,
      temporalLayer: 2,
    });
    assert.deepEqual(
      preferredLayers('webcam', parseScalabilityMode(undefined), { width: 1280, height: 720 }),
      {
        spatialLayer: 0,
        temporalLayer: 0,
      },
    );
  });

  test('scalability modes', () => {
    assert.deepEqual(parseScalabilityMode('L3T3'), { spatialLayers: 3, temporalLayers: 3 });
    assert.deepEqual(parseScalabilityMode('S2T1'), { spatialLayers: 2, temporalLayers: 1 });
    assert.deepEqual(parseScalabilityMode('L3T3_KEY'), { spatialLayers: 3, temporalLayers: 3 });
    assert.deepEqual(parseScalabilityMode('nonsense'), { spatialLayers: 1, temporalLayers: 1 });
    assert.deepEqual(parseScalabilityMode(undefined), { spatialLayers: 1, temporalLayers: 1 });
  });

  test('priorities: screen share, then the active speaker’s camera, then the rest', () => {
    assert.equal(consumerPriority('screen', false), 3);
    assert.equal(consumerPriority('webcam', true), 2);
    assert.equal(consumerPriority('webcam', false), 1);
    assert.equal(consumerPriority('mic', true), 1);
  });
});

describe('ConsumerView', () => {
  test('before any view: forwarded iff the browser is ready', () => {
    const view = new ConsumerView();
    assert.equal(view.viewed, false);
    assert.equal(view.forwards('v', 'video'), false);
    view.setReady('v', true);
    assert.equal(view.forwards('v', 'video'), true);
    view.setReady('v', false);
    assert.equal(view.forwards('v', 'video'), false);
  });

  test('once a view is set: video only when listed, audio whenever ready', () => {
    const view = new ConsumerView();
    view.setReady('v', true);
    view.setReady('w', true);
    view.setReady('a', true);
    view.setTiles([{ consumerId: 'v', width: 640, height: 360 }]);
    assert.equal(view.forwards('v', 'video'), true);
    assert.equal(view.forwards('w', 'video'), false);
    assert.equal(view.forwards('a', 'audio'), true);
    assert.deepEqual(view.tile('v'), { width: 640, height: 360 });
    view.setTiles([]);
    assert.equal(view.forwards('v', 'video'), false);
    assert.equal(view.tile('v'), undefined);
    // Listed but not ready: not forwarded.
    view.setTiles([{ consumerId: 'x', width: 1, height: 1 }]);
    assert.equal(view.forwards('x', 'video'), false);
  });

  test('a consumer listed twice counts at its largest; a view survives as "viewed" on new media', () => {
    const view = new ConsumerView();
    view.setTiles([
      { consumerId: 'v', width: 320, height: 180 },
      { consumerId: 'v', width: 1280, height: 100 },
    ]);
    assert.deepEqual(view.tile('v'), { width: 1280, height: 180 });
    const next = new ConsumerView(true);
    next.setReady('v', true);
    assert.equal(next.forwards('v', 'video'), false, 'waits for the next view');
  });
});

describe('Dynacast', () => {
  const HOLD = 150;

  function track(dynacast: Dynacast, producerId: string) {
    const told: Array<{ layer: number; at: number }> = [];
    dynacast.addProducer(producerId, (layer) => told.push({ layer, at: performance.now() }));
    return told;
  }

  test('a new producer is told -1 after the current turn, then rises at once', async () => {
    const dynacast = new Dynacast(HOLD);
    const told = track(dynacast, 'p');
    assert.equal(told.length, 0, 'not within produce itself');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      told.map((t) => t.layer),
      [-1],
    );
    dynacast.want('p', 'c1', 0);
    dynacast.want('p', 'c2', 2);
    assert.deepEqual(
      told.map((t) => t.layer),
      [-1, 0, 2],
    );
    dynacast.want('p', 'c1', 1);
    assert.equal(told.length, 3, 'no change of the max, nothing told');
    assert.equal(dynacast.wanted('p'), 2);
    dynacast.close();
  });

  test('a fall is told only after the hold, and not at all when it rises back meanwhile', async () => {
    const dynacast = new Dynacast(HOLD);
    const told = track(dynacast, 'p');
    dynacast.want('p', 'c', 2);
    dynacast.want('p', 'c', 0);
    await sleep(HOLD / 3);
    dynacast.want('p', 'c', 2); // scrolled back
    await sleep(HOLD * 2);
    assert.deepEqual(
      told.map((t) => t.layer),
      [2],
      'only the rise: the brief fall was never told (nor the initial -1, overtaken by it)',
    );
    dynacast.want('p', 'c', 0);
    const fallAt = performance.now();
    await sleep(HOLD * 2);
    const last = told.at(-1);
    assert.equal(last?.layer, 0);
    assert.ok((last?.at ?? 0) - fallAt >= HOLD - 5, 'told after the hold');
    dynacast.close();
  });

  test('a consumer that goes (-1) drops the producer to what the others want, or -1', async () => {
    const dynacast = new Dynacast(HOLD);
    const told = track(dynacast, 'p');
    dynacast.want('p', 'a', 2);
    dynacast.want('p', 'b', 1);
    dynacast.want('p', 'a', -1);
    await sleep(HOLD * 2);
    dynacast.want('p', 'b', -1);
    await sleep(HOLD * 2);
    assert.deepEqual(
      told.map((t) => t.layer),
      [2, 1, -1],
    );
    assert.equal(dynacast.wanted('p'), -1);
    dynacast.close();
  });

  test('a removed producer is told nothing more; unknown producers are ignored', async () => {
    const dynacast = new Dynacast(HOLD);
    const told = track(dynacast, 'p');
    dynacast.want('p', 'a', 2);
    dynacast.want('p', 'a', 0);
    dynacast.removeProducer('p');
    dynacast.want('p', 'a', 1);
    dynacast.want('unknown', 'a', 1);
    await sleep(HOLD * 2);
    assert.deepEqual(
      told.map((t) => t.layer),
      [2],
    );
    assert.equal(dynacast.wanted('p'), undefined);
  });

  test('the production hold is 3 seconds', () => {
    assert.equal(LOWER_HOLD_MS, 3000);
  });
});

describe('upswitch backoff: a layer dropped by the downlink is held, then climbs one at a time', () => {
  test('a fall is one for lack of the viewer bandwidth only while the publisher still sends above it', () => {
    const fall = (previous: number | undefined, current: number | undefined, preferred: number) =>
      isFall({ previous, current, preferred });
    assert.equal(fall(2, 0, 2), true);
    assert.equal(fall(2, 1, 2), true);
    assert.equal(fall(2, 0, 0), false, 'the tile shrank: the view asks 0');
    assert.equal(fall(0, 1, 2), false, 'a rise');
    assert.equal(fall(undefined, 0, 2), false, 'the first layers of a consumer');
    assert.equal(fall(2, undefined, 2), false, 'nothing forwarded (paused)');
    assert.equal(publisherSendsAbove([10, 10, 10], 0, 2), true);
    assert.equal(publisherSendsAbove([10, 0, 7], 0, 2), true);
    assert.equal(publisherSendsAbove([10, 0, 0], 0, 2), false, 'the publisher stopped sending 1 and 2');
    assert.equal(publisherSendsAbove([10, 10, 0], 1, 2), false);
    assert.equal(publisherSendsAbove([10, 10, 10], 0, 0), false);
  });

  test('a suspected fall is held only if confirmed after FALL_CONFIRM_MS', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const backoff = new UpswitchBackoff(() => undefined);
    let confirmed = false;
    backoff.suspect('c', 0, 2, () => confirmed);
    t.mock.timers.tick(FALL_CONFIRM_MS);
    assert.equal(backoff.cap('c'), undefined, 'the publisher had stopped: not held');
    confirmed = true;
    backoff.suspect('c', 0, 2, () => confirmed);
    t.mock.timers.tick(FALL_CONFIRM_MS - 1);
    assert.equal(backoff.cap('c'), undefined);
    t.mock.timers.tick(1);
    assert.equal(backoff.cap('c'), 0);
    backoff.suspect('d', 1, 2, () => true);
    backoff.forget('d');
    t.mock.timers.tick(FALL_CONFIRM_MS);
    assert.equal(backoff.cap('d'), undefined, 'forgotten before its confirmation');
    backoff.close();
  });

  test('held for FIRST_HOLD_MS, then one layer per FIRST_HOLD_MS; a repeated fall doubles the hold up to MAX_HOLD_MS', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const changes: string[] = [];
    const backoff = new UpswitchBackoff((id) => changes.push(`${id}:${backoff.cap(id) ?? 'free'}`));
    assert.equal(backoff.cap('c'), undefined);

    assert.equal(backoff.fell('c', 0, 2), FIRST_HOLD_MS);
    assert.equal(backoff.cap('c'), 0);
    t.mock.timers.tick(FIRST_HOLD_MS - 1);
    assert.equal(backoff.cap('c'), 0);
    t.mock.timers.tick(1);
    assert.equal(backoff.cap('c'), 1, 'one layer more after the hold');
    t.mock.timers.tick(FIRST_HOLD_MS);
    assert.equal(backoff.cap('c'), undefined, 'free once the top is allowed');
    assert.deepEqual(changes, ['c:0', 'c:1', 'c:free']);

    // Falls again within CALM_MS of the last: each hold twice the previous, at most MAX_HOLD_MS.
    const holds = [1, 2, 3, 4].map(() => backoff.fell('c', 1, 2));
    assert.deepEqual(
      holds,
      [2, 4, MAX_HOLD_MS / FIRST_HOLD_MS, MAX_HOLD_MS / FIRST_HOLD_MS].map((k) => k * FIRST_HOLD_MS),
    );
    t.mock.timers.tick(MAX_HOLD_MS);
    assert.equal(backoff.cap('c'), undefined, 'from 1 the next step is the top: free');

    // After a calm period, a fall holds FIRST_HOLD_MS again.
    t.mock.timers.tick(CALM_MS);
    assert.equal(backoff.fell('c', 0, 2), FIRST_HOLD_MS);
    backoff.forget('c');
    assert.equal(backoff.cap('c'), undefined);
    const before = changes.length;
    t.mock.timers.tick(MAX_HOLD_MS);
    assert.equal(changes.length, before, 'a forgotten consumer is not changed later');

    backoff.fell('d', 0, 2);
    backoff.close();
    t.mock.timers.tick(MAX_HOLD_MS);
    assert.equal(backoff.cap('d'), undefined);
  });
});
