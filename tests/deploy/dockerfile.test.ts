// The Dockerfile, checked without a Docker engine: the build stage runs the same setup
// script as `npm start`, `npm test` and CI; the runtime stage has the worker's shared
// libraries, runs as a non-root user, is health-checked and points mediasoup at the worker.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { readRepoFile, repoRoot } from './support.js';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Dockerfile → stages of instructions (continuations joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (!line || line.startsWith('#')) continue;
    while (line.endsWith('\\')) {
      line = line.slice(0, -1);
      let next = lines[++i];
      while (next !== undefined && next.trim().startsWith('#')) next = lines[++i];
      if (next === undefined) break;
      line += ' ' + next.trim();
    }
    const match = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(line);
    assert.ok(match, `Dockerfile line ${start + 1}: cannot parse "${line}"`);
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.replace(/\s+/g, ' ').trim();
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(from, `FROM line ${start + 1}`);
      stages.push({ from: from[1]!, name: from[2], instructions: [] });
      continue;
    }
    assert.ok(stages.length, `instruction before FROM at line ${start + 1}`);
    stages.at(-1)!.instructions.push({ keyword, args, line: start + 1 });
  }
  return stages;
}

const stages = parseDockerfile(readRepoFile('Dockerfile'));
const build = stages[0]!;
const runtime = stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const runs = (stage: Stage) => all(stage, 'RUN').map((i) => i.args);

/** The fixed path the build stage installs the worker binary to. */
const workerPath = (() => {
  const m = /\b(?:install|cp)\s[^&;]*"\$\(cat media-worker\/worker-bin\.path\)"\s+(\S+)/.exec(
    runs(build).join('\n'),
  );
  return m?.[1];
})();

test('two stages: a build stage on node:20-bookworm, a runtime stage on node:20-bookworm-slim', () => {
  assert.ok(stages.length >= 2);
  assert.equal(build.from, 'node:20-bookworm');
  assert.equal(build.name, 'build');
  assert.equal(runtime.from, 'node:20-bookworm-slim');
});

test('the build stage runs scripts/setup.sh, the same script as npm start, npm test and CI', () => {
  assert.ok(
    runs(build).some((cmd) => /(^|&&\s*|\s)bash scripts\/setup\.sh(\s|$)/.test(cmd)),
    'no RUN bash scripts/setup.sh',
  );
  const copyAll = all(build, 'COPY').findIndex((c) => c.args === '. .');
  const setup = build.instructions.findIndex(
    (i) => i.keyword === 'RUN' && i.args.includes('scripts/setup.sh'),
  );
  assert.ok(copyAll >= 0 && copyAll < setup, 'the repository is copied before setup runs');
  const pkg = JSON.parse(readRepoFile('package.json')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, 'bash scripts/start.sh');
  assert.match(readRepoFile('scripts/start.sh'), /^bash scripts\/setup\.sh$/m);
  assert.equal(pkg.scripts.test, 'bash scripts/test.sh');
  assert.match(readRepoFile('scripts/test.sh'), /^bash scripts\/setup\.sh --test$/m);
  assert.match(readRepoFile('.ci/run'), /^npm test$/m);
});

test('the build stage prunes dev dependencies without re-running mediasoup postinstall, and keeps the worker', () => {
  assert.ok(
    runs(build).some((cmd) => /MEDIASOUP_WORKER_BIN=\S+ npm prune --omit=dev/.test(cmd)),
    'npm prune --omit=dev with MEDIASOUP_WORKER_BIN set',
  );
  assert.ok(workerPath, 'the worker recorded in media-worker/worker-bin.path is installed to a fixed path');
  assert.match(workerPath, /^\/\S+$/);
  // obtain-worker.sh and setup.sh agree on where the path is recorded.
  assert.match(readRepoFile('scripts/setup.sh'), /> media-worker\/worker-bin\.path/);
});

