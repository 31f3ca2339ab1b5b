// All open rooms of this server. A room is made on its first connection (without media:
// its router comes with its first caller) and closed when its last participant leaves (or,
// opened for an API call, when that call is done and nobody is connected).
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

  /**
   * Runs `use` with the room open on this node (opened for it if nobody is connected here,
   * and closed after it if nobody came meanwhile).
   */
  async withRoom<T>(roomId: string, use: (room: Room) => Promise<T>): Promise<T> {
    const room = this.getOrCreate(roomId);
    const release = room.hold();
    try {
      await room.ready();
      return await use(room);
    } finally {
      release();
    }
  }

  /**
   * Closes an identity's connections (or only one session's) in these rooms, on every node,
   * each told why: it signed out, was revoked, or was merged into an account.
   */
  async disconnect(
    roomIds: readonly string[],
    who: { identityId: string; sessionId?: string | undefined },
    reason: string,
  ): Promise<void> {
    await Promise.all(
      roomIds.map((roomId) =>
        this.withRoom(roomId, async (room) =>
          who.sessionId
            ? room.disconnectSession(who.sessionId, reason)
            : room.disconnectIdentity(who.identityId, reason),
        ),
      ),
    );
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
