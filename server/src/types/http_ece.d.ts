// http_ece (the reference implementation of RFC 8188 encrypted content coding, used by
// web-push): the part the tests use to decrypt a push as a browser would.
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';
  export function decrypt(
    buffer: Buffer,
    params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: string },
  ): Buffer;
}