test('the runtime stage points mediasoup at the copied worker and carries what the server needs', () => {
  const env = all(runtime, 'ENV')
    .map((i) => i.args)
    .join(' ');
  assert.match(env, new RegExp(`MEDIASOUP_WORKER_BIN=${workerPath}(\\s|$)`));
  const copies = all(runtime, 'COPY').map((i) => i.args);
  assert.ok(copies.includes(`--from=build ${workerPath} ${workerPath}`), copies.join('\n'));
  for (const path of ['node_modules', 'protocol/dist', 'media-worker/dist', 'server/dist', 'web/build']) {
    assert.ok(
      copies.some((c) => c.startsWith(`--from=build /app/${path} `)),
      `runtime stage does not copy ${path}`,
    );
  }
  // The SQL migrations the server applies at start-up, where migrate.ts looks for them
  // (relative to server/dist/db/).
  const migrate = readRepoFile('server/src/db/migrate.ts');
  if (migrate.includes("'../../../prisma/migrations'")) {
    assert.ok(copies.includes('--from=build /app/prisma ./prisma'), 'prisma/migrations not copied');
  }
  // The dist folders are where tsc writes them.
  for (const pkg of ['protocol', 'media-worker', 'server']) {
    assert.match(readRepoFile(`${pkg}/tsconfig.json`), /"outDir":\s*"dist"/);
  }
});

test("the runtime stage's DATA_DIR exists and belongs to the user the server runs as", () => {
  const env = all(runtime, 'ENV')
    .map((i) => i.args)
    .join(' ');
  const dataDir = /DATA_DIR=(\S+)/.exec(env)?.[1];
  assert.ok(dataDir, 'ENV DATA_DIR');
  const user = all(runtime, 'USER').at(-1)!.args.split(':')[0]!;
  assert.ok(
    runs(runtime).some((cmd) => cmd.includes(`mkdir -p ${dataDir}`) && cmd.includes(`chown ${user}`)),
    `${dataDir} must be created and owned by ${user}`,
  );
});

test('the runtime stage runs as a non-root user, from USER on to CMD', () => {
  const users = all(runtime, 'USER');
  assert.ok(users.length > 0, 'no USER in the final stage');
  const user = users.at(-1)!;
  assert.ok(!/^(root|0)(:|$)/.test(user.args), `USER ${user.args} is root`);
  const cmd = all(runtime, 'CMD').at(-1)!;
  assert.ok(user.line < cmd.line);
  assert.deepEqual(JSON.parse(cmd.args), ['node', 'server/dist/main.js']);
});

test('the runtime stage exposes HTTP and the media ports', () => {
  const exposed = all(runtime, 'EXPOSE')
    .map((i) => i.args)
    .join(' ');
  assert.match(exposed, /(^|\s)3000(\/tcp)?(\s|$)/);
  assert.match(exposed, /40000-\d+\/udp/);
  assert.match(exposed, /40000-\d+\/tcp/);
});

