// The real MediaWorkerPool with real mediasoup worker processes: least-loaded placement,
// health, and recovery when a worker process is killed.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type { types } from 'mediasoup';
import {
  LOAD_TIE,
  MediaWorkerPool,
  roomMediaCodecs,
  type PoolLogger,
  type WorkerDiedEvent,
} from '../src/index.js';
import { loadRouterWithRtp } from './support/rtp-load.js';

// A high port range of its own, varied by pid so that parallel runs do not collide.
const basePort = 46000 + (process.pid % 1500) * 8;

interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

function recordingLogger(entries: LogEntry[]): PoolLogger {
  return {
    info: (obj, msg) => entries.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => entries.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => entries.push({ level: 'error', obj, msg }),
  };
}

/** Waits for one emission of `event`, failing after `timeoutMs`. */
async function nextEvent<T extends unknown[]>(
  emitter: MediaWorkerPool,
  event: 'workerDied' | 'workerRestarted',
  timeoutMs = 15_000,
): Promise<T> {
  return (await once(emitter, event, { signal: AbortSignal.timeout(timeoutMs) })) as T;
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('MediaWorkerPool', () => {
  let pool: MediaWorkerPool;
  const log: LogEntry[] = [];
  const routers: types.Router[] = [];

  async function createRouter(roomId: string) {
    const created = await pool.createRouter({ roomId });
    routers.push(created.router);
    return created;
  }

  before(async () => {
    pool = await MediaWorkerPool.start(
      { numWorkers: 2, listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', basePort },
      recordingLogger(log),
    );
  });

  after(() => {
    pool?.close();
  });

  test('starts two live workers, one port each', async () => {
    assert.equal(pool.size, 2);
    const health = await pool.health();
    assert.equal(health.length, 2);
    for (const [i, worker] of health.entries()) {
      assert.equal(worker.index, i);
      assert.equal(worker.alive, true);
      assert.equal(worker.port, basePort + i);
      assert.equal(worker.routers, 0);
      assert.equal(worker.restarts, 0);
      assert.equal(typeof worker.pid, 'number');
      assert.ok(isRunning(worker.pid as number), `worker ${i} process runs`);
      assert.equal(typeof worker.cpuSeconds, 'number');
      assert.ok((worker.cpuSeconds as number) >= 0);
      assert.ok((worker.maxRssKiB as number) > 0);
    }
    assert.deepEqual(
      pool.pids(),
      health.map((w) => w.pid),
    );
    assert.notEqual(health[0]?.pid, health[1]?.pid);
    assert.equal(log.filter((e) => e.msg === 'media worker started').length, 2);
  });

  test('createRouter puts each room on the least loaded worker', async () => {
    const placed = [];
    for (let i = 0; i < 4; i++) placed.push(await createRouter(`spread-${i}`));
    assert.deepEqual(
      placed.map((p) => p.workerIndex),
      [0, 1, 0, 1],
    );
    assert.deepEqual(
      (await pool.health()).map((w) => w.routers),
      [2, 2],
    );
    for (const [i, { router, webRtcServer, workerIndex }] of placed.entries()) {
      assert.equal(router.closed, false);
      assert.equal(webRtcServer.closed, false);
      assert.deepEqual(router.appData, { roomId: `spread-${i}` });
      // The room's codecs are offered.
      const mimeTypes = router.rtpCapabilities.codecs?.map((c) => c.mimeType.toLowerCase()) ?? [];
      for (const codec of roomMediaCodecs) assert.ok(mimeTypes.includes(codec.mimeType.toLowerCase()));
      // The routers of one worker share its WebRtcServer.
      assert.equal(placed[workerIndex]?.webRtcServer, webRtcServer);
    }
    assert.notEqual(placed[0]?.webRtcServer, placed[1]?.webRtcServer);

    // Closing two routers of worker 0 makes it the least loaded one.
    placed[0]?.router.close();
    placed[2]?.router.close();
    assert.deepEqual(
      (await pool.health()).map((w) => w.routers),
      [0, 2],
    );
    const next = await createRouter('after-close');
    assert.equal(next.workerIndex, 0);
    for (const p of placed) p.router.close();
    next.router.close();
    assert.deepEqual(
      (await pool.health()).map((w) => w.routers),
      [0, 0],
    );
  });

  test('createRouter goes by measured CPU load, not by router counts', async () => {
    // A pool of its own that reads worker CPU every 250 ms.
    const loadPool = await MediaWorkerPool.start(
      { numWorkers: 2, listenIp: '127.0.0.1', basePort: basePort + 4, loadSampleMs: 250 },
      recordingLogger([]),
    );
    let load: { stop(): void } | undefined;
    try {
      // Real work for worker 0: RTP arriving at 10-20 thousand packets a second on a plain
      // transport, forwarded to three consumers.
      const busy = await loadPool.createRouter({ roomId: 'busy' });
      assert.equal(busy.workerIndex, 0);
      load = await loadRouterWithRtp(busy.router);
      await waitFor('worker 0 to be measured busier than worker 1', () =>
        Promise.resolve(loadPool.loadOf(0) > loadPool.loadOf(1) + LOAD_TIE),
      );
      const loads = (await loadPool.health()).map((w) => w.load);
      // Router counts would now say worker 1 (0 routers), then worker 0 (1 each): the load says 1, 1.
      const first = await loadPool.createRouter({ roomId: 'new-1' });
      const second = await loadPool.createRouter({ roomId: 'new-2' });
      assert.deepEqual([first.workerIndex, second.workerIndex], [1, 1], `loads ${loads.join(', ')}`);
      // A room that already has a router on worker 1 and wants another worker gets worker 0.
      const other = await loadPool.createRouter({ roomId: 'new-1' }, { avoid: new Set([1]) });
      assert.equal(other.workerIndex, 0);
      // With every worker avoided, it still gets one (the least loaded).
      const any = await loadPool.createRouter({ roomId: 'new-1' }, { avoid: new Set([0, 1]) });
      assert.equal(any.workerIndex, 1);
    } finally {
      load?.stop();
      loadPool.close();
    }
  });

  test('health keeps reporting cpuSeconds, which never decrease', async () => {
    const before = await pool.health();
    // Some work for worker 0: create and close routers and transports.
    for (let i = 0; i < 20; i++) {
      const { router, webRtcServer } = await createRouter(`work-${i}`);
      const transport = await router.createWebRtcTransport({ webRtcServer });
      transport.close();
      router.close();
    }
    const later = await pool.health();
    const cpu = (w: { cpuSeconds?: number } | undefined) => w?.cpuSeconds ?? -1;
    assert.ok(cpu(later[0]) >= cpu(before[0]) && cpu(before[0]) >= 0);
    assert.ok(later.every((w) => w.alive));
  });

  test('a killed worker is reported, replaced on its port, and routers keep coming', async () => {
    // Two rooms, one on each worker.
    const onZero = await createRouter('victim-0');
    const onOne = await createRouter('victim-1');
    assert.deepEqual([onZero.workerIndex, onOne.workerIndex], [0, 1]);
    let workerClosed = false;
    onOne.router.on('workerclose', () => (workerClosed = true));

    const [before0, before1] = await pool.health();
    const pid = before1?.pid as number;
    const died = nextEvent<[WorkerDiedEvent]>(pool, 'workerDied');
    const restarted = nextEvent<[number]>(pool, 'workerRestarted');
    // While worker 1 is down, a new router goes to the live worker, whatever the load.
    const duringOutage = new Promise<number>((resolve, reject) => {
      pool.once('workerDied', () => {
        pool.createRouter({ roomId: 'during-outage' }).then((created) => {
          routers.push(created.router);
          resolve(created.workerIndex);
        }, reject);
      });
    });

    process.kill(pid, 'SIGKILL');

    const [event] = await died;
    assert.equal(event.index, 1);
    assert.equal(event.pid, pid);
    assert.ok(event.error instanceof Error);
    assert.equal(onOne.router.closed, true, 'the routers of the dead worker are closed');
    assert.equal(workerClosed, true, "its routers emitted 'workerclose'");
    assert.equal(onZero.router.closed, false, 'the other worker is untouched');
    assert.equal(await duringOutage, 0);

    const [index] = await restarted;
    assert.equal(index, 1);
    const health = await pool.health();
    const [after0, after1] = health;
    assert.equal(after1?.alive, true);
    assert.equal(after1?.restarts, 1);
    assert.equal(after1?.port, basePort + 1, 'same port as before');
    assert.equal(after1?.routers, 0, 'a fresh worker hosts no router');
    assert.notEqual(after1?.pid, pid);
    assert.ok(isRunning(after1?.pid as number));
    assert.equal(typeof after1?.cpuSeconds, 'number');
    assert.equal(after0?.restarts, 0);
    assert.equal(after0?.pid, before0?.pid);
    assert.deepEqual(pool.pids(), [before0?.pid, after1?.pid]);
    assert.ok(log.some((e) => e.level === 'error' && /died/.test(e.msg)));

    // The restarted worker is the least loaded: it gets the next room, and it works.
    const next = await createRouter('after-restart');
    assert.equal(next.workerIndex, 1);
    const transport = await next.router.createWebRtcTransport({ webRtcServer: next.webRtcServer });
    assert.ok(transport.iceCandidates.every((c) => c.port === basePort + 1));
    transport.close();
    const another = await createRouter('after-restart-2');
    assert.equal(another.router.closed, false);
  });

  test('createRouter refuses once the pool is closed', async () => {
    const pids = pool.pids();
    pool.close();
    await assert.rejects(pool.createRouter({ roomId: 'late' }), /pool is closed/);
    for (const router of routers) assert.equal(router.closed, true);
    // The worker processes exit.
    await waitFor('the worker processes to exit', async () => !pids.some(isRunning));
  });
});

describe('MediaWorkerPool with every worker dead', () => {
  let pool: MediaWorkerPool;

  before(async () => {
    pool = await MediaWorkerPool.start(
      { numWorkers: 2, listenIp: '127.0.0.1', basePort: basePort + 4 },
      recordingLogger([]),
    );
  });

  after(() => pool?.close());

  test('createRouter waits for a restarted worker instead of failing', async () => {
    const pids = pool.pids();
    assert.equal(pids.length, 2);
    const deaths: number[] = [];
    let liveAtSecondDeath: number[] | undefined;
    let created: ReturnType<MediaWorkerPool['createRouter']> | undefined;
    pool.on('workerDied', ({ index }) => {
      deaths.push(index);
      if (deaths.length < 2) return;
      liveAtSecondDeath = pool.pids();
      // Right after the pool has handled the second death (both restarts pending).
      queueMicrotask(() => (created = pool.createRouter({ roomId: 'phoenix' })));
    });
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await waitFor('both workers to die', async () => created !== undefined);
    assert.deepEqual(deaths.sort(), [0, 1]);
    assert.deepEqual(liveAtSecondDeath, [], 'no worker was alive');

    const { router, workerIndex } = await (created as ReturnType<MediaWorkerPool['createRouter']>);
    assert.equal(router.closed, false);
    const health = await pool.health();
    assert.equal(health[workerIndex]?.alive, true);
    assert.equal(health[workerIndex]?.routers, 1);
    await waitFor('both workers to be back', async () => (await pool.health()).every((w) => w.alive));
    assert.deepEqual(
      (await pool.health()).map((w) => w.restarts),
      [1, 1],
    );
    for (const pid of pool.pids()) assert.ok(!pids.includes(pid), 'new processes');
    router.close();
  });
});

describe('MediaWorkerPool, createRouter from a workerDied listener', () => {
  let pool: MediaWorkerPool;

  before(async () => {
    pool = await MediaWorkerPool.start(
      { numWorkers: 1, listenIp: '127.0.0.1', basePort: basePort + 6 },
      recordingLogger([]),
    );
  });

  after(() => pool?.close());

  test('waits for the restart when the last live worker just died', async () => {
    const created = new Promise<Awaited<ReturnType<MediaWorkerPool['createRouter']>>>((resolve, reject) => {
      pool.once('workerDied', () => pool.createRouter({ roomId: 'eager' }).then(resolve, reject));
    });
    const restarted = nextEvent(pool, 'workerRestarted');
    process.kill(pool.pids()[0] as number, 'SIGKILL');
    try {
      const { router } = await created;
      assert.equal(router.closed, false);
      router.close();
    } finally {
      // Let the restart finish before the pool is closed (see the next test).
      await restarted;
    }
  });
});

describe('MediaWorkerPool closed while a worker restarts', () => {
  test('leaves no worker process running', async () => {
    const pool = await MediaWorkerPool.start(
      { numWorkers: 1, listenIp: '127.0.0.1', basePort: basePort + 7 },
      recordingLogger([]),
    );
    const [pid] = pool.pids();
    const died = nextEvent(pool, 'workerDied');
    process.kill(pid as number, 'SIGKILL');
    await died;
    pool.close(); // the restart is under way
    // Give a restart that ignores close() the time to finish (it takes milliseconds).
    let timer: NodeJS.Timeout | undefined;
    const restarted = await new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 2000);
      pool.once('workerRestarted', () => resolve(true));
    });
    clearTimeout(timer);
    const leaked = pool.pids().filter(isRunning);
    // Clean up whatever leaked, so that this process can exit.
    for (const leakedPid of leaked) process.kill(leakedPid, 'SIGKILL');
    assert.deepEqual(leaked, [], 'no worker runs after close()');
    assert.equal(restarted, false, 'no restart is reported after close()');
  });
});

describe('MediaWorkerPool.start', () => {
  test('refuses a worker count that is not a positive integer', async () => {
    for (const numWorkers of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(
        MediaWorkerPool.start({ numWorkers, listenIp: '127.0.0.1', basePort }, recordingLogger([])),
        /numWorkers must be a positive integer/,
      );
    }
  });

  test('fails with the port in the message when the port is taken', async () => {
    const first = await MediaWorkerPool.start(
      { numWorkers: 1, listenIp: '127.0.0.1', basePort: basePort + 2 },
      recordingLogger([]),
    );
    try {
      await assert.rejects(
        MediaWorkerPool.start(
          { numWorkers: 1, listenIp: '127.0.0.1', basePort: basePort + 2 },
          recordingLogger([]),
        ),
        new RegExp(`cannot listen on port ${basePort + 2}`),
      );
    } finally {
      first.close();
    }
  });
});
