export { roomMediaCodecs } from './codecs.js';
export {
  LOAD_TIE,
  MediaWorkerPool,
  type MediaPoolConfig,
  type PoolLogger,
  type WorkerDiedEvent,
  type WorkerHealth,
} from './pool.js';
export { loadMediasoup, resolveWorkerBinary, workerBinPathFile } from './worker-binary.js';
