// Starts the real server (Fastify + real mediasoup workers) in this process for a test.
import { createApp, type App } from '../../server/src/app.js';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/src/config.js';
import type { Participant } from '../../server/src/participant/participant.js';
import { createTestDatabase } from './postgres.js';

/** The participants of room `roomId` on this server (none if the room is not open here). */
export function serverParticipants(server: TestServer, roomId: string): Participant[] {
  return [...(server.app.rooms.get(roomId)?.participants.values() ?? [])];
}

/** The participant of room `roomId` named `name` on this server, if there is one. */
export function serverParticipant(server: TestServer, roomId: string, name: string): Participant | undefined {
  return serverParticipants(server, roomId).find((p) => p.displayName === name);
}

export interface TestServer {
  app: App;
  url: string;
  wsUrl(roomId: string): string;
  close(): Promise<void>;
}

/** Whether UDP and TCP port `port` on `host` can be bound right now. */
async function portFree(port: number, host: string): Promise<boolean> {
  const udp = dgram.createSocket('udp4');
  const udpOk = await new Promise<boolean>((resolve) => {
    udp.once('error', () => resolve(false));
    udp.bind(port, host, () => resolve(true));
  });
  udp.close();
  if (!udpOk) return false;
  const tcp = net.createServer();
  const tcpOk = await new Promise<boolean>((resolve) => {
    tcp.once('error', () => resolve(false));
    tcp.listen(port, host, () => resolve(true));
  });
  await new Promise((resolve) => tcp.close(resolve));
  return tcpOk;
}

/**
 * A base port with `count` consecutive free UDP+TCP ports for the media workers, below
 * Linux's ephemeral range (where browsers' ICE sockets and other tests' servers land).
 */
export async function freeRtcPorts(count: number, host: string): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portFree(base + i, host);
    if (ok) return base;
  }
  throw new Error('no free media ports found for the test server');
}

export interface StartOptions {
  /** Chat database: a fresh embedded PGlite (default) or a fresh PostgreSQL database. */
  database?: 'embedded' | 'postgres';
  /**
   * The IPv4 address the HTTP server and the media ports listen on, and the media address
   * announced to browsers (unless env sets RTC_ANNOUNCED_ADDRESS): 127.0.0.1 by default,
   * the host side of a test network namespace (tests/helpers/netns.ts) for browsers that
   * need a non-loopback path (Firefox) or run inside the namespace.
   */
  host?: string;
}

/**
 * Starts a server. Unless env sets DATA_DIR / DATABASE_URL (to restart on the same data),
 * it gets a fresh data directory and database, removed when it closes.
 */
export async function startServer(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<TestServer> {
  const host = options.host ?? '127.0.0.1';
  const rtcPort = await freeRtcPorts(Number(env.MEDIA_WORKERS ?? 2), env.RTC_LISTEN_IP ?? host);
  const cleanups: Array<() => Promise<void> | void> = [];
  const extra: Record<string, string> = {};
  if (!env.DATA_DIR) {
    const dir = mkdtempSync(join(tmpdir(), 'meet-test-data-'));
    extra.DATA_DIR = dir;
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  }
  if (!env.DATABASE_URL && options.database === 'postgres') {
    const database = await createTestDatabase();
    extra.DATABASE_URL = database.url;
    cleanups.push(() => database.drop());
  }
  const cleanUp = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  let app: App | undefined;
  try {
    const config = loadConfig({
      PORT: '3999',
      HOST: host,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      MEDIA_WORKERS: '2',
      RTC_LISTEN_IP: host,
      RTC_ANNOUNCED_ADDRESS: host,
      RTC_PORT: String(rtcPort),
      ...extra,
      ...env,
    });
    app = await createApp(config);
    await app.fastify.listen({ port: 0, host });
  } catch (error) {
    await app?.close();
    await cleanUp();
    throw error;
  }
  const started = app;
  const address = started.fastify.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no TCP address');
  const url = `http://${host}:${address.port}`;
  return {
    app: started,
    url,
    wsUrl: (roomId) => `ws://${host}:${address.port}/ws?roomId=${encodeURIComponent(roomId)}`,
    async close() {
      await started.close();
      await cleanUp();
    },
  };
}
