// Room tokens: an operator's own application lets a person into a room with a name and a role
// by signing a short-lived JWT, the way Jitsi and LiveKit are embedded. Signed with a shared
// secret (HS256/384/512) or a key pair (the server holds the public key: RS*, PS*, ES*, EdDSA).
// Verified with jose; the claims:
//   room  the room id            name  the display name          role  'host' | 'participant'
//   exp   required, and at most ROOM_TOKEN_MAX_LIFETIME after iat (or after now, without iat)
//   iss / aud  checked when ROOM_TOKEN_ISSUER / ROOM_TOKEN_AUDIENCE are set
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { describeIssues, displayNameSchema, roomIdSchema } from '@meet/protocol';
import type { MemberRole } from '../chat/membership.js';

export interface RoomTokenConfig {
  /** The shared secret (HMAC) or the operator's public key. */
  key: Uint8Array | KeyObject;
  /** The algorithms a token may be signed with: those of the key's kind only. */
  algorithms: string[];
  issuer: string | undefined;
  audience: string | undefined;
  /** A token may live at most this long (exp − iat). */
  maxLifetimeSeconds: number;
}

/** What a valid token lets its bearer do. */
export interface RoomGrant {
  roomId: string;
  displayName: string;
  role: MemberRole;
  expiresAt: Date;
}

/** A token refused, with the HTTP status and the reason its bearer is told. */
export class RoomTokenError extends Error {
  constructor(
    readonly statusCode: 400 | 401 | 403,
    message: string,
  ) {
    super(message);
    this.name = 'RoomTokenError';
  }
}

const claimsSchema = z.object({
  room: roomIdSchema,
  name: displayNameSchema,
  role: z.enum(['host', 'participant']),
  exp: z.number(),
  iat: z.number().optional(),
});

/** The algorithms a key may verify: a key pair's own family, never HMAC with a public key. */
export function algorithmsFor(key: Uint8Array | KeyObject): string[] {
  if (key instanceof Uint8Array) return ['HS256', 'HS384', 'HS512'];
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alg = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }[curve ?? ''];
      if (!alg) throw new Error(`room token public key: curve ${curve} is not one JWS uses`);
      return [alg];
    }
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      throw new Error(`room token public key: ${key.asymmetricKeyType} keys are not supported`);
  }
}

/** The configuration from a secret or a PEM public key file (exactly one of them). */
export function roomTokenConfig(options: {
  secret: string | undefined;
  publicKeyFile: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  maxLifetimeSeconds: number;
}): RoomTokenConfig | undefined {
  const { secret, publicKeyFile } = options;
  if (secret && publicKeyFile)
    throw new Error('set ROOM_TOKEN_SECRET or ROOM_TOKEN_PUBLIC_KEY_FILE, not both');
  let key: Uint8Array | KeyObject;
  if (secret) key = new TextEncoder().encode(secret);
  else if (publicKeyFile) {
    let pem: string;
    try {
      pem = readFileSync(publicKeyFile, 'utf8');
    } catch (error) {
      throw new Error(
        `ROOM_TOKEN_PUBLIC_KEY_FILE: cannot read ${publicKeyFile}: ${(error as Error).message}`,
      );
    }
    try {
      key = createPublicKey(pem);
    } catch (error) {
      throw new Error(`ROOM_TOKEN_PUBLIC_KEY_FILE: not a PEM public key: ${(error as Error).message}`);
    }
  } else return undefined;
  return {
    key,
    algorithms: algorithmsFor(key),
    issuer: options.issuer,
    audience: options.audience,
    maxLifetimeSeconds: options.maxLifetimeSeconds,
  };
}

/** Why jose refused a token, in words for the person holding it. */
function refusal(error: unknown, config: RoomTokenConfig): RoomTokenError {
  if (error instanceof joseErrors.JWTExpired) {
    const exp = error.payload.exp;
    const when = typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : '';
    return new RoomTokenError(401, `the room token expired${when}: ask for a new link`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed)
    return new RoomTokenError(401, 'the room token is not signed with this server’s key');
  if (error instanceof joseErrors.JOSEAlgNotAllowed)
    return new RoomTokenError(
      401,
      `the room token is signed with an algorithm this server does not accept (${config.algorithms.join(', ')})`,
    );
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = error.claim;
    const reasons: Record<string, string> = {
      exp: 'the room token has no expiry (exp)',
      nbf: 'the room token is not valid yet (nbf)',
      iat: 'the room token was issued in the future (iat)',
      iss: `the room token was not issued by ${config.issuer ?? 'this server’s issuer'} (iss)`,
      aud: `the room token is not meant for ${config.audience ?? 'this server'} (aud)`,
    };
    return new RoomTokenError(401, reasons[claim] ?? `the room token's ${claim} claim is invalid`);
  }
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid)
    return new RoomTokenError(400, 'the room token is not a well-formed JWT');
  if (error instanceof joseErrors.JOSENotSupported)
    return new RoomTokenError(400, 'the room token uses a JOSE feature this server does not support');
  return new RoomTokenError(400, 'the room token could not be read');
}

/**
 * Verifies a room token for `roomId`: its signature, expiry and lifetime, issuer and
 * audience when configured, and its claims. Throws RoomTokenError with the reason.
 */
export async function verifyRoomToken(
  config: RoomTokenConfig,
  token: string,
  roomId: string,
  now: Date = new Date(),
): Promise<RoomGrant> {
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, config.key, {
      algorithms: config.algorithms,
      requiredClaims: ['exp'],
      currentDate: now,
      clockTolerance: 5,
      ...(config.issuer ? { issuer: config.issuer } : {}),
      ...(config.audience ? { audience: config.audience } : {}),
    }));
  } catch (error) {
    throw refusal(error, config);
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success)
    throw new RoomTokenError(400, `the room token's claims are invalid: ${describeIssues(claims.error)}`);
  const { room, name, role, exp, iat } = claims.data;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const lifetime = exp - Math.min(iat ?? nowSeconds, nowSeconds);
  if (lifetime > config.maxLifetimeSeconds)
    throw new RoomTokenError(
      401,
      `the room token lives ${lifetime} s, longer than this server accepts (${config.maxLifetimeSeconds} s)`,
    );
  if (room !== roomId) throw new RoomTokenError(403, `the room token is for another room (${room})`);
  return {
    roomId: room,
    displayName: name,
    role: role === 'host' ? 'host' : 'member',
    expiresAt: new Date(exp * 1000),
  };
}
