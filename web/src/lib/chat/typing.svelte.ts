// Typing indicators, both ways. Ours: while the person types, the room (or the private
// message's recipient) is told at most every typingIntervalMs. Others': each shown for
// typingShownMs after their last indicator, or until their message arrives.
import { typingIntervalMs, typingShownMs } from '@meet/protocol';

export interface Typist {
  peerId: string;
  identityId: string;
  /** Typing a private message to us. */
  private: boolean;
  until: number;
}

export class TypingIndicators {
  typists = $state<Typist[]>([]);
  /** When we last told each target ('' = the room). */
  readonly #toldAt = new Map<string, number>();
  #expiry: ReturnType<typeof setTimeout> | undefined;

  /** We typed (to `recipientId`, or the room): whether to tell them now. */
  shouldTell(recipientId: string | undefined, now = Date.now()): boolean {
    const target = recipientId ?? '';
    const last = this.#toldAt.get(target);
    if (last !== undefined && now - last < typingIntervalMs) return false;
    this.#toldAt.set(target, now);
    return true;
  }

  /** We sent a message: typing again starts a new indicator at once. */
  sent(recipientId: string | undefined): void {
    this.#toldAt.delete(recipientId ?? '');
  }

  /** Someone else is typing. */
  onTyping(data: { peerId: string; identityId: string; private: boolean }, now = Date.now()): void {
    const others = this.typists.filter((t) => !(t.peerId === data.peerId && t.private === data.private));
    this.typists = [...others, { ...data, until: now + typingShownMs }];
    this.#scheduleExpiry();
  }

  /** Their message arrived: they are no longer typing it. */
  onMessageFrom(identityId: string): void {
    if (this.typists.some((t) => t.identityId === identityId))
      this.typists = this.typists.filter((t) => t.identityId !== identityId);
  }

  /** They left. */
  forget(peerId: string): void {
    if (this.typists.some((t) => t.peerId === peerId))
      this.typists = this.typists.filter((t) => t.peerId !== peerId);
  }

  clear(): void {
    clearTimeout(this.#expiry);
    this.typists = [];
    this.#toldAt.clear();
  }

  #scheduleExpiry(): void {
    clearTimeout(this.#expiry);
    const next = Math.min(...this.typists.map((t) => t.until));
    if (!Number.isFinite(next)) return;
    this.#expiry = setTimeout(
      () => {
        const now = Date.now();
        this.typists = this.typists.filter((t) => t.until > now);
        this.#scheduleExpiry();
      },
      Math.max(50, next - Date.now()),
    );
  }
}
