// Starts the real server (Fastify + real mediasoup workers) in this process for a test.
import { createApp, type App } from '../../server/src/app.js';
import { loadConfig } from '../../server/src/config.js';

export interface TestServer {
  app: App;
  url: string;
  wsUrl(roomId: string): string;
  close(): Promise<void>;
}

let nextRtcPort = 41000 + (process.pid % 50) * 100;

export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const rtcPort = nextRtcPort;
  nextRtcPort += 10;
  const config = loadConfig({
    PORT: '3999',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    MEDIA_WORKERS: '2',
    RTC_LISTEN_IP: '127.0.0.1',
    RTC_ANNOUNCED_ADDRESS: '127.0.0.1',
    RTC_PORT: String(rtcPort),
    ...env,
  });
  const app = await createApp(config);
  await app.fastify.listen({ port: 0, host: '127.0.0.1' });
  const address = app.fastify.server.address();
  if (!address || typeof address === 'string') throw new Error('server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    app,
    url,
    wsUrl: (roomId) => `ws://127.0.0.1:${address.port}/ws?roomId=${encodeURIComponent(roomId)}`,
    close: () => app.close(),
  };
}
