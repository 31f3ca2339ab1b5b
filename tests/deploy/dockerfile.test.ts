// The Dockerfile, checked without a Docker engine: the build stage runs the same setup
// script as `npm start`, `npm test` and CI, with the worker's libraries installed before the
// worker cache is looked up; production dependencies come from their own stage without the
// Prisma CLI; the runtime stage has the worker's shared libraries and nothing to build with,
// runs as a non-root user, is health-checked and points mediasoup at the worker.
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

/** Dockerfile → stages of instructions (continuations joined, comments dropped); the ARGs
 *  declared before the first FROM go to `globalArgs`. */
const globalArgs: Record<string, string> = {};
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
    if (!stages.length && keyword === 'ARG') {
      const arg = /^([A-Za-z_][A-Za-z0-9_]*)(?:=("?)(.*)\2)?$/.exec(args);
      assert.ok(arg, `ARG line ${start + 1}`);
      globalArgs[arg[1]!] = arg[3] ?? '';
      continue;
    }
    assert.ok(stages.length, `instruction before FROM at line ${start + 1}`);
    stages.at(-1)!.instructions.push({ keyword, args, line: start + 1 });
  }
  return stages;
}

const dockerfileText = readRepoFile('Dockerfile');
const stages = parseDockerfile(dockerfileText);
const build = stages[0]!;
const deps = stages.find((s) => s.name === 'deps');
const runtime = stages.at(-1)!;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
/** RUN commands, with the global ARGs that the stage declares expanded. */
const runs = (stage: Stage) => {
  const declared = all(stage, 'ARG').map((i) => i.args.split('=')[0]!);
  return all(stage, 'RUN').map((i) =>
    i.args.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, name: string) =>
      declared.includes(name) && name in globalArgs ? globalArgs[name]! : m,
    ),
  );
};

/** The fixed path the build stage installs the worker binary to. */
const workerPath = (() => {
  const m = /\b(?:install|cp)\s[^&;]*"\$\(cat media-worker\/worker-bin\.path\)"\s+(\S+)/.exec(
    runs(build).join('\n'),
  );
  return m?.[1];
})();

test('stages: build and deps on node:24-bookworm, runtime on debian:bookworm-slim with the node binary', () => {
  assert.equal(stages.length, 3);
  assert.equal(build.from, 'node:24-bookworm');
  assert.equal(build.name, 'build');
  assert.equal(deps?.from, 'node:24-bookworm');
  assert.equal(runtime.from, 'debian:bookworm-slim');
  const copies = all(runtime, 'COPY').map((i) => i.args);
  assert.ok(copies.includes('--from=build /usr/local/bin/node /usr/local/bin/node'), copies.join('\n'));
  // The same major version as the one the project requires.
  const pkg = JSON.parse(readRepoFile('package.json')) as { engines: { node: string } };
  assert.equal(pkg.engines.node, '>=24');
});

