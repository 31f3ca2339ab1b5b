// Groups a room's chat sends into batches: one batch is committed at a time (so the room's
// messages get their seq, and are announced, in the order they arrived), and whatever arrives
// while it commits waits in a bounded queue to form the next one. A send waits for its batch's
// commit; when the commit fails, every send of that batch gets the error and none of it counts
// as stored. The queue is bounded in messages and bytes: past it, a send is refused at once
// (429) instead of holding memory.
import { maxMessagesPerBatch } from '@meet/protocol';
import { tooMany } from '../signaling/errors.js';

export interface BatchLimits {
  /** Messages in one batch (one transaction). */
  batchMessages: number;
  /** Bytes (as sizeOf counts them) in one batch; a single larger message still goes alone. */
  batchBytes: number;
  /** Messages waiting for a batch; more are refused. */
  queuedMessages: number;
  /** Bytes waiting for a batch; more are refused. */
  queuedBytes: number;
}

export const defaultBatchLimits: BatchLimits = {
  batchMessages: maxMessagesPerBatch,
  batchBytes: 1024 * 1024,
  queuedMessages: 1024,
  queuedBytes: 4 * 1024 * 1024,
};

interface Waiting<T, R> {
  item: T;
  bytes: number;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class SendBatcher<T, R> {
  readonly #commit: (items: T[]) => Promise<R[]>;
  readonly #sizeOf: (item: T) => number;
  readonly #limits: BatchLimits;
  readonly #queue: Array<Waiting<T, R>> = [];
  #queuedBytes = 0;
  #running = false;
  #committing = 0;

  /**
   * `commit` stores one batch and returns one result per item, in order (it runs for one
   * batch at a time); `sizeOf` is what an item counts against the byte limits.
   */
  constructor(
    commit: (items: T[]) => Promise<R[]>,
    sizeOf: (item: T) => number,
    limits: BatchLimits = defaultBatchLimits,
  ) {
    this.#commit = commit;
    this.#sizeOf = sizeOf;
    this.#limits = limits;
  }

  /** Sends waiting for a batch (not counting the batch being committed). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Sends in the batch being committed (0 when idle). */
  get committing(): number {
    return this.#committing;
  }

  /** Adds an item to the next batch; resolves with its result once that batch committed. */
  submit(item: T): Promise<R> {
    const bytes = this.#sizeOf(item);
    const { queuedMessages, queuedBytes } = this.#limits;
    if (
      this.#queue.length >= queuedMessages ||
      (this.#queue.length > 0 && this.#queuedBytes + bytes > queuedBytes)
    )
      return Promise.reject(
        tooMany(
          `the room's chat has ${this.#queue.length} messages waiting to be stored ` +
            `(at most ${queuedMessages}, ${Math.round(queuedBytes / 1024)} KiB): send again in a moment`,
        ),
      );
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, bytes, resolve, reject });
      this.#queuedBytes += bytes;
      if (!this.#running) {
        this.#running = true;
        // Whatever else arrives in this turn of the event loop joins the first batch.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#take();
      this.#committing = batch.length;
      try {
        const results = await this.#commit(batch.map((waiting) => waiting.item));
        if (results.length !== batch.length)
          throw new Error(`a batch of ${batch.length} sends committed with ${results.length} results`);
        batch.forEach((waiting, i) => waiting.resolve(results[i] as R));
      } catch (error) {
        for (const waiting of batch) waiting.reject(error);
      } finally {
        this.#committing = 0;
      }
      // Let the senders just acknowledged send their next message before the next batch is
      // taken: their requests wait in their participants' queues (one request at a time each)
      // and reach the batcher a few microtasks after their ack. Taken at once, the next batch
      // held only the senders that were not in this one, and a busy room's senders split into
      // two cohorts that alternated, each batch half the size it could be (100 rooms of 10:
      // 4.5 messages per notification; 8.5 with this turn).
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.#running = false;
  }

  /** The oldest waiting sends, within the batch limits (at least one). */
  #take(): Array<Waiting<T, R>> {
    const { batchMessages, batchBytes } = this.#limits;
    let count = 0;
    let bytes = 0;
    for (const waiting of this.#queue) {
      if (count === batchMessages || (count > 0 && bytes + waiting.bytes > batchBytes)) break;
      count++;
      bytes += waiting.bytes;
    }
    this.#queuedBytes -= bytes;
    return this.#queue.splice(0, count);
  }
}
