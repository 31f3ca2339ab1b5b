// docker-compose.cluster.yml and deploy/haproxy.cfg, checked offline (no Docker engine): the
// layout docs/deploy.md ("Scaling out") describes. Nodes with distinct ids, media ports and
// fixed addresses (CLUSTER_PIPE_ADDRESS = the address on the compose network), sharing
// PostgreSQL, Redis and the attachments volume; haproxy the only HTTP entry, forwarding to
// exactly those nodes with health checks and websocket timeouts; postgres and coturn as in
// docker-compose.yml. The schema, secret and variable checks are in compose.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../server/src/config.js';
import {
  InterpolationError,
  interpolateDocument,
  parseCidr,
  parseDotEnv,
  parseIp,
  rangeInside,
  readRepoFile,
  repoRoot,
} from './support.js';

type Service = Record<string, unknown> & {
  image?: string;
  build?: string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  command?: string[];
  networks?: Record<string, { ipv4_address?: string } | null> | string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
};
interface ComposeFile {
  services: Record<string, Service>;
  networks?: Record<string, { ipam?: { config?: Array<{ subnet?: string }> } }>;
  volumes?: Record<string, unknown>;
}

const cluster = parse(readRepoFile('docker-compose.cluster.yml'), { merge: true }) as ComposeFile;
const single = parse(readRepoFile('docker-compose.yml')) as ComposeFile;
const haproxyCfg = readRepoFile('deploy/haproxy.cfg');
const envExampleText = readRepoFile('.env.example');
const required = ['PUBLIC_HOSTNAME', 'RTC_ANNOUNCED_ADDRESS', 'TURN_SECRET', 'POSTGRES_PASSWORD'];
const filled = {
  PUBLIC_HOSTNAME: 'meet.example.com',
  RTC_ANNOUNCED_ADDRESS: '203.0.113.10',
  TURN_SECRET: 'a1'.repeat(32),
  POSTGRES_PASSWORD: 'b2'.repeat(24),
};
const exampleEnv = parseDotEnv(envExampleText, filled);
const resolved = interpolateDocument(cluster, exampleEnv.expanded) as ComposeFile;

/** The app nodes: the services with a NODE_ID. */
const nodeNames = Object.keys(cluster.services).filter(
  (name) => cluster.services[name]!.environment?.NODE_ID,
);
const nodes = () => nodeNames.map((name) => [name, resolved.services[name]!] as const);
const networkName = Object.keys(cluster.networks ?? {})[0] ?? '';
const subnet = () => cluster.networks?.[networkName]?.ipam?.config?.[0]?.subnet ?? '';
const addressOf = (service: Service): string | undefined =>
  Array.isArray(service.networks) ? undefined : (service.networks?.[networkName]?.ipv4_address ?? undefined);
const dataDir = /DATA_DIR=(\S+)/.exec(readRepoFile('Dockerfile'))?.[1];

test('the unedited .env.example is refused, and so is each required value left empty', () => {
  assert.throws(
    () => interpolateDocument(cluster, parseDotEnv(envExampleText).expanded),
    (error: Error) =>
      error instanceof InterpolationError && /required variable \w+ is missing a value/.test(error.message),
  );
  for (const name of required) {
    assert.throws(
      () => interpolateDocument(cluster, parseDotEnv(envExampleText, { ...filled, [name]: '' }).expanded),
      (error: Error) =>
        error instanceof InterpolationError && error.message.includes(`required variable ${name} `),
      name,
    );
  }
});

test('at least two nodes, each the image of docker-compose.yml, with its own NODE_ID', () => {
  assert.ok(nodeNames.length >= 2, `nodes: ${nodeNames.join(', ')}`);
  const ids = nodes().map(([, node]) => node.environment!.NODE_ID);
  assert.equal(new Set(ids).size, ids.length, `NODE_IDs not distinct: ${ids.join(', ')}`);
  const app = single.services.app!;
  for (const name of nodeNames) {
    const node = cluster.services[name]!;
    assert.equal(node.build, app.build, name);
    assert.equal(node.image, app.image, name);
    assert.equal(node.restart, 'unless-stopped', name);
    assert.equal(node.env_file, '.env', name);
    assert.deepEqual(node.healthcheck, app.healthcheck, `${name}: the app's healthcheck (GET /api/health)`);
  }
});

