// The room chat in the browser: history (newest first, older pages on demand), live
// messages, sending with a client id (a retry after a lost acknowledgement never creates
// a duplicate), edits, deletes, reactions, read markers and the unread count.
import type { ChatMessage, RequestData, RequestMethod, ResponseData } from '@meet/protocol';
import { ChatSearch } from './search.svelte';
import { TypingIndicators } from './typing.svelte';

type Request = <M extends RequestMethod>(method: M, data: RequestData<M>) => Promise<ResponseData<M>>;

export type ChatItem =
  | { type: 'message'; key: string; message: ChatMessage }
  | { type: 'system'; key: string; text: string; at: string }
  | {
      type: 'pending';
      key: string;
      clientId: string;
      text: string;
      failed: boolean;
      recipientName: string | undefined;
    };

interface Outgoing {
  clientId: string;
  text: string;
  recipientId: string | undefined;
  recipientName: string | undefined;
  attachmentId: string | undefined;
  mentions: string[];
}

/** Compares decimal seq strings as numbers. */
export function compareSeq(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function newClientId(): string {
  return crypto.randomUUID().replaceAll('-', '');
}

export class RoomChat {
  readonly roomId: string;
  messages = $state<ChatMessage[]>([]);
  systemLines = $state<Array<{ key: string; text: string; at: string; afterSeq: string }>>([]);
  pending = $state<Array<Outgoing & { failed: boolean }>>([]);
  hasMore = $state(false);
  loadingOlder = $state(false);
  /** The read marker when the panel was last closed: later messages are "new". */
  unreadFrom = $state<string>('0');
  lastReadSeq = $state<string>('0');
  panelOpen = $state(true);
  error = $state<string | undefined>();
  identityId: string | undefined;
  /** Who is typing (and telling others that we are). */
  readonly typing = new TypingIndicators();
  /** Search of the room's history. */
  readonly search = new ChatSearch(() => this.#request);

  #request: Request | undefined;
  #markTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(roomId: string) {
    this.roomId = roomId;
  }

  /** Messages from others after the read marker. */
  unreadCount = $derived(
    this.messages.filter(
      (m) =>
        compareSeq(m.seq, this.lastReadSeq) > 0 && m.author?.id !== this.identityId && m.deletedAt === null,
    ).length,
  );

  items = $derived.by((): ChatItem[] => {
    const items: ChatItem[] = [];
    let s = 0;
    const lines = this.systemLines;
    for (const message of this.messages) {
      while (s < lines.length && compareSeq((lines[s] as (typeof lines)[number]).afterSeq, message.seq) < 0) {
        const line = lines[s++] as (typeof lines)[number];
        items.push({ type: 'system', key: line.key, text: line.text, at: line.at });
      }
      items.push({ type: 'message', key: message.id, message });
    }
    for (; s < lines.length; s++) {
      const line = lines[s] as (typeof lines)[number];
      items.push({ type: 'system', key: line.key, text: line.text, at: line.at });
    }
    for (const p of this.pending) {
      items.push({
        type: 'pending',
        key: p.clientId,
        clientId: p.clientId,
        text: p.text,
        failed: p.failed,
        recipientName: p.recipientName,
      });
    }
    return items;
  });

  /** Called after each (re)join: loads the newest page and resends what was not acknowledged. */
  async attach(request: Request, identityId: string): Promise<void> {
    this.#request = request;
    this.identityId = identityId;
    const page = await request('chatHistory', { limit: 50 });
    this.#merge(page.messages);
    if (this.messages.length <= page.messages.length) this.hasMore = page.hasMore;
    this.lastReadSeq = page.lastReadSeq;
    this.unreadFrom = page.lastReadSeq;
    for (const outgoing of this.pending) void this.#deliver(outgoing);
    this.#scheduleMarkRead();
  }

  detach(): void {
    this.#request = undefined;
  }

  /** Adds or replaces messages; of two copies of one message, the higher version stays. */
  #merge(incoming: ChatMessage[]): void {
    const byId = new Map(this.messages.map((m) => [m.id, m]));
    for (const message of incoming) {
      const known = byId.get(message.id);
      if (!known || known.version <= message.version) byId.set(message.id, message);
    }
    this.messages = [...byId.values()].sort((a, b) => compareSeq(a.seq, b.seq));
  }

  async loadOlder(): Promise<void> {
    const request = this.#request;
    const oldest = this.messages[0];
    if (!request || !oldest || !this.hasMore || this.loadingOlder) return;
    this.loadingOlder = true;
    try {
      const page = await request('chatHistory', { beforeSeq: oldest.seq, limit: 50 });
      this.#merge(page.messages);
      this.hasMore = page.hasMore;
    } finally {
      this.loadingOlder = false;
    }
  }

  onMessage(message: ChatMessage): void {
    this.onMessages([message]);
  }

  /** Messages that arrived together (chatMessages: stored in one batch), in seq order. */
  onMessages(messages: ChatMessage[]): void {
    const last = messages.at(-1);
    if (!last) return;
    // Read live, as they arrive (panel open, page visible, nothing unread above): no divider.
    const readingLive =
      this.panelOpen &&
      document.visibilityState === 'visible' &&
      compareSeq(this.unreadFrom, this.lastReadSeq) >= 0;
    if (readingLive) this.unreadFrom = last.seq;
    this.#merge(messages);
    for (const message of messages) if (message.author) this.typing.onMessageFrom(message.author.id);
    const mine = new Set(messages.filter((m) => m.author?.id === this.identityId).map((m) => m.clientId));
    this.pending = this.pending.filter((p) => !mine.has(p.clientId));
    this.#scheduleMarkRead();
  }

  /** The person typed in the composer (to `recipientId`, or the room). */
  typed(recipientId: string | undefined): void {
    const request = this.#request;
    if (!request || !this.typing.shouldTell(recipientId)) return;
    void request('chatTyping', recipientId ? { recipientId } : {}).catch(() => undefined);
  }

  onUpdated(message: ChatMessage): void {
    if (this.messages.some((m) => m.id === message.id)) this.#merge([message]);
  }

  addSystemLine(text: string): void {
    const last = this.messages.at(-1)?.seq ?? '0';
    this.systemLines = [
      ...this.systemLines,
      { key: crypto.randomUUID(), text, at: new Date().toISOString(), afterSeq: last },
    ];
  }

  async send(
    text: string,
    recipient?: { id: string; name: string },
    attachmentId?: string,
    mentions: string[] = [],
  ): Promise<void> {
    const outgoing: Outgoing & { failed: boolean } = {
      clientId: newClientId(),
      text: text.trim(),
      recipientId: recipient?.id,
      recipientName: recipient?.name,
      attachmentId,
      mentions,
      failed: false,
    };
    if (!outgoing.text && !attachmentId) return;
    this.typing.sent(recipient?.id);
    this.pending = [...this.pending, outgoing];
    await this.#deliver(outgoing);
  }

  /** Sends (or resends, with the same client id) until the server acknowledges it. */
  async #deliver(outgoing: Outgoing): Promise<void> {
    const request = this.#request;
    if (!request) return;
    this.#setFailed(outgoing.clientId, false);
    try {
      const { message } = await request('chatSend', {
        clientId: outgoing.clientId,
        text: outgoing.text,
        ...(outgoing.recipientId ? { recipientId: outgoing.recipientId } : {}),
        ...(outgoing.attachmentId ? { attachmentId: outgoing.attachmentId } : {}),
        ...(outgoing.mentions.length > 0 ? { mentions: outgoing.mentions } : {}),
      });
      this.pending = this.pending.filter((p) => p.clientId !== outgoing.clientId);
      this.#merge([message]);
      this.#scheduleMarkRead();
    } catch (error) {
      this.#setFailed(outgoing.clientId, true);
      this.error = `Message not sent: ${(error as Error).message}`;
    }
  }

  #setFailed(clientId: string, failed: boolean): void {
    this.pending = this.pending.map((p) => (p.clientId === clientId ? { ...p, failed } : p));
  }

  retry(clientId: string): void {
    const outgoing = this.pending.find((p) => p.clientId === clientId);
    if (outgoing) void this.#deliver(outgoing);
  }

  discard(clientId: string): void {
    this.pending = this.pending.filter((p) => p.clientId !== clientId);
  }

  async edit(messageId: string, text: string): Promise<void> {
    if (!this.#request) return;
    const { message } = await this.#request('chatEdit', { messageId, text });
    this.#merge([message]);
  }

  /** Adds (or takes back) our reaction. */
  async react(messageId: string, emoji: string, add: boolean): Promise<void> {
    if (!this.#request) return;
    const { message } = await this.#request('chatReact', { messageId, emoji, add });
    this.#merge([message]);
  }

  async remove(messageId: string): Promise<void> {
    if (!this.#request) return;
    const { message } = await this.#request('chatDelete', { messageId });
    this.#merge([message]);
  }

  setPanelOpen(open: boolean): void {
    if (open && !this.panelOpen) this.unreadFrom = this.lastReadSeq;
    this.panelOpen = open;
    this.#scheduleMarkRead();
  }

  /** While the panel is open and the page visible, what is shown counts as read. */
  #scheduleMarkRead(): void {
    if (!this.panelOpen || typeof document === 'undefined' || document.visibilityState !== 'visible') return;
    clearTimeout(this.#markTimer);
    this.#markTimer = setTimeout(() => {
      const newest = this.messages.at(-1)?.seq;
      const request = this.#request;
      if (!newest || !request || compareSeq(newest, this.lastReadSeq) <= 0) return;
      this.lastReadSeq = newest;
      request('chatMarkRead', { seq: newest }).catch(() => undefined);
    }, 300);
  }

  onVisible(): void {
    this.#scheduleMarkRead();
  }
}