test('HEALTHCHECK: passes on 200 from /api/health, fails on 503 and when nothing listens', async () => {
  const healthchecks = all(runtime, 'HEALTHCHECK');
  assert.equal(healthchecks.length, 1);
  const m = /\bCMD\s+(\[.*\])$/.exec(healthchecks[0]!.args);
  assert.ok(m, 'HEALTHCHECK CMD in exec (JSON) form');
  const argv = JSON.parse(m[1]!) as string[];
  assert.equal(argv[0], 'node');
  let status = 200;
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/api/health' ? status : 404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const run = () =>
    new Promise<number>((resolve) => {
      const child = spawn(process.execPath, argv.slice(1), {
        env: { ...process.env, PORT: String(port) },
        stdio: 'ignore',
      });
      child.once('exit', (code) => resolve(code ?? -1));
    });
  try {
    assert.equal(await run(), 0);
    status = 503;
    assert.equal(await run(), 1);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  assert.equal(await run(), 1);
});

// --- the worker's shared libraries --------------------------------------------------------

const aptInstalled = runs(runtime)
  .flatMap((cmd) => [...cmd.matchAll(/apt-get install ((?:-\S+\s+)*)([^&;]+)/g)])
  .flatMap((m) => m[2]!.trim().split(/\s+/));

test('the runtime stage installs libuv, libsrtp2, usrsctp and abseil, and nothing to build with', () => {
  for (const pkg of ['libuv1', 'libsrtp2-1', 'libusrsctp2']) assert.ok(aptInstalled.includes(pkg), pkg);
  assert.ok(
    aptInstalled.some((p) => p.startsWith('libabsl')),
    'abseil runtime library',
  );
  const devPackages = aptInstalled.filter(
    (p) => p.endsWith('-dev') || ['g++', 'meson', 'ninja-build'].includes(p),
  );
  assert.deepEqual(devPackages, []);
});

const recordedWorker = (() => {
  const file = `${repoRoot}media-worker/worker-bin.path`;
  if (!existsSync(file)) return undefined;
  const path = readFileSync(file, 'utf8').trim();
  return existsSync(path) ? path : undefined;
})();
const hasTools = ['ldd', 'dpkg-query', 'apt-cache'].every(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0,
);

test(
  "every shared library of this machine's worker comes from a package the runtime stage installs",
  {
    skip: !recordedWorker
      ? 'no worker recorded here (run npm run setup)'
      : !hasTools && 'ldd, dpkg-query or apt-cache not available',
  },
  () => {
    const ldd = spawnSync('ldd', [recordedWorker!], { encoding: 'utf8' });
    assert.equal(ldd.status, 0, ldd.stderr);
    const libraries = [...ldd.stdout.matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1]!);
    assert.ok(libraries.length > 0);
    const packages = new Set<string>();
    for (const library of libraries) {
      const real = spawnSync('readlink', ['-f', library], { encoding: 'utf8' }).stdout.trim();
      const owner = spawnSync('dpkg-query', ['-S', real], { encoding: 'utf8' });
      const fallback =
        owner.status === 0 ? owner : spawnSync('dpkg-query', ['-S', library], { encoding: 'utf8' });
      assert.equal(fallback.status, 0, `no Debian package owns ${library}`);
      packages.add(fallback.stdout.split(':')[0]!.trim());
    }
    // What the runtime stage installs, with everything those packages depend on, plus what
    // node:20-bookworm-slim has anyway (Node itself links libc, libgcc and libstdc++).
    const closure = spawnSync(
      'apt-cache',
      [
        'depends',
        '--recurse',
        '--no-recommends',
        '--no-suggests',
        '--no-conflicts',
        '--no-breaks',
        '--no-replaces',
        '--no-enhances',
        ...aptInstalled,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(closure.status, 0, closure.stderr);
    const provided = new Set(['libc6', 'libgcc-s1', 'libstdc++6']);
    for (const line of closure.stdout.split('\n')) {
      const name = /^(?:\s+\|?(?:Pre)?Depends:\s+)?<?([a-z0-9][a-z0-9+.-]+)(?::\w+)?>?\s*$/.exec(line)?.[1];
      if (name) provided.add(name);
    }
    const uncovered = [...packages].filter((p) => !provided.has(p));
    assert.deepEqual(uncovered, [], `the worker links libraries from packages the image lacks: ${uncovered}`);
  },
);

// --- build context ------------------------------------------------------------------------

/** Whether .dockerignore excludes a path (the subset of its syntax used here). */
function makeIgnore(text: string) {
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  assert.ok(!patterns.some((p) => p.startsWith('!')), 'negations are not handled by this check');
  const regexes = patterns.map(
    (p) =>
      new RegExp(
        '^' +
          p
            .replace(/\/$/, '')
            .split('/')
            .map((part) =>
              part === '**' ? '(?:.*)' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'),
            )
            .join('/')
            .replace(/\(\?:\.\*\)\//g, '(?:.*/)?') +
          '(?:/.*)?$',
      ),
  );
  return (path: string) => regexes.some((r) => r.test(path));
}

test('.dockerignore keeps build outputs, dependencies and secrets out, and the sources in', () => {
  const ignored = makeIgnore(readRepoFile('.dockerignore'));
  for (const path of [
    'node_modules',
    'node_modules/mediasoup/package.json',
    'server/node_modules',
    'server/dist/main.js',
    'protocol/dist',
    'server/tsconfig.tsbuildinfo',
    'web/build/index.html',
    'web/.svelte-kit/generated',
    '.git/HEAD',
    '.data',
    'test-results',
    'bench-results',
    '.env',
    'certs/privkey.pem',
    'media-worker/worker-bin.path',
    'server/src/generated/prisma/client.ts',
  ]) {
    assert.ok(ignored(path), `${path} should not be in the build context`);
  }
  for (const path of [
    'package.json',
    'package-lock.json',
    'scripts/setup.sh',
    'scripts/setup-system.sh',
    'media-worker/scripts/obtain-worker.sh',
    'media-worker/build-patches/srtp.h',
    'server/src/main.ts',
    'web/src/app.html',
    'web/static',
    '.env.example',
    'tsconfig.base.json',
    'prisma/schema.prisma',
    'prisma/migrations/migration_lock.toml',
    'prisma.config.ts',
  ]) {
    assert.ok(!ignored(path), `${path} is needed by the build but ignored`);
  }
});
