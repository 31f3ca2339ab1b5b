// A person's own status: available, or busy (do not disturb: others see it, and no push
// reaches them). Kept with the identity, so it holds in every room and on later visits.
import type { PersonStatus } from '@meet/protocol';
import type { Db } from '../db/database.js';

export async function statusOf(db: Db, identityId: string): Promise<PersonStatus> {
  const row = await db.identity.findUnique({ where: { id: identityId }, select: { status: true } });
  return row?.status ?? 'available';
}

export async function setStatusOf(db: Db, identityId: string, status: PersonStatus): Promise<void> {
  await db.identity.update({ where: { id: identityId }, data: { status } });
}
