// Who this browser is: the server keeps an identity per browser (HttpOnly cookie), named
// with the display name typed here. Needed before joining a room.
import { isEmbedded } from './room-token';

export interface Identity {
  id: string;
  displayName: string;
}

export async function ensureIdentity(displayName: string): Promise<Identity> {
  const response = await fetch('/api/identity', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // Inside another site's iframe the server sets a partitioned cookie (embed mode).
    body: JSON.stringify({ displayName, embedded: isEmbedded() }),
  });
  const body = (await response.json().catch(() => ({}))) as { identity?: Identity; message?: string };
  if (!response.ok || !body.identity) throw new Error(body.message ?? `server answered ${response.status}`);
  return body.identity;
}
