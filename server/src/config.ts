// Configuration from environment variables, validated at start-up. Defaults work on a laptop.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describeIssues } from '@meet/protocol';
import { roomTokenConfig, type RoomTokenConfig } from './auth/room-tokens.js';
import { oidcProvidersFromEnv, type OidcProviderConfig } from './auth/oidc.js';
import { defaultPushServiceHosts } from './notifications/subscriptions.js';
import type { TurnConfig } from './auth/turn-credentials.js';
import { defaultParticipantLimits, type ParticipantLimits } from './participant/limits.js';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);
/** A comma-separated list: entries trimmed, empty ones dropped. */
const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean),
);

const envSchema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MEDIA_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  MEDIA_ROUTER_PARTICIPANTS: z.coerce.number().int().min(1).max(500).default(25),
  MEDIA_ROUTER_MAX_LOAD: z.coerce.number().min(0.05).max(1).default(0.85),
  RTC_LISTEN_IP: z.ipv4().or(z.ipv6()).default('0.0.0.0'),
  RTC_ANNOUNCED_ADDRESS: z.string().min(1).optional(),
  RTC_PORT: port.default(40000),
  MAX_PEERS_PER_ROOM: z.coerce.number().int().min(2).max(500).default(50),
  WEB_DIR: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../../web/build', import.meta.url))),
  TURN_URLS: commaList
    .pipe(
      z.array(
        z
          .string()
          .regex(/^(stun|turns?):\S+$/, 'each TURN_URLS entry must start with stun:, turn: or turns:'),
      ),
    )
    .default([]),
  TURN_SECRET: z.string().min(16, 'TURN_SECRET must be at least 16 characters').optional(),
  TURN_CREDENTIAL_TTL: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(4 * 3600),
  ICE_TRANSPORT_POLICY: z.enum(['all', 'relay']).default('all'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgresql:// URL')
    .optional(),
  DATA_DIR: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../../.data', import.meta.url))),
  ATTACHMENTS_DIR: z.string().min(1).optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'REDIS_URL must be a redis:// or rediss:// URL')
    .optional(),
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'NODE_ID: 1-64 letters, digits, dots, dashes or underscores')
    .optional(),
  CLUSTER_PIPE_ADDRESS: z.ipv4().or(z.ipv6()).optional(),
  CLUSTER_NODE_TTL_MS: z.coerce.number().int().min(1000).max(600_000).default(6000),
  CLUSTER_PLACEMENT: z.enum(['true', 'false']).default('true'),
  ATTACHMENT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(2 * 1024 ** 3)
    .default(25 * 1024 * 1024),
  COOKIE_SECURE: z.enum(['auto', 'true', 'false']).default('auto'),
  TRUST_PROXY: z.string().min(1).optional(),
  ALLOWED_ORIGINS: commaList
    .pipe(
      z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'each ALLOWED_ORIGINS entry is scheme://host[:port]')),
    )
    .optional(),
  ROOM_TOKEN_SECRET: z.string().min(32, 'ROOM_TOKEN_SECRET must be at least 32 characters').optional(),
  ROOM_TOKEN_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  ROOM_TOKEN_ISSUER: z.string().min(1).optional(),
  ROOM_TOKEN_AUDIENCE: z.string().min(1).optional(),
  ROOM_TOKEN_MAX_LIFETIME: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600),
  EMBED_ORIGINS: commaList
    .pipe(
      z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'each EMBED_ORIGINS entry is scheme://host[:port]')),
    )
    .default([]),
  SIGNALING_RATE: positiveInt(10_000).default(defaultParticipantLimits.requestsPerSecond),
  SIGNALING_BURST: positiveInt(100_000).default(defaultParticipantLimits.requestBurst),
  CHAT_RATE: positiveInt(1_000).default(defaultParticipantLimits.chatPerSecond),
  CHAT_BURST: positiveInt(10_000).default(defaultParticipantLimits.chatBurst),
  MAX_CONSUMERS_PER_PARTICIPANT: positiveInt(10_000).default(defaultParticipantLimits.consumers),
  SIGNALING_MAX_BUFFERED: positiveInt(1024 ** 3).default(4 * 1024 * 1024),
  HEARTBEAT_INTERVAL: positiveInt(3_600_000).default(10_000),
  JOIN_TIMEOUT: positiveInt(3_600_000).default(15_000),
  MAX_CONNECTIONS_PER_IP: positiveInt(1_000_000).default(100),
  MAX_CONNECTIONS_PER_IDENTITY: positiveInt(1_000_000).default(10),
  IDENTITY_RATE_LIMIT: positiveInt(1_000_000).default(30),
  UPLOAD_RATE_LIMIT: positiveInt(1_000_000).default(60),
  API_RATE_LIMIT: positiveInt(1_000_000).default(300),
  AUTH_RATE_LIMIT: positiveInt(1_000_000).default(10),
  GUEST_ACCESS: z.enum(['true', 'false']).default('true'),
  PUSH_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, 'PUSH_SUBJECT is a mailto: or https: URL')
    .optional(),
  PUSH_SERVICE_HOSTS: commaList.optional(),
  PUSH_CA_FILE: z.string().min(1).optional(),
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^/\s]+$/, 'PUBLIC_URL is scheme://host[:port], without a path')
    .optional(),
  ATTACHMENT_UNPOSTED_TTL: positiveInt(365 * 24 * 3600).default(24 * 3600),
  METRICS_TOKEN: z
    .string()
    .min(16, 'METRICS_TOKEN must be at least 16 characters')
    .regex(/^[\x21-\x7e]+$/, 'METRICS_TOKEN must be printable ASCII without spaces')
    .optional(),
  METRICS_LISTEN: z
    .string()
    .transform((value, ctx) => {
      const listen = parseListen(value);
      if (!listen) {
        ctx.addIssue({
          code: 'custom',
          message: 'METRICS_LISTEN must be host:port, e.g. 127.0.0.1:9100 or [::1]:9100',
        });
        return z.NEVER;
      }
      return listen;
    })
    .optional(),
});

