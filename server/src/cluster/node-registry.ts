// The cluster's nodes, in Redis: each node keeps `meet:node:<id>:alive` (its load and
// addresses, JSON) with a TTL and renews it every third of that TTL; the set `meet:nodes`
// lists every node that registered. A node whose key expired (it died, or lost Redis for a
// whole TTL) is gone: the first node to notice removes it from the set, and every node that
// notices emits `nodeGone` for it once, so that its rooms drop what lived on that node. A
// node that restarts under the same id waits for its old entry to expire, and counts as a
// new node (the old one gone) by its start time.
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';

export interface NodeInfo {
  id: string;
  /** Mean measured load of its media workers (share of one core each). */
  load: number;
  /** Rooms with participants on it. */
  rooms: number;
  /** When the node started (ISO). */
  startedAt: string;
}

const NODES = 'meet:nodes';
const aliveKey = (nodeId: string) => `meet:node:${nodeId}:alive`;

export class NodeRegistry extends EventEmitter<{
  /** A node's run (started at `startedAt`) is over; `restarted`: the node is back in a new run. */
  nodeGone: [nodeId: string, gone: { startedAt: string; restarted: boolean }];
}> {
  readonly nodeId: string;
  readonly #redis: Redis;
  readonly #ttlMs: number;
  readonly #info: () => Omit<NodeInfo, 'id' | 'startedAt'>;
  readonly #startedAt = new Date().toISOString();

  /** When this node (this process) started: tells a restart under the same id apart. */
  get startedAt(): string {
    return this.#startedAt;
  }
  readonly #log: FastifyBaseLogger;
  /** Nodes seen alive at the last check, with their start time (to tell each one's going once). */
  #known = new Map<string, string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  constructor(
    redis: Redis,
    nodeId: string,
    ttlMs: number,
    info: () => Omit<NodeInfo, 'id' | 'startedAt'>,
    log: FastifyBaseLogger,
  ) {
    super();
    this.#redis = redis;
    this.nodeId = nodeId;
    this.#ttlMs = ttlMs;
    this.#info = info;
    this.#log = log;
  }

  /** Registers this node now and renews it (and looks for gone nodes) every TTL/3. */
  async start(): Promise<void> {
    // A previous run of this node that died leaves its entry until it expires; one that is
    // still renewed belongs to another live node with this id.
    const deadline = Date.now() + this.#ttlMs * 1.5;
    for (;;) {
      const existing = await this.#redis.get(aliveKey(this.nodeId));
      if (!existing) break;
      if (Date.now() > deadline) {
        const other = JSON.parse(existing) as NodeInfo;
        throw new Error(
          `NODE_ID ${this.nodeId} is taken by a live node (started ${other.startedAt}): give each node its own`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await this.#heartbeat();
    this.#known = new Map((await this.liveNodes()).map((node) => [node.id, node.startedAt]));
    this.#timer = setInterval(
      () => {
        this.#heartbeat()
          .then(() => this.#lookForGone())
          .catch((err: unknown) => this.#log.warn({ err }, 'cluster heartbeat failed'));
      },
      Math.max(200, Math.floor(this.#ttlMs / 3)),
    );
    this.#timer.unref();
  }

  async #heartbeat(): Promise<void> {
    if (this.#stopped) return;
    const info: NodeInfo = { id: this.nodeId, startedAt: this.#startedAt, ...this.#info() };
    await this.#redis
      .multi()
      .set(aliveKey(this.nodeId), JSON.stringify(info), 'PX', this.#ttlMs)
      .sadd(NODES, this.nodeId)
      .exec();
  }

  /** The nodes whose registration has not expired, this one included. */
  async liveNodes(): Promise<NodeInfo[]> {
    const ids = await this.#redis.smembers(NODES);
    if (ids.length === 0) return [];
    const values = await this.#redis.mget(ids.map(aliveKey));
    const live: NodeInfo[] = [];
    values.forEach((value) => {
      if (value) live.push(JSON.parse(value) as NodeInfo);
    });
    return live;
  }

  /** Whether a node is registered and alive now. */
  async isAlive(nodeId: string): Promise<boolean> {
    return (await this.#redis.exists(aliveKey(nodeId))) === 1;
  }

  async #lookForGone(): Promise<void> {
    const ids = await this.#redis.smembers(NODES);
    const values = ids.length ? await this.#redis.mget(ids.map(aliveKey)) : [];
    const alive = new Map<string, string>();
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const value = values[i];
      if (value) alive.set(id, (JSON.parse(value) as NodeInfo).startedAt);
      else gone.push(id);
    });
    if (gone.length) await this.#redis.srem(NODES, ...gone);
    for (const [id, startedAt] of this.#known) {
      if (id === this.nodeId || alive.get(id) === startedAt) continue;
      const restarted = alive.has(id);
      this.#log.warn(
        { node: id },
        restarted
          ? 'a node of the cluster restarted (a new run under the same id)'
          : 'a node of the cluster is gone (its registration expired)',
      );
      this.emit('nodeGone', id, { startedAt, restarted });
    }
    this.#known = alive;
  }

  /** Leaves the cluster at once (a clean stop): the others need not wait for the TTL. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#redis
      .multi()
      .del(aliveKey(this.nodeId))
      .srem(NODES, this.nodeId)
      .exec()
      .catch(() => undefined);
  }
}
