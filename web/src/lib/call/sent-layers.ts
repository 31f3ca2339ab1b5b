// Dynacast on the publishing side: the server says, per video producer of ours, the highest
// simulcast layer any viewer wants (`producerLayers`; -1: nobody views it), and we encode
// only the layers up to it. What is wanted is kept by producer id, so a value that arrives
// before `produce()` resolved here is applied once the producer is known, and it is applied
// again after a track change (replaceTrack can reset the sender's encodings).
import type { types as ms } from 'mediasoup-client';

export class SentLayers {
  /** Per producer id: the highest layer viewers want. */
  readonly #wanted = new Map<string, number>();
  /** Per producer id: the change under way (one at a time per producer). */
  readonly #work = new Map<string, Promise<void>>();

  wanted(producerId: string): number | undefined {
    return this.#wanted.get(producerId);
  }

  /** What the server wants of a producer; applied now if the producer is known. */
  want(producerId: string, maxSpatialLayer: number, producer: ms.Producer | undefined): void {
    this.#wanted.set(producerId, maxSpatialLayer);
    if (producer) this.apply(producer);
  }

  /** Applies the wanted layers to the producer (one change at a time per producer). */
  apply(producer: ms.Producer): void {
    if (producer.kind !== 'video' || !this.#wanted.has(producer.id)) return;
    const previous = this.#work.get(producer.id) ?? Promise.resolve();
    const next = previous
      .then(() => this.#applyNow(producer))
      .catch((error: unknown) => console.warn('could not change the sent layers', error));
    this.#work.set(producer.id, next);
  }

  forget(producerId: string): void {
    this.#wanted.delete(producerId);
    this.#work.delete(producerId);
  }

  clear(): void {
    this.#wanted.clear();
    this.#work.clear();
  }

  async #applyNow(producer: ms.Producer): Promise<void> {
    const wanted = this.#wanted.get(producer.id);
    if (producer.closed || wanted === undefined) return;
    // setMaxSpatialLayer(n) turns encodings 0..n on and the others off (-1: all off), and
    // tells the remote description which are paused.
    const encodings = producer.rtpSender?.getParameters().encodings ?? [];
    const inPlace = encodings.every((e, i) => (e.active !== false) === i <= wanted);
    if (producer.maxSpatialLayer === wanted && inPlace) return;
    // mediasoup-client skips a value it believes applied: make it apply again.
    if (producer.maxSpatialLayer === wanted) await producer.setMaxSpatialLayer(wanted === -1 ? 0 : -1);
    await producer.setMaxSpatialLayer(wanted);
  }
}
