// Tells a stored batch of a room's messages to its participants on this node: each gets, in
// one notification, the batch's messages it may see (not its own, private ones only between
// the two), in seq order. In a busy room most participants get the same selection, so each
// message is serialized once and each distinct selection's frame is built once, and the same
// string is written to every socket that gets it (before, the whole notification was
// serialized again for each participant: in a room of 50, 49 times).
import type { ChatMessage, NotificationMethod } from '@meet/protocol';
import { canSee } from './messages.js';

/** What announcing needs of a participant. */
export interface Audience {
  readonly id: string;
  readonly identity: { readonly id: string };
  notifyFrame(method: NotificationMethod, frame: string): void;
}

/** A stored message and the participant (connection) that sent it. */
export interface Announced {
  message: ChatMessage;
  senderId: string;
}

/**
 * A protoo notification's frame, as protoo's Message.createNotification and JSON.stringify
 * would make it, around `data` serialized already.
 */
function notificationFrame(method: NotificationMethod, dataJson: string): string {
  return `{"notification":true,"method":${JSON.stringify(method)},"data":${dataJson}}`;
}

export function announceBatch(batch: readonly Announced[], audience: Iterable<Audience>): void {
  if (batch.length === 0) return;
  const json: Array<string | undefined> = [];
  const serialized = (i: number): string => {
    let text = json[i];
    if (text === undefined) {
      text = JSON.stringify((batch[i] as Announced).message);
      json[i] = text;
    }
    return text;
  };
  const frames = new Map<string, { method: NotificationMethod; frame: string }>();
  for (const participant of audience) {
    const picked: number[] = [];
    batch.forEach(({ message, senderId }, i) => {
      if (senderId !== participant.id && canSee(message, participant.identity.id)) picked.push(i);
    });
    if (picked.length === 0) continue;
    const key = picked.join(',');
    let built = frames.get(key);
    if (!built) {
      built =
        picked.length === 1
          ? {
              method: 'chatMessage',
              frame: notificationFrame('chatMessage', `{"message":${serialized(picked[0] as number)}}`),
            }
          : {
              method: 'chatMessages',
              frame: notificationFrame('chatMessages', `{"messages":[${picked.map(serialized).join(',')}]}`),
            };
      frames.set(key, built);
    }
    participant.notifyFrame(built.method, built.frame);
  }
}
