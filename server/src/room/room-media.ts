// The replaceable part of a room: its mediasoup router on one worker (with that worker's
// WebRtcServer) and the index of the producers in it. It is made when the first
// participant needs media, and lost when its worker dies: then the Room drops it, tells
// the call's participants, and makes a new one for whoever needs media next.
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { MediaWorkerPool } from '@meet/media-worker';
import type { MediaSource } from '@meet/protocol';

export type RoomProducer = types.Producer<{ source: MediaSource }>;

export class RoomMedia extends EventEmitter<{ lost: [reason: string] }> {
  readonly router: types.Router;
  readonly webRtcServer: types.WebRtcServer;
  readonly workerIndex: number;
  readonly #producers = new Map<string, { ownerId: string; producer: RoomProducer }>();
  #closed = false;

  private constructor(media: {
    router: types.Router;
    webRtcServer: types.WebRtcServer;
    workerIndex: number;
  }) {
    super();
    this.router = media.router;
    this.webRtcServer = media.webRtcServer;
    this.workerIndex = media.workerIndex;
    this.router.on('workerclose', () => {
      if (this.#closed) return;
      this.#closed = true;
      this.emit('lost', 'the media worker of this room stopped');
    });
  }

  static async create(pool: MediaWorkerPool, roomId: string): Promise<RoomMedia> {
    return new RoomMedia(await pool.createRouter({ roomId }));
  }

  get closed(): boolean {
    return this.#closed || this.router.closed;
  }

  /** Indexes a producer so that other participants can consume it by id. */
  addProducer(ownerId: string, producer: RoomProducer): void {
    this.#producers.set(producer.id, { ownerId, producer });
    producer.observer.once('close', () => this.#producers.delete(producer.id));
  }

  findProducer(producerId: string): { ownerId: string; producer: RoomProducer } | undefined {
    const found = this.#producers.get(producerId);
    return found && !found.producer.closed ? found : undefined;
  }

  get producerCount(): number {
    return this.#producers.size;
  }

  close(): void {
    this.#closed = true;
    this.#producers.clear();
    if (!this.router.closed) this.router.close();
  }
}
