// Search of a room's history with PostgreSQL full-text search (PGlite is PostgreSQL too):
// the 'simple' configuration, the same expression as the GIN index of the migration
// 20261204000000_reactions_search, every word required, each as a prefix.
import { searchWords, type ChatMessage } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { include, toChatMessage } from './messages.js';

export interface SearchInput {
  roomId: string;
  identityId: string;
  query: string;
  beforeSeq?: string | undefined;
  limit: number;
}

/** The query as a tsquery: `'word':* & 'other':*` (words are letters, digits and marks only). */
export function toTsQuery(query: string): string {
  return searchWords(query)
    .map((word) => `'${word}':*`)
    .join(' & ');
}

/** The room's messages this identity may see that match, newest first, a page at a time. */
export async function searchMessages(
  db: Db,
  input: SearchInput,
): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
  const { roomId, identityId, limit } = input;
  const before = input.beforeSeq === undefined ? null : BigInt(input.beforeSeq);
  const ids = await db.$queryRaw<Array<{ id: string }>>`
    SELECT "id" FROM "messages"
    WHERE "room_id" = ${roomId}
      AND "kind" = 'text' AND "deleted_at" IS NULL
      AND ("recipient_id" IS NULL OR "author_id" = ${identityId}::uuid OR "recipient_id" = ${identityId}::uuid)
      AND (${before}::bigint IS NULL OR "seq" < ${before}::bigint)
      AND to_tsvector('simple', "text") @@ to_tsquery('simple', ${toTsQuery(input.query)})
    ORDER BY "seq" DESC
    LIMIT ${limit + 1}`;
  const page = ids.slice(0, limit).map((row) => row.id);
  const rows = await db.message.findMany({ where: { id: { in: page } }, orderBy: { seq: 'desc' }, include });
  return { messages: rows.map(toChatMessage), hasMore: ids.length > limit };
}
