// With several nodes, a room's chat batches are committed one after another under the
// room's advisory lock (storeBatchInOrder), each knowing the room's highest seq before it
// (`previousSeq`); but the bus brings one node's batches and another's in any order. Each
// node delivers a room's batches by chaining them: a batch goes out once the one it follows
// has, so every participant on every node receives the room's messages in seq order. A
// batch whose predecessor does not come (a bus message lost while Redis reconnected, or a
// message stored by something other than a batch) waits `gapMs`, then the gap is read from
// the database and delivered first: late, never lost or out of order.
import type { FastifyBaseLogger } from 'fastify';
import type { ChatMessage } from '@meet/protocol';

export interface Sent {
  message: ChatMessage;
  /** The participant who sent it ('' when unknown: read back from the database). */
  senderId: string;
}

export interface OrderedBatch {
  /** The room's highest seq before this batch ("0": none). */
  previousSeq: string;
  /** Its messages in seq order (never empty). */
  sent: Sent[];
}

export interface ChatOrderOptions {
  /** The room's highest seq when this node started delivering its chat. */
  start: Promise<string>;
  /** Delivers messages (in seq order) to this node's participants. */
  deliver: (sent: Sent[]) => void;
  /** The room's stored messages with seq in (after, upTo], in seq order. */
  fill: (after: string, upTo: string) => Promise<ChatMessage[]>;
  log: FastifyBaseLogger;
  gapMs?: number;
}

const lastOf = (batch: OrderedBatch) => BigInt((batch.sent.at(-1) as Sent).message.seq);

export class ChatOrder {
  readonly #options: ChatOrderOptions;
  /** The highest seq delivered here (undefined until the start is known). */
  #last: bigint | undefined;
  /** Batches waiting for their predecessor, by the seq they follow. */
  readonly #held = new Map<bigint, OrderedBatch>();
  #gapTimer: ReturnType<typeof setTimeout> | undefined;
  #filling = false;
  #closed = false;

  constructor(options: ChatOrderOptions) {
    this.#options = options;
    options.start.then(
      (seq) => {
        this.#last = BigInt(seq);
        this.#drain();
      },
      (err: unknown) => {
        // Without a start, the first batch's predecessor is taken as the start.
        options.log.warn({ err }, "the room's last chat seq could not be read");
        const first = [...this.#held.keys()].sort((a, b) => (a < b ? -1 : 1))[0];
        this.#last = first ?? 0n;
        this.#drain();
      },
    );
  }

  /** Batches waiting for an earlier one (for tests). */
  get held(): number {
    return this.#held.size;
  }

  push(batch: OrderedBatch): void {
    if (this.#closed || batch.sent.length === 0) return;
    // Already delivered (through a gap fill, or before this node started).
    if (this.#last !== undefined && lastOf(batch) <= this.#last) return;
    this.#held.set(BigInt(batch.previousSeq), batch);
    this.#drain();
  }

  #drain(): void {
    if (this.#last === undefined) return;
    for (;;) {
      const next = this.#held.get(this.#last);
      if (!next) break;
      this.#held.delete(this.#last);
      this.#last = lastOf(next);
      this.#options.deliver(next.sent);
    }
    for (const [previous, batch] of this.#held) {
      if (previous < this.#last && lastOf(batch) <= this.#last) this.#held.delete(previous);
    }
    clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    if (this.#held.size > 0 && !this.#closed) {
      this.#gapTimer = setTimeout(() => void this.#fillGap(), this.#options.gapMs ?? 1500);
      this.#gapTimer.unref();
    }
  }

  async #fillGap(): Promise<void> {
    if (this.#filling || this.#last === undefined || this.#held.size === 0) return;
    this.#filling = true;
    const after = this.#last;
    const upTo = [...this.#held.keys()].reduce((min, seq) => (seq < min ? seq : min));
    try {
      const missing = await this.#options.fill(after.toString(), upTo.toString());
      if (this.#closed || this.#last !== after) return;
      this.#options.log.warn(
        { after: after.toString(), upTo: upTo.toString(), messages: missing.length },
        'chat messages read back from the database (their batch did not come over the bus)',
      );
      this.#last = upTo;
      if (missing.length) this.#options.deliver(missing.map((message) => ({ message, senderId: '' })));
    } catch (err) {
      this.#options.log.warn({ err }, 'a gap in the chat could not be read; trying again');
    } finally {
      this.#filling = false;
      this.#drain();
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#gapTimer);
    this.#held.clear();
  }
}
