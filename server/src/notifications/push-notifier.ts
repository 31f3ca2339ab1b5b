// Web push for stored messages (RFC 8030, encrypted per RFC 8291, signed per RFC 8292, with
// web-push): each person who asked for a room's notifications gets a push for a private
// message to them and for an @mention of them ("mentions"), or for any message while they are
// not connected to the room ("all"); never for their own, never while busy. The node that
// stored a batch sends its pushes (each batch is stored once, on one node). A subscription
// the push service says is gone is forgotten.
import type { ChatMessage } from '@meet/protocol';
import type { FastifyBaseLogger } from 'fastify';
import type { Agent } from 'node:https';
import webpush, { WebPushError } from 'web-push';
import type { Db } from '../db/database.js';
import type { PresenceLookup } from '../room/presence.js';
import type { VapidKeys } from './vapid.js';

export interface PushPayload {
  title: string;
  body: string;
  /** Where a click goes: the room, at the message. */
  url: string;
  /** One notification per room (a newer one replaces it). */
  tag: string;
  roomId: string;
  messageId: string;
}

export interface PushOptions {
  keys: VapidKeys;
  /** The contact the push services may reach the operator at (mailto: or https:). */
  subject: string;
  /** Connections to push services: one trusting PUSH_CA_FILE's authorities, if set. */
  agent?: Agent | undefined;
}

/** What a person hears of a room (memberships.notify). */
type Level = 'off' | 'mentions' | 'all';

/**
 * Who listens to a room is read at most this often per room (a busy room stores a batch
 * every few milliseconds): a change made on another node applies within this long.
 */
export const listenersTtlMs = 5000;

export class PushNotifier {
  readonly #db: Db;
  readonly #log: FastifyBaseLogger;
  readonly #options: PushOptions;
  readonly #presence: PresenceLookup;
  /** Pushes sent (by outcome), for tests and metrics. */
  readonly sent = { delivered: 0, gone: 0, failed: 0 };
  /** Per room: who asked for its pushes and is not busy, as read at `at`. */
  readonly #listeners = new Map<string, { at: number; level: Map<string, Level> }>();

  constructor(db: Db, log: FastifyBaseLogger, options: PushOptions, presence: PresenceLookup) {
    this.#db = db;
    this.#log = log;
    this.#options = options;
    this.#presence = presence;
  }

  get publicKey(): string {
    return this.#options.keys.publicKey;
  }

  /** Messages a room just stored. Never throws: a push that fails is logged. */
  async messagesStored(roomId: string, messages: readonly ChatMessage[]): Promise<void> {
    try {
      await this.#notify(
        roomId,
        messages.filter((m) => m.kind === 'text' && m.author !== null),
      );
    } catch (err) {
      this.#log.warn({ err, roomId }, 'push notifications for new messages failed');
    }
  }

  /** A room's listeners changed here (a level set, a status): read them again next time. */
  forget(roomId?: string): void {
    if (roomId === undefined) this.#listeners.clear();
    else this.#listeners.delete(roomId);
  }

  async #listenersOf(roomId: string): Promise<Map<string, Level>> {
    const cached = this.#listeners.get(roomId);
    if (cached && Date.now() - cached.at < listenersTtlMs) return cached.level;
    const rows = await this.#db.membership.findMany({
      where: { roomId, notify: { not: 'off' }, identity: { status: 'available' } },
      select: { identityId: true, notify: true },
    });
    const level = new Map<string, Level>(rows.map((row) => [row.identityId, row.notify]));
    if (this.#listeners.size > 10_000) this.#listeners.clear();
    this.#listeners.set(roomId, { at: Date.now(), level });
    return level;
  }

  async #notify(roomId: string, messages: ChatMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const level = await this.#listenersOf(roomId);
    if (level.size === 0) return;
    const connected = [...level.values()].includes('all')
      ? new Set((await this.#presence([roomId])).get(roomId)?.map((p) => p.identityId) ?? [])
      : new Set<string>();
    const room = await this.#db.room.findUnique({ where: { id: roomId }, select: { name: true } });
    const roomName = room?.name ?? roomId;

    const pushes: Array<{ identityId: string; payload: PushPayload; urgent: boolean }> = [];
    for (const message of messages) {
      const author = message.author as NonNullable<ChatMessage['author']>;
      for (const [identityId, wants] of level) {
        if (identityId === author.id) continue;
        const toThem = message.recipient?.id === identityId;
        if (message.recipient !== null && !toThem) continue;
        const named = message.mentions.includes(identityId);
        if (!(toThem || named || (wants === 'all' && !connected.has(identityId)))) continue;
        pushes.push({
          identityId,
          payload: payloadOf(roomId, roomName, message, toThem),
          urgent: toThem || named,
        });
      }
    }
    if (pushes.length === 0) return;
    const subscriptions = await this.#db.pushSubscription.findMany({
      where: { identityId: { in: [...new Set(pushes.map((p) => p.identityId))] } },
      select: { id: true, identityId: true, endpoint: true, p256dh: true, auth: true },
    });
    await Promise.all(
      pushes.flatMap((push) =>
        subscriptions
          .filter((s) => s.identityId === push.identityId)
          .map((subscription) => this.#send(subscription, push.payload, push.urgent)),
      ),
    );
  }

  async #send(
    subscription: { id: string; endpoint: string; p256dh: string; auth: string },
    payload: PushPayload,
    urgent: boolean,
  ): Promise<void> {
    try {
      await webpush.sendNotification(
        { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
        JSON.stringify(payload),
        {
          vapidDetails: { subject: this.#options.subject, ...this.#options.keys },
          TTL: 3600,
          urgency: urgent ? 'high' : 'normal',
          topic: payload.tag.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32),
          timeout: 10_000,
          ...(this.#options.agent ? { agent: this.#options.agent } : {}),
        },
      );
      this.sent.delivered++;
    } catch (err) {
      if (err instanceof WebPushError && (err.statusCode === 404 || err.statusCode === 410)) {
        this.sent.gone++;
        await this.#db.pushSubscription.deleteMany({ where: { id: subscription.id } });
        this.#log.info(
          { endpoint: new URL(subscription.endpoint).host },
          'push subscription gone: forgotten',
        );
        return;
      }
      this.sent.failed++;
      this.#log.info({ err, endpoint: new URL(subscription.endpoint).host }, 'push not delivered');
    }
  }
}

function payloadOf(roomId: string, roomName: string, message: ChatMessage, toThem: boolean): PushPayload {
  const author = message.author?.displayName ?? 'Someone';
  const body = message.text || (message.attachment ? `📎 ${message.attachment.fileName}` : '');
  return {
    title: toThem ? `${author} (private) in ${roomName}` : `${author} in ${roomName}`,
    body: body.length > 180 ? `${body.slice(0, 179)}…` : body,
    url: `/r/${roomId}#m=${message.id}`,
    tag: roomId,
    roomId,
    messageId: message.id,
  };
}