test("nodes share PostgreSQL (docker-compose.yml's DATABASE_URL), Redis and one attachments volume, and wait for both", () => {
  assert.ok(dataDir, 'the Dockerfile sets DATA_DIR');
  const singleDatabaseUrl = single.services.app!.environment!.DATABASE_URL;
  const volumes = new Set<string>();
  for (const name of nodeNames) {
    const node = cluster.services[name]!;
    assert.equal(node.environment!.DATABASE_URL, singleDatabaseUrl, name);
    assert.equal(node.environment!.REDIS_URL, 'redis://redis:6379', name);
    const mount = (node.volumes ?? []).find((v) => v.endsWith(`:${dataDir}`));
    assert.ok(mount, `${name}: no volume at ${dataDir}`);
    volumes.add(mount.split(':')[0]!);
    assert.deepEqual(node.depends_on, {
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
  }
  assert.equal(volumes.size, 1, `one volume for every node: ${[...volumes].join(', ')}`);
  const [volume] = volumes;
  assert.match(volume!, /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a named volume');
  assert.ok(cluster.volumes && volume! in cluster.volumes, `volume ${volume} declared`);
});

test("each node's media ports: its own range, published unchanged, MEDIA_WORKERS ports, no overlap", () => {
  const taken = new Map<number, string>();
  for (const [name, node] of nodes()) {
    const env = node.environment!;
    const first = Number(env.RTC_PORT);
    const workers = Number(env.MEDIA_WORKERS);
    assert.ok(
      Number.isInteger(first) && Number.isInteger(workers) && workers >= 1,
      `${name}: ${JSON.stringify(env)}`,
    );
    for (const protocol of ['udp', 'tcp']) {
      const spec = (node.ports ?? []).find((p) => p.endsWith(`/${protocol}`));
      assert.ok(spec, `${name}: no ${protocol} ports`);
      const m = /^(\d+)-(\d+):(\d+)-(\d+)\//.exec(spec);
      assert.ok(m, `${name}: ${spec}`);
      assert.deepEqual(
        [m[1], m[2], m[3], m[4]].map(Number),
        [first, first + workers - 1, first, first + workers - 1],
        `${name}: ${spec} must be the ports of its ${workers} workers, same inside and outside`,
      );
    }
    for (let port = first; port < first + workers; port++) {
      assert.ok(!taken.has(port), `${name} and ${taken.get(port)} both use port ${port}`);
      taken.set(port, name);
    }
    // No HTTP port: haproxy is the entry.
    assert.deepEqual(
      (node.ports ?? []).filter((p) => !/\/(udp|tcp)$/.test(p) || !p.startsWith(`${first}-`)),
      [],
      `${name}: only its media ports are published`,
    );
    assert.equal(env.PORT, '3000', `${name}: listens where deploy/haproxy.cfg expects it`);
  }
});

test('a fixed subnet inside TRUST_PROXY; each node a fixed address in it, announced to the others as CLUSTER_PIPE_ADDRESS', () => {
  const network = parseCidr(subnet());
  const trusted = (exampleEnv.expanded.TRUST_PROXY ?? '').split(',').map((cidr) => parseCidr(cidr.trim()));
  assert.ok(
    trusted.some((range) => rangeInside(network, range)),
    `${subnet()} is not inside TRUST_PROXY (${exampleEnv.expanded.TRUST_PROXY}): the nodes would not believe haproxy's X-Forwarded-For`,
  );
  const addresses = new Set<string>();
  for (const [name, node] of nodes()) {
    const address = addressOf(node);
    assert.ok(address, `${name}: no fixed ipv4_address on ${networkName}`);
    const { value } = parseIp(address);
    assert.ok(
      value > network.start + 1n && value < network.end,
      `${name}: ${address} not a host address of ${subnet()}`,
    );
    assert.equal(node.environment!.CLUSTER_PIPE_ADDRESS, address, name);
    assert.ok(!addresses.has(address), `${address} twice`);
    addresses.add(address);
  }
  for (const name of ['haproxy', 'redis', 'postgres']) {
    const networks = cluster.services[name]!.networks;
    const names = Array.isArray(networks) ? networks : Object.keys(networks ?? {});
    assert.deepEqual(names, [networkName], `${name} on the cluster network`);
  }
});

test("each node's environment is accepted by the server's configuration as a cluster node", () => {
  for (const [name, node] of nodes()) {
    // Worst case for env_file: .env's values unexpanded; the service's environment wins.
    const config = loadConfig({ ...exampleEnv.raw, ...node.environment });
    const text = JSON.stringify(config);
    assert.ok(!text.includes('${'), `${name}: unexpanded variable reached the server: ${text}`);
    assert.equal(config.media.basePort, Number(node.environment!.RTC_PORT));
    assert.equal(config.media.numWorkers, Number(node.environment!.MEDIA_WORKERS));
    assert.equal(config.media.announcedAddress, filled.RTC_ANNOUNCED_ADDRESS);
    const clusterConfig = (config as unknown as { cluster?: Record<string, unknown> }).cluster;
    assert.ok(clusterConfig, `${name}: REDIS_URL did not make it a cluster node`);
    assert.equal(clusterConfig.nodeId, node.environment!.NODE_ID);
    assert.equal(clusterConfig.pipeAddress, addressOf(node));
    assert.equal(clusterConfig.redisUrl, 'redis://redis:6379');
  }
});

test('haproxy: the only HTTP entry, on HTTP_BIND:PORT, with deploy/haproxy.cfg mounted read-only', () => {
  const haproxy = resolved.services.haproxy!;
  assert.match(String(haproxy.image), /^haproxy:2\.\d+/);
  assert.equal(haproxy.restart, 'unless-stopped');
  assert.ok(
    cluster.services.haproxy!.volumes?.includes('./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro'),
    String(cluster.services.haproxy!.volumes),
  );
  const env = exampleEnv.expanded;
  const bind = /^\s*bind\s+\S*:(\d+)\s*$/m.exec(haproxyCfg)?.[1];
  assert.ok(bind, 'a bind line in deploy/haproxy.cfg');
  assert.deepEqual(haproxy.ports, [`${env.HTTP_BIND}:${env.PORT}:${bind}/tcp`]);
  assert.ok(Number(bind) >= 1024, 'the haproxy image runs unprivileged: no port below 1024');
  for (const [name, service] of Object.entries(resolved.services)) {
    if (name === 'haproxy') continue;
    for (const port of service.ports ?? []) {
      assert.doesNotMatch(port, new RegExp(`^(\\S+:)?${env.PORT}:`), `${name} publishes the HTTP port`);
    }
  }
});

/** deploy/haproxy.cfg as sections of directives (comments and blank lines dropped). */
function haproxySections(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    if (/^\S/.test(raw)) {
      current = [];
      sections.set(line, current);
    } else {
      assert.ok(current, `directive outside a section: ${line}`);
      current.push(line.replace(/\s+/g, ' '));
    }
  }
  return sections;
}

const seconds = (value: string): number => {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value);
  assert.ok(m, `a haproxy time: ${value}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
};

test('deploy/haproxy.cfg: HTTP mode, websockets kept for an hour, health checks on /api/health, failover, X-Forwarded-For', () => {
  const sections = haproxySections(haproxyCfg);
  const defaults = sections.get('defaults') ?? [];
  const backendKey = [...sections.keys()].find((key) => key.startsWith('backend '));
  assert.ok(backendKey, 'a backend');
  const backend = sections.get(backendKey)!;
  const frontendKey = [...sections.keys()].find((key) => key.startsWith('frontend '))!;
  const frontend = sections.get(frontendKey) ?? [];
  const all = [...defaults, ...frontend, ...backend];
  const timeout = (name: string) => all.find((d) => d.startsWith(`timeout ${name} `))?.split(' ')[2];
  assert.ok(defaults.includes('mode http'));
  assert.ok(
    seconds(timeout('tunnel') ?? '0') >= 3600,
    'timeout tunnel of an hour at least (signaling sockets)',
  );
  // Longer than the app's websocket heartbeat (HEARTBEAT_INTERVAL, 10 s) in any case.
  for (const name of ['client', 'server']) assert.ok(seconds(timeout(name) ?? '0') >= 30, `timeout ${name}`);
  assert.ok(all.includes('option redispatch'));
  assert.ok(all.some((d) => /^retries [1-9]/.test(d)));
  assert.ok(all.includes('option forwardfor'));
  assert.ok(backend.includes('option httpchk GET /api/health'));
  assert.ok(backend.includes('http-check expect status 200'));
  assert.match(
    backend.find((d) => d.startsWith('default-server ')) ?? '',
    /\bcheck\b.*\binter \d+m?s\b.*\bfall \d\b.*\brise \d\b/,
  );
  // Exactly the compose file's nodes, at the port they listen on.
  const servers = backend.filter((d) => d.startsWith('server ')).map((d) => d.split(' ')[2]);
  assert.deepEqual(
    servers.sort(),
    nodes()
      .map(([name, node]) => `${name}:${node.environment!.PORT}`)
      .sort(),
  );
  // A signaling socket a node moved (?node=<NODE_ID>) is routed to that node: one rule each.
  for (const [name, node] of nodes())
    assert.ok(
      backend.includes(`use-server ${name} if { url_param(node) -m str ${node.environment!.NODE_ID} }`),
      `${name}: routed by its NODE_ID`,
    );
});

test('deploy/haproxy.cfg is accepted by haproxy -c (Debian haproxy; skipped where it is not installed)', (t) => {
  const binary = '/usr/sbin/haproxy';
  if (!existsSync(binary)) return t.skip('haproxy is not installed (scripts/setup-system.sh --test)');
  const result = spawnSync(binary, ['-c', '-f', 'deploy/haproxy.cfg'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  // The node names resolve only on the compose network; nothing else may be warned about.
  const warnings = (result.stdout + result.stderr)
    .split('\n')
    .filter((line) => line.includes('WARNING') && !/could not resolve address 'node\d+'/.test(line));
  assert.deepEqual(warnings, []);
});

test('redis: no persistence, not published, health-checked, on the cluster network only', () => {
  const redis = cluster.services.redis!;
  assert.match(String(redis.image), /^redis:7/);
  assert.equal(redis.restart, 'unless-stopped');
  assert.deepEqual(redis.command, ['redis-server', '--save', '', '--appendonly', 'no']);
  assert.equal(redis.ports, undefined);
  assert.equal(redis.volumes, undefined);
  assert.match(JSON.stringify(redis.healthcheck?.test), /redis-cli.*ping/);
});

test('postgres and coturn as in docker-compose.yml (only the network differs)', () => {
  for (const name of ['postgres', 'coturn']) {
    const withoutNetworks = { ...cluster.services[name]! };
    delete withoutNetworks.networks;
    assert.deepEqual(withoutNetworks, single.services[name], name);
  }
});
