// All open rooms of this server. A room is made on its first connection (without media:
// its router comes with its first caller) and closed when its last participant leaves.
import type { FastifyBaseLogger } from 'fastify';
import { Room, type RoomOptions } from './room.js';

export class RoomRegistry {
  readonly #rooms = new Map<string, Room>();
  readonly #log: FastifyBaseLogger;
  readonly #options: RoomOptions;

  constructor(log: FastifyBaseLogger, options: RoomOptions) {
    this.#log = log;
    this.#options = options;
  }

  getOrCreate(roomId: string): Room {
    const existing = this.#rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    const room = new Room(roomId, this.#log, this.#options);
    this.#rooms.set(roomId, room);
    room.once('close', () => {
      if (this.#rooms.get(roomId) === room) this.#rooms.delete(roomId);
    });
    return room;
  }

  get(roomId: string): Room | undefined {
    const room = this.#rooms.get(roomId);
    return room && !room.closed ? room : undefined;
  }

  list(): Room[] {
    return [...this.#rooms.values()].filter((room) => !room.closed);
  }

  closeAll(): void {
    for (const room of this.list()) room.close();
  }
}
