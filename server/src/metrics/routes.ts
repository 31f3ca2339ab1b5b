// Where the metrics are served, and the HTTP latency hook. Never public by default:
// - METRICS_LISTEN set: on a separate small listener (e.g. 127.0.0.1:9100) only; the main
//   port answers 404 for /metrics;
// - else METRICS_TOKEN set: on the main port, to `Authorization: Bearer <token>` only (401
//   otherwise); the token is also required on the separate listener when both are set;
// - neither: not served at all (404).
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { ServerMetrics } from './registry.js';

export const metricsPath = '/metrics';

/** Whether an Authorization header carries the bearer token (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
  if (presented === undefined) return false;
  // Digests have the same length whatever was presented, as timingSafeEqual needs.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(token));
}

/**
 * The route label of a request: the route template for the API, signaling and metrics
 * (`/api/attachments/:id`, never the raw URL), `static` for the web app's files, and
 * `unmatched` when no route matched (unknown paths, and room links answered with the app).
 */
export function routeLabel(request: FastifyRequest): string {
  const route = request.routeOptions.url;
  if (route === undefined) return 'unmatched';
  if (route.startsWith('/api/') || route === '/ws' || route === metricsPath) return route;
  return 'static';
}

const unauthorized = {
  error: 'Unauthorized',
  message: 'metrics need the header Authorization: Bearer <METRICS_TOKEN>',
};

/**
 * Adds the HTTP latency hook and GET /metrics to the app, and starts the separate metrics
 * listener when configured (closed with the app). Rejects when that address cannot be bound.
 */
export async function registerMetricsRoutes(
  fastify: FastifyInstance,
  metrics: ServerMetrics,
  options: Config['metrics'],
): Promise<void> {
  const log = fastify.log.child({ component: 'metrics' });
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.observeHttpRequest(
      request.method,
      routeLabel(request),
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  });
  if (options.token !== undefined || options.listen !== undefined) metrics.collectProcessMetrics();

  const token = options.token;
  const onMainPort = token !== undefined && options.listen === undefined;
  // Registered in every case: otherwise the web app's fallback would answer with its page.
  fastify.get(metricsPath, async (request, reply) => {
    if (!onMainPort) {
      return reply
        .code(404)
        .send({ error: 'Not Found', message: `no route ${request.method} ${request.url}` });
    }
    if (!bearerMatches(request.headers.authorization, token)) {
      request.log.debug('metrics request without the right token');
      return reply.code(401).header('www-authenticate', 'Bearer realm="metrics"').send(unauthorized);
    }
    return reply
      .header('cache-control', 'no-store')
      .type(metrics.registry.contentType)
      .send(await metrics.registry.metrics());
  });

  if (options.listen) {
    const server = await listenSeparately(metrics, options.listen, token, log);
    fastify.addHook('onClose', async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    });
  }
}

async function listenSeparately(
  metrics: ServerMetrics,
  listen: { host: string; port: number },
  token: string | undefined,
  log: FastifyBaseLogger,
): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (path !== metricsPath || (request.method !== 'GET' && request.method !== 'HEAD')) {
      send(404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
      send(401, 'application/json; charset=utf-8', JSON.stringify(unauthorized), {
        'www-authenticate': 'Bearer realm="metrics"',
      });
      return;
    }
    metrics.registry.metrics().then(
      (body) => send(200, metrics.registry.contentType, body),
      (err: unknown) => {
        log.error({ err }, 'cannot collect metrics');
        send(500, 'text/plain; charset=utf-8', 'cannot collect metrics\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: Error) => {
    throw new Error(`cannot serve metrics on ${listen.host}:${listen.port}: ${error.message}`, {
      cause: error,
    });
  });
  server.on('error', (err) => log.error({ err }, 'metrics listener error'));
  const { address, port } = server.address() as AddressInfo;
  log.info({ address, port }, `metrics served on http://${listen.host}:${port}${metricsPath}`);
  return server;
}
