// Time-limited TURN credentials (the "TURN REST API" scheme coturn implements with
// `use-auth-secret`): username `<unix expiry>:<peer id>`, password
// base64(HMAC-SHA1(secret, username)). coturn refuses them once the expiry has passed.
import { createHmac } from 'node:crypto';
import type { IceServer } from '@meet/protocol';

export interface TurnConfig {
  urls: string[];
  secret: string | undefined;
  ttlSeconds: number;
}

export interface TurnCredential {
  username: string;
  credential: string;
  /** Unix time (seconds) after which coturn refuses the credential. */
  expiresAt: number;
}

export function turnCredential(
  secret: string,
  id: string,
  ttlSeconds: number,
  nowMs = Date.now(),
): TurnCredential {
  const expiresAt = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiresAt}:${id}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt };
}

/** The ICE servers handed to one peer: TURN URLs with a fresh credential, STUN URLs as is. */
export function iceServersFor(turn: TurnConfig, peerId: string, nowMs = Date.now()): IceServer[] {
  const stun = turn.urls.filter((url) => url.startsWith('stun:'));
  const relays = turn.urls.filter((url) => !url.startsWith('stun:'));
  const servers: IceServer[] = [];
  if (stun.length) servers.push({ urls: stun });
  if (relays.length && turn.secret) {
    const { username, credential } = turnCredential(turn.secret, peerId, turn.ttlSeconds, nowMs);
    servers.push({ urls: relays, username, credential });
  }
  return servers;
}
