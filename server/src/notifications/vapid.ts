// The server's VAPID key pair (RFC 8292): made on the first start and kept in the database,
// so that every node and every restart signs pushes with the same key (browsers' push
// subscriptions are bound to it).
import webpush from 'web-push';
import type { Db } from '../db/database.js';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

const keyName = 'vapid';

/** The stored key pair, or a new one stored now (two nodes starting at once agree on one). */
export async function loadVapidKeys(db: Db): Promise<VapidKeys> {
  const stored = await db.serverKey.findUnique({ where: { name: keyName } });
  if (stored) return JSON.parse(stored.value) as VapidKeys;
  const fresh = webpush.generateVAPIDKeys();
  await db.$executeRaw`
    INSERT INTO "server_keys" ("name", "value") VALUES (${keyName}, ${JSON.stringify(fresh)})
    ON CONFLICT ("name") DO NOTHING`;
  const kept = await db.serverKey.findUniqueOrThrow({ where: { name: keyName } });
  return JSON.parse(kept.value) as VapidKeys;
}