test('no image from Docker Hub besides the FROM bases, and docs/deploy.md names each', () => {
  // A `# syntax=` line would make BuildKit fetch a frontend image (docker/dockerfile).
  assert.doesNotMatch(dockerfileText, /^#\s*syntax\s*=/im);
  const stageNames = new Set(stages.map((s) => s.name));
  const images = new Set(stages.map((s) => s.from).filter((from) => !stageNames.has(from)));
  // COPY --from=<image> would pull one more.
  for (const stage of stages) {
    for (const copy of all(stage, 'COPY')) {
      const from = /--from=(\S+)/.exec(copy.args)?.[1];
      if (from) assert.ok(stageNames.has(from), `line ${copy.line}: COPY --from=${from} is not a stage`);
    }
  }
  assert.deepEqual([...images].sort(), ['debian:bookworm-slim', 'node:24-bookworm']);
  const doc = readRepoFile('docs/deploy.md');
  for (const image of images)
    assert.ok(doc.includes(`\`${image}\``), `docs/deploy.md does not name ${image}`);
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

test("the build stage installs the worker's libraries before the worker cache is looked up", () => {
  // obtain-worker.sh verifies a cached worker by running it: without its shared libraries
  // the check fails and the worker is compiled again on every build.
  const setup = build.instructions.findIndex(
    (i) => i.keyword === 'RUN' && i.args.includes('scripts/setup.sh'),
  );
  const libs = build.instructions.findIndex(
    (i) => i.keyword === 'RUN' && /apt-get install .*\$WORKER_LIBS/.test(i.args),
  );
  assert.ok(libs >= 0 && libs < setup, 'apt-get install $WORKER_LIBS before scripts/setup.sh');
  const setupRun = build.instructions[setup]!.args;
  assert.match(
    setupRun,
    /--mount=type=cache,target=\/root\/\.cache\/meet\b/,
    'the worker cache is a cache mount',
  );
  assert.match(
    readRepoFile('media-worker/scripts/obtain-worker.sh'),
    /cache_root="\$\{MEET_CACHE_DIR:-\$HOME\/\.cache\/meet\}"/,
  );
  assert.deepEqual(
    runs(build)
      .find((cmd) => cmd.includes('apt-get install'))!
      .match(/lib\S+/g),
    [...globalArgs.WORKER_LIBS!.split(' ')],
  );
});

test('production dependencies: their own stage, from the manifests only, without the Prisma CLI', () => {
  assert.ok(deps, 'a stage named deps');
  // Only package manifests (and the schema, for its provider) are copied: a source change
  // does not invalidate this stage.
  const copies = all(deps, 'COPY').map((i) => i.args.split(' '));
  for (const [source] of copies) {
    assert.match(
      source!,
      /(^|\/)(package\.json|package-lock\.json|schema\.prisma)$/,
      `deps copies ${source}`,
    );
  }
  for (const pkg of ['protocol', 'media-worker', 'server', 'web']) {
    assert.ok(
      copies.some(([source]) => source === `${pkg}/package.json`),
      `${pkg}/package.json (workspace)`,
    );
  }
  const install = runs(deps).find((cmd) => cmd.includes('npm ci'));
  assert.ok(install, 'npm ci in the deps stage');
  assert.match(install, /MEDIASOUP_WORKER_BIN=\S+ npm ci --omit=dev --omit=optional/);
  assert.match(install, /rm -rf node_modules\/mediasoup\/worker/);
  const runtimeCopies = all(runtime, 'COPY').map((i) => i.args);
  assert.ok(runtimeCopies.includes('--from=deps /app/node_modules ./node_modules'), runtimeCopies.join('\n'));
});

test('--omit=dev --omit=optional drops the Prisma CLI and no production dependency but pg-cloudflare', () => {
  // npm keeps a "devOptional" package (a dev dependency that is also an optional dependency
  // of a production one: prisma, an optional peer of @prisma/client) unless both dev and
  // optional are omitted. Anything else optional that production code needs would be lost.
  const lock = JSON.parse(readRepoFile('package-lock.json')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
  };
  const omitted = (p: { dev?: boolean; optional?: boolean; devOptional?: boolean }) =>
    Boolean(p.dev || p.optional || p.devOptional);
  assert.ok(omitted(lock.packages['node_modules/prisma']!), 'the Prisma CLI would be installed');
  assert.ok(omitted(lock.packages['node_modules/@prisma/engines']!), '@prisma/engines would be installed');
  const productionOnlyOptional = Object.entries(lock.packages)
    .filter(([, p]) => p.optional && !p.dev && !p.devOptional)
    .map(([name]) => name);
  assert.deepEqual(productionOnlyOptional, ['node_modules/pg-cloudflare']);
});

test('the build stage keeps the worker at a fixed path', () => {
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
  for (const path of ['protocol/dist', 'media-worker/dist', 'server/dist', 'web/build']) {
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
  // debian:bookworm-slim has no "node" user: the stage creates it.
  const name = user.args.split(':')[0]!;
  assert.ok(
    runs(runtime).some((cmd) => new RegExp(`useradd .*--uid 1000 .*\\b${name}(\\s|$)`).test(cmd)),
    `useradd ${name}`,
  );
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

test('the runtime stage installs libuv, libsrtp2 and abseil, and nothing to build with', () => {
  for (const pkg of ['libuv1', 'libsrtp2-1']) assert.ok(aptInstalled.includes(pkg), pkg);
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
    // debian:bookworm-slim has anyway (libc; libgcc and libstdc++ for apt, and for Node).
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
