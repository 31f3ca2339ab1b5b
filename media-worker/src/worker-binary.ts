// Where the mediasoup-worker binary is, and loading mediasoup so that it uses it.
// mediasoup reads MEDIASOUP_WORKER_BIN once, when it is first imported, so the variable is
// set here before the (dynamic) import. The path comes from the environment, or from the
// file written by scripts/obtain-worker.sh through the setup script.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Mediasoup = typeof import('mediasoup');

/** File (gitignored) where the setup step records the verified worker binary. */
export const workerBinPathFile = fileURLToPath(new URL('../worker-bin.path', import.meta.url));

export function resolveWorkerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MEDIASOUP_WORKER_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`MEDIASOUP_WORKER_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  if (existsSync(workerBinPathFile)) {
    const recorded = readFileSync(workerBinPathFile, 'utf8').trim();
    if (recorded && existsSync(recorded)) return recorded;
    throw new Error(
      `${workerBinPathFile} names ${recorded || '(nothing)'}, which does not exist: run "npm run setup" again`,
    );
  }
  throw new Error('no mediasoup worker binary yet: run "npm run setup" (or "npm start") first');
}

let loaded: Promise<Mediasoup> | undefined;

export function loadMediasoup(): Promise<Mediasoup> {
  loaded ??= (async () => {
    process.env.MEDIASOUP_WORKER_BIN = resolveWorkerBinary();
    const mod = (await import('mediasoup')) as Mediasoup & { default?: Mediasoup };
    return mod.default ?? mod;
  })();
  return loaded;
}