/** `host:port` or `[ipv6]:port`, port 1-65535; undefined when malformed. */
function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (match[1] ?? match[2]) as string, port };
}

export interface Config {
  port: number;
  host: string;
  logLevel: string;
  media: { numWorkers: number; listenIp: string; announcedAddress: string; basePort: number };
  /** How one room spreads over workers (see RoomMedia). */
  roomMedia: { participantsPerRouter: number; maxWorkerLoad: number };
  maxPeersPerRoom: number;
  webDir: string;
  turn: TurnConfig;
  iceTransportPolicy: 'all' | 'relay';
  /** PostgreSQL URL; unset: embedded PostgreSQL (PGlite) in dataDir/pglite. */
  databaseUrl: string | undefined;
  dataDir: string;
  attachments: { dir: string; maxBytes: number; unpostedTtlMs: number };
  /** Mark the identity cookie Secure (set true when served over https). */
  secureCookie: boolean | 'auto';
  /** Fastify's trustProxy: whom to believe for the client address and protocol. */
  trustProxy: boolean | string[];
  /** Origins whose pages may open the signaling websocket; undefined: this server's own. */
  allowedOrigins: string[] | undefined;
  /** Room tokens (an operator's application signs who may join, as what); undefined: off. */
  roomTokens: RoomTokenConfig | undefined;
  /** Origins whose pages may show the app in an iframe (CSP frame-ancestors); empty: none. */
  embedOrigins: string[];
  participantLimits: ParticipantLimits;
  signaling: {
    /** Unsent bytes on a socket beyond which it is closed (a client that stopped reading). */
    maxBufferedBytes: number;
    /** Websocket ping interval; a socket that has not answered a ping by the next one is dropped. */
    heartbeatMs: number;
    maxConnectionsPerIp: number;
    maxConnectionsPerIdentity: number;
  };
  /** Requests per minute and client address. */
  rateLimits: { identities: number; uploads: number; api: number; auth: number };
  /** Guests (a name, no account) may make identities and join rooms. */
  guestAccess: boolean;
  /** OpenID Connect providers to sign in with (OIDC_PROVIDERS). */
  oidcProviders: OidcProviderConfig[];
  /** The site's public URL (PUBLIC_URL): OpenID Connect redirect URIs; else each request's origin. */
  publicUrl: string | undefined;
  /** Web push: the operator's contact for push services, and the push services sent to. */
  push: { subject: string; hosts: string[]; caFile: string | undefined };
  /**
   * Prometheus metrics: with `token`, /metrics requires `Authorization: Bearer <token>`; with
   * `listen`, it is served on that separate address only. With neither it is not served.
   */
  metrics: { token: string | undefined; listen: { host: string; port: number } | undefined };
  /** Several nodes sharing Redis and PostgreSQL (REDIS_URL); undefined: a single node. */
  cluster: ClusterConfig | undefined;
}

export interface ClusterConfig {
  redisUrl: string;
  nodeId: string;
  /** The address other nodes reach this node's pipe transports at. */
  pipeAddress: string;
  /** A node's registry entry expires this long after its last heartbeat. */
  nodeTtlMs: number;
  /** Move connections to the room's node, and new rooms to the least loaded node (moveTo). */
  placement: boolean;
}

