// All open rooms of this server. A room is created on its first connection and closed
// when its last peer leaves. Concurrent first connections share one creation.
import type { FastifyBaseLogger } from 'fastify';
import type { MediaWorkerPool } from '@meet/media-worker';
import { Room, type RoomOptions } from './room.js';

export class RoomRegistry {
  readonly #rooms = new Map<string, Promise<Room>>();
  readonly #pool: MediaWorkerPool;
  readonly #log: FastifyBaseLogger;
  readonly #options: RoomOptions;

  constructor(pool: MediaWorkerPool, log: FastifyBaseLogger, options: RoomOptions) {
    this.#pool = pool;
    this.#log = log;
    this.#options = options;
  }

  async getOrCreate(roomId: string): Promise<Room> {
    const existing = this.#rooms.get(roomId);
    if (existing) {
      const room = await existing;
      if (!room.closed) return room;
    }
    const creating = Room.create(roomId, this.#pool, this.#log, this.#options);
    this.#rooms.set(roomId, creating);
    try {
      const room = await creating;
      room.once('close', () => {
        if (this.#rooms.get(roomId) === creating) this.#rooms.delete(roomId);
      });
      return room;
    } catch (error) {
      if (this.#rooms.get(roomId) === creating) this.#rooms.delete(roomId);
      throw error;
    }
  }

  async list(): Promise<Room[]> {
    const settled = await Promise.allSettled(this.#rooms.values());
    return settled.flatMap((r) => (r.status === 'fulfilled' && !r.value.closed ? [r.value] : []));
  }

  async closeAll(): Promise<void> {
    for (const room of await this.list()) room.close();
  }
}
