// Entry point: `node server/dist/main.js` (what `npm start` runs after setup).
import { createApp } from './app.js';
import { loadConfig } from './config.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const app = await createApp(config);
await app.fastify.listen({ port: config.port, host: config.host });
app.fastify.log.info(
  { media: config.media },
  `meeting server ready on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.fastify.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.fastify.log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  });
}
