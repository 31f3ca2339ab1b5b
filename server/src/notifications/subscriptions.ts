// Browsers' web push subscriptions, by identity. Endpoints are URLs the server will POST to:
// only push services the operator allows (PUSH_SERVICE_HOSTS) are accepted, never an address
// of the operator's own network picked by a client.
import type { Db } from '../db/database.js';
import { badRequest, conflict } from '../signaling/errors.js';

export interface PushEndpointPolicy {
  /** Hosts (host or host:port; "*.example.com" for its subdomains) push services run on. */
  hosts: string[];
}

export const defaultPushServiceHosts = [
  'fcm.googleapis.com',
  'updates.push.services.mozilla.com',
  'web.push.apple.com',
  '*.push.apple.com',
  '*.notify.windows.com',
];

/** Working subscriptions one person may hold (one per browser and profile). */
export const maxSubscriptionsPerIdentity = 20;

export function checkEndpoint(endpoint: string, policy: PushEndpointPolicy): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw badRequest('the push endpoint is not a URL');
  }
  if (url.protocol !== 'https:') throw badRequest('a push endpoint is https');
  const allowed = policy.hosts.some((host) =>
    host.startsWith('*.') ? url.hostname.endsWith(host.slice(1)) : url.host === host || url.hostname === host,
  );
  if (!allowed) throw badRequest(`${url.host} is not a push service this server sends to`);
}

export async function subscribe(
  db: Db,
  identityId: string,
  subscription: { endpoint: string; p256dh: string; auth: string },
  policy: PushEndpointPolicy,
): Promise<void> {
  checkEndpoint(subscription.endpoint, policy);
  const held = await db.pushSubscription.count({ where: { identityId } });
  const existing = await db.pushSubscription.findUnique({ where: { endpoint: subscription.endpoint } });
  if (!existing && held >= maxSubscriptionsPerIdentity)
    throw conflict(`you have ${held} browsers subscribed, the most allowed: unsubscribe one first`);
  // The same browser subscribing again (new keys, or signed in as someone else now) replaces it.
  await db.pushSubscription.upsert({
    where: { endpoint: subscription.endpoint },
    create: { identityId, ...subscription },
    update: { identityId, p256dh: subscription.p256dh, auth: subscription.auth },
  });
}

export async function unsubscribe(db: Db, identityId: string, endpoint: string): Promise<boolean> {
  const { count } = await db.pushSubscription.deleteMany({ where: { identityId, endpoint } });
  return count > 0;
}
