// Producers piped between the routers of one room (mediasoup pipeToRouter over a local
// PipeTransport pair, one pair per two routers): a participant consumes a producer on its
// own router, so a producer from another router is piped there first, once, and only to the
// routers whose participants consume it (or that watch who speaks). The piped producer keeps
// the original's id and closes with it (or with either router).
import type { RoomProducer } from './room-media.js';
import type { RoomRouter } from './room-router.js';

export class ProducerPipes {
  /** `${producerId} ${targetRouterId}` → the producer piped there (made or being made). */
  readonly #piped = new Map<string, Promise<RoomProducer>>();

  /** The producer (on `from`) as a producer on `to`, piped now if it is not there yet. */
  onRouter(producer: RoomProducer, from: RoomRouter, to: RoomRouter): Promise<RoomProducer> {
    if (from === to) return Promise.resolve(producer);
    const key = `${producer.id} ${to.id}`;
    let piped = this.#piped.get(key);
    if (!piped) {
      piped = from.router.pipeToRouter({ producerId: producer.id, router: to.router }).then(
        ({ pipeProducer }) => {
          if (!pipeProducer) throw new Error(`producer ${producer.id} was not piped`);
          const onTarget = pipeProducer as RoomProducer;
          onTarget.observer.once('close', () => {
            if (this.#piped.get(key) === piped) this.#piped.delete(key);
          });
          return onTarget;
        },
        (error: unknown) => {
          this.#piped.delete(key);
          throw error;
        },
      );
      this.#piped.set(key, piped);
    }
    return piped;
  }

  /** How many producers are piped to another router now (for tests and metrics). */
  get size(): number {
    return this.#piped.size;
  }
}
