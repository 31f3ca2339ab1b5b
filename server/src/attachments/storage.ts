// Where attachment bytes live. The database keeps the metadata (server/src/attachments/routes.ts);
// a storage keeps the content under a server-generated key (a uuid, never user input).
// LocalDiskStorage writes into a directory (ATTACHMENTS_DIR, default DATA_DIR/attachments).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface AttachmentStorage {
  /**
   * Stores `data` under `key`. Fails with TooLargeError (and stores nothing) when `data`
   * has more than `maxBytes` bytes; the stored content is never visible half-written.
   */
  put(key: string, data: Readable, maxBytes: number): Promise<{ size: number }>;
  /** The stored content; fails with NotStoredError when there is none under `key`. */
  open(key: string): Promise<Readable>;
  /** Removes the content under `key`, if any. */
  remove(key: string): Promise<void>;
}

export class TooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`content exceeds ${maxBytes} bytes`);
    this.name = 'TooLargeError';
  }
}

export class NotStoredError extends Error {
  constructor(key: string) {
    super(`nothing stored under ${key}`);
    this.name = 'NotStoredError';
  }
}

/** Keys are server-generated uuids; anything else (a path, a dot name) is refused outright. */
const keyPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

function checkKey(key: string): string {
  if (!keyPattern.test(key)) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
  return key;
}

/** Counts bytes going through and fails as soon as there are more than `maxBytes`. */
class ByteLimit extends Transform {
  bytes = 0;
  constructor(private readonly maxBytes: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) callback(new TooLargeError(this.maxBytes));
    else callback(null, chunk);
  }
}

export class LocalDiskStorage implements AttachmentStorage {
  readonly dir: string;
  private ready: Promise<unknown> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  private ensureDir(): Promise<unknown> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private pathOf(key: string): string {
    return join(this.dir, checkKey(key));
  }

  async put(key: string, data: Readable, maxBytes: number): Promise<{ size: number }> {
    const target = this.pathOf(key);
    await this.ensureDir();
    // Written next to the target (same file system) and renamed when complete: readers see
    // either nothing or the whole file. Temporary names start with a dot: never a valid key.
    const temp = join(this.dir, `.${key}.${randomBytes(6).toString('hex')}.part`);
    const limit = new ByteLimit(maxBytes);
    try {
      await pipeline(data, limit, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
      await rename(temp, target);
    } catch (error) {
      data.destroy();
      await rm(temp, { force: true });
      throw error;
    }
    return { size: limit.bytes };
  }

  async open(key: string): Promise<Readable> {
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotStoredError(key);
      throw error;
    }
    return handle.createReadStream();
  }

  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
