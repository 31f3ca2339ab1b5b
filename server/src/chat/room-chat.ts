// A room's chat sends: checked messages are stored in batches (send-batcher.ts, one
// transaction each: store-batch.ts), then each joined participant gets the batch's messages
// it may see in one notification, before their senders are acknowledged. Batches of a room
// commit one after another, so seq order is arrival order and every participant receives the
// room's messages in seq order; different rooms commit in parallel (the database pool).
import { ErrorCode, type ChatMessage } from '@meet/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../db/database.js';
import type { ServerMetrics } from '../metrics/registry.js';
import type { Participant } from '../participant/participant.js';
import { SignalingError } from '../signaling/errors.js';
import type { PendingMessage } from './messages.js';
import { announceBatch } from './chat-announce.js';
import { SendBatcher, defaultBatchLimits, type BatchLimits } from './send-batcher.js';
import { ChatOrder, type OrderedBatch, type Sent } from './chat-order.js';
import {
  lastSeqOf,
  messagesBetween,
  storeBatch,
  storeBatchInOrder,
  type StoreOutcome,
} from './store-batch.js';

/** What the room chat needs of its room. */
export interface ChatRoom {
  readonly id: string;
  readonly db: Db;
  readonly metrics: ServerMetrics;
  readonly log: FastifyBaseLogger;
  joinedParticipants(): Participant[];
  /** Messages stored by this node (told already): for what follows, such as web push. */
  messagesStored(messages: readonly ChatMessage[]): void;
}

interface Send {
  message: PendingMessage;
  /** The sending participant (its other tabs are other participants: they are told). */
  senderId: string;
}

export class RoomChat {
  readonly #room: ChatRoom;
  readonly #batcher: SendBatcher<Send, StoreOutcome>;
  /** With several nodes: how batches from every node are chained in seq order, and told to the others. */
  #cluster: { order: ChatOrder; publish: (batch: OrderedBatch) => void } | undefined;

  constructor(room: ChatRoom, limits: BatchLimits = defaultBatchLimits) {
    this.#room = room;
    this.#batcher = new SendBatcher(
      (sends) => this.#commit(sends),
      // Text as UTF-8 (at most 4 × 4000 bytes), and what every row carries besides.
      (send) => Buffer.byteLength(send.message.text) + 256,
      limits,
    );
  }

  /**
   * The room has participants on other nodes too: batches commit under the room's lock and
   * are delivered here in chain order (ChatOrder), and each is published for the others.
   */
  spanNodes(publish: (batch: OrderedBatch) => void): void {
    const room = this.#room;
    this.#cluster = {
      publish,
      order: new ChatOrder({
        start: lastSeqOf(room.db, room.id),
        deliver: (sent) => this.#announce(sent),
        fill: (after, upTo) => messagesBetween(room.db, room.id, after, upTo),
        log: room.log,
      }),
    };
  }

  /** A batch committed on another node. */
  receive(batch: OrderedBatch): void {
    this.#cluster?.order.push(batch);
  }

  close(): void {
    this.#cluster?.order.close();
  }

  /** Sends waiting for the next batch (for tests and metrics). */
  get queued(): number {
    return this.#batcher.queued;
  }

  /** Sends in the batch being committed (0: none). */
  get committing(): number {
    return this.#batcher.committing;
  }

  /**
   * Stores the message with the room's next batch and returns it once committed (and told to
   * everyone else who may see it); a retry of a stored client id returns the stored message,
   * announced no second time.
   */
  async send(message: PendingMessage, senderId: string): Promise<ChatMessage> {
    return (await this.post(message, senderId)).message;
  }

  /** The same, saying whether this send stored it (false: a retry of a stored client id). */
  async post(message: PendingMessage, senderId: string): Promise<{ message: ChatMessage; created: boolean }> {
    const outcome = await this.#batcher.submit({ message, senderId });
    if (!outcome.ok) throw outcome.error;
    return { message: outcome.message, created: outcome.created };
  }

  async #commit(sends: Send[]): Promise<StoreOutcome[]> {
    const room = this.#room;
    let outcomes: StoreOutcome[];
    let previousSeq = '0';
    try {
      const messages = sends.map((send) => send.message);
      if (this.#cluster) ({ outcomes, previousSeq } = await storeBatchInOrder(room.db, room.id, messages));
      else outcomes = await storeBatch(room.db, room.id, messages);
    } catch (err) {
      room.log.error({ err, messages: sends.length }, 'a batch of chat messages was not stored');
      throw new SignalingError(
        ErrorCode.Unavailable,
        `the message was not stored (the database refused its batch of ${sends.length}): send it again`,
      );
    }
    const created: Sent[] = [];
    outcomes.forEach((outcome, i) => {
      if (!outcome.ok || !outcome.created) return;
      created.push({ message: outcome.message, senderId: (sends[i] as Send).senderId });
      room.metrics.chatMessageStored(outcome.message.recipient !== null);
    });
    created.sort((a, b) => (BigInt(a.message.seq) < BigInt(b.message.seq) ? -1 : 1));
    if (this.#cluster && created.length > 0) {
      const batch = { previousSeq, sent: created };
      this.#cluster.order.push(batch);
      this.#cluster.publish(batch);
    } else {
      this.#announce(created);
    }
    if (created.length > 0) room.messagesStored(created.map((sent) => sent.message));
    if (sends.length > 1)
      room.log.debug({ messages: sends.length, stored: created.length }, 'chat batch stored');
    return outcomes;
  }

  /** One notification per participant here: the batch's messages it may see, in seq order. */
  #announce(created: Sent[]): void {
    announceBatch(created, this.#room.joinedParticipants());
  }
}
