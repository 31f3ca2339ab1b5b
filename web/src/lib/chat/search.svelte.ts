// Search of the room's history: the server's full-text search (every word, each as a prefix),
// newest first, a page at a time; and where the words are in a result, to mark them.
import {
  searchWords,
  type ChatMessage,
  type RequestData,
  type RequestMethod,
  type ResponseData,
} from '@meet/protocol';

type Request = <M extends RequestMethod>(method: M, data: RequestData<M>) => Promise<ResponseData<M>>;

export class ChatSearch {
  query = $state('');
  /** The query the results are for (undefined: not searching). */
  searched = $state<string | undefined>();
  results = $state<ChatMessage[]>([]);
  hasMore = $state(false);
  busy = $state(false);
  error = $state<string | undefined>();
  readonly #request: () => Request | undefined;
  #generation = 0;

  constructor(request: () => Request | undefined) {
    this.#request = request;
  }

  async run(): Promise<void> {
    const query = this.query.trim();
    if (searchWords(query).length === 0) {
      this.error = 'Type a word to search for.';
      return;
    }
    this.searched = query;
    this.results = [];
    this.hasMore = false;
    await this.#page(undefined);
  }

  async more(): Promise<void> {
    const oldest = this.results.at(-1);
    if (oldest && this.hasMore && !this.busy) await this.#page(oldest.seq);
  }

  close(): void {
    this.#generation++;
    this.searched = undefined;
    this.results = [];
    this.hasMore = false;
    this.error = undefined;
    this.busy = false;
  }

  async #page(beforeSeq: string | undefined): Promise<void> {
    const request = this.#request();
    const query = this.searched;
    if (!request || query === undefined) return;
    const generation = ++this.#generation;
    this.busy = true;
    this.error = undefined;
    try {
      const page = await request('chatSearch', { query, limit: 20, ...(beforeSeq ? { beforeSeq } : {}) });
      if (generation !== this.#generation) return;
      this.results = [...this.results, ...page.messages];
      this.hasMore = page.hasMore;
    } catch (error) {
      if (generation === this.#generation) this.error = `Search failed: ${(error as Error).message}`;
    } finally {
      if (generation === this.#generation) this.busy = false;
    }
  }
}

/**
 * The text cut where the searched words are: a word of the text matches when it begins with
 * one of them, case aside (as the server's search does). Plain strings: rendered as text.
 */
export function markMatches(text: string, query: string): Array<{ text: string; match: boolean }> {
  const words = searchWords(query).map((w) => w.toLocaleLowerCase());
  const parts: Array<{ text: string; match: boolean }> = [];
  let last = 0;
  for (const found of text.matchAll(/[\p{L}\p{N}\p{M}]+/gu)) {
    const word = found[0].toLocaleLowerCase();
    if (!words.some((w) => word.startsWith(w))) continue;
    if (found.index > last) parts.push({ text: text.slice(last, found.index), match: false });
    parts.push({ text: found[0], match: true });
    last = found.index + found[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last), match: false });
  return parts;
}