/** TRUST_PROXY: true/false, or the proxies' addresses/CIDRs (comma-separated). */
function parseTrustProxy(value: string | undefined): boolean | string[] {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** First non-internal IPv4 address, so that other machines on the LAN can reach the media. */
export function detectAnnouncedAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) throw new Error(`invalid configuration: ${describeIssues(parsed.error)}`);
  const e = parsed.data;
  if (e.TURN_URLS.some((url) => !url.startsWith('stun:')) && !e.TURN_SECRET) {
    throw new Error('invalid configuration: TURN_URLS has turn: URLs but TURN_SECRET is not set');
  }
  if (e.ICE_TRANSPORT_POLICY === 'relay' && !e.TURN_URLS.some((url) => !url.startsWith('stun:'))) {
    throw new Error('invalid configuration: ICE_TRANSPORT_POLICY=relay needs turn: URLs in TURN_URLS');
  }
  if (e.REDIS_URL && !e.DATABASE_URL) {
    throw new Error(
      'invalid configuration: REDIS_URL (several nodes) needs DATABASE_URL: nodes share one PostgreSQL, not an embedded database each',
    );
  }
  const listenIsSpecific = e.RTC_LISTEN_IP !== '0.0.0.0' && e.RTC_LISTEN_IP !== '::';
  const announcedAddress =
    e.RTC_ANNOUNCED_ADDRESS ?? (listenIsSpecific ? e.RTC_LISTEN_IP : detectAnnouncedAddress());
  if (e.REDIS_URL && !e.CLUSTER_PIPE_ADDRESS && isIP(announcedAddress) === 0) {
    throw new Error(
      `invalid configuration: RTC_ANNOUNCED_ADDRESS is a name (${announcedAddress}); set CLUSTER_PIPE_ADDRESS to the IP other nodes reach this one at`,
    );
  }
  let oidcProviders: OidcProviderConfig[];
  try {
    oidcProviders = oidcProvidersFromEnv(env);
  } catch (error) {
    throw new Error(`invalid configuration: ${(error as Error).message}`);
  }
  let roomTokens: RoomTokenConfig | undefined;
  try {
    roomTokens = roomTokenConfig({
      secret: e.ROOM_TOKEN_SECRET,
      publicKeyFile: e.ROOM_TOKEN_PUBLIC_KEY_FILE,
      issuer: e.ROOM_TOKEN_ISSUER,
      audience: e.ROOM_TOKEN_AUDIENCE,
      maxLifetimeSeconds: e.ROOM_TOKEN_MAX_LIFETIME,
    });
  } catch (error) {
    throw new Error(`invalid configuration: ${(error as Error).message}`);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    media: {
      numWorkers: e.MEDIA_WORKERS ?? os.availableParallelism(),
      listenIp: e.RTC_LISTEN_IP,
      announcedAddress,
      basePort: e.RTC_PORT,
    },
    roomMedia: {
      participantsPerRouter: e.MEDIA_ROUTER_PARTICIPANTS,
      maxWorkerLoad: e.MEDIA_ROUTER_MAX_LOAD,
    },
    maxPeersPerRoom: e.MAX_PEERS_PER_ROOM,
    webDir: e.WEB_DIR,
    turn: { urls: e.TURN_URLS, secret: e.TURN_SECRET, ttlSeconds: e.TURN_CREDENTIAL_TTL },
    iceTransportPolicy: e.ICE_TRANSPORT_POLICY,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    attachments: {
      dir: e.ATTACHMENTS_DIR ?? join(e.DATA_DIR, 'attachments'),
      maxBytes: e.ATTACHMENT_MAX_BYTES,
      unpostedTtlMs: e.ATTACHMENT_UNPOSTED_TTL * 1000,
    },
    secureCookie: e.COOKIE_SECURE === 'auto' ? 'auto' : e.COOKIE_SECURE === 'true',
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    allowedOrigins: e.ALLOWED_ORIGINS,
    roomTokens,
    embedOrigins: e.EMBED_ORIGINS,
    participantLimits: {
      ...defaultParticipantLimits,
      requestsPerSecond: e.SIGNALING_RATE,
      requestBurst: e.SIGNALING_BURST,
      chatPerSecond: e.CHAT_RATE,
      chatBurst: e.CHAT_BURST,
      consumers: e.MAX_CONSUMERS_PER_PARTICIPANT,
      joinTimeoutMs: e.JOIN_TIMEOUT,
    },
    signaling: {
      maxBufferedBytes: e.SIGNALING_MAX_BUFFERED,
      heartbeatMs: e.HEARTBEAT_INTERVAL,
      maxConnectionsPerIp: e.MAX_CONNECTIONS_PER_IP,
      maxConnectionsPerIdentity: e.MAX_CONNECTIONS_PER_IDENTITY,
    },
    rateLimits: {
      identities: e.IDENTITY_RATE_LIMIT,
      uploads: e.UPLOAD_RATE_LIMIT,
      api: e.API_RATE_LIMIT,
      auth: e.AUTH_RATE_LIMIT,
    },
    guestAccess: e.GUEST_ACCESS === 'true',
    oidcProviders,
    publicUrl: e.PUBLIC_URL,
    push: {
      subject:
        e.PUSH_SUBJECT ?? (e.PUBLIC_URL?.startsWith('https://') ? e.PUBLIC_URL : 'mailto:admin@localhost'),
      hosts: e.PUSH_SERVICE_HOSTS ?? defaultPushServiceHosts,
      caFile: e.PUSH_CA_FILE,
    },
    metrics: { token: e.METRICS_TOKEN, listen: e.METRICS_LISTEN },
    cluster: e.REDIS_URL
      ? {
          redisUrl: e.REDIS_URL,
          nodeId: e.NODE_ID ?? `node-${randomUUID().slice(0, 8)}`,
          pipeAddress: e.CLUSTER_PIPE_ADDRESS ?? announcedAddress,
          nodeTtlMs: e.CLUSTER_NODE_TTL_MS,
          placement: e.CLUSTER_PLACEMENT === 'true',
        }
      : undefined,
  };
}
