// Removes attachment files nobody can reach any more: uploads never posted in a message
// within `unpostedTtlMs`, and the files of deleted messages. The row goes first (so the
// file is no longer offered), then the stored content.
import type { Db } from '../db/database.js';
import type { AttachmentStorage } from './storage.js';

export interface CleanupLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AttachmentCleanupOptions {
  db: Db;
  storage: AttachmentStorage;
  /** An upload not part of a message this long after it was stored is deleted. */
  unpostedTtlMs: number;
  log: CleanupLogger;
}

/** One pass: returns how many attachments were removed. */
export async function sweepAttachments(
  { db, storage, unpostedTtlMs, log }: AttachmentCleanupOptions,
  now = new Date(),
): Promise<number> {
  const cutoff = new Date(now.getTime() - unpostedTtlMs);
  // One statement: an upload that a message links to in the meantime is not deleted (the
  // message's foreign key check and this NOT EXISTS see the same committed state).
  const removed = await db.$queryRaw<Array<{ id: string; storageKey: string }>>`
    DELETE FROM "attachments" AS a
    WHERE (a."created_at" < ${cutoff}
           AND NOT EXISTS (SELECT 1 FROM "messages" AS m WHERE m."attachment_id" = a."id"))
       OR EXISTS (SELECT 1 FROM "messages" AS m WHERE m."attachment_id" = a."id" AND m."deleted_at" IS NOT NULL)
    RETURNING a."id" AS "id", a."storage_key" AS "storageKey"`;
  for (const { id, storageKey } of removed) {
    try {
      await storage.remove(storageKey);
    } catch (err) {
      log.error({ err, attachmentId: id, storageKey }, 'cannot remove the file of a removed attachment');
    }
  }
  if (removed.length > 0) log.info({ removed: removed.length }, 'unreachable attachments removed');
  return removed.length;
}

/** Runs sweepAttachments every `intervalMs` until stopped; a failed pass is logged and retried. */
export function scheduleAttachmentCleanup(
  options: AttachmentCleanupOptions,
  intervalMs: number,
): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    // A pass still running (a slow disk or database): this tick is skipped, none piles up.
    if (running) return;
    running = sweepAttachments(options)
      .catch((err: unknown) => options.log.error({ err }, 'attachment cleanup failed'))
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
