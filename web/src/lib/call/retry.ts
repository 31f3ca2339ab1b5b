// Which failed signaling requests are worth asking again (a join, a consume).

/** A request that got no answer: it timed out (~22 s), or the socket went first. */
export class NoAnswerError extends Error {
  constructor(method: string, cause: unknown) {
    super((cause as Error | undefined)?.message ?? `${method}: no answer`, { cause });
    this.name = 'NoAnswerError';
  }
}

/**
 * Whether a request failed for want of an answer (timed out, connection gone) or by a server
 * failure (5xx), so that asking again may succeed. A refusal (4xx) is final, and so is any
 * other error (this browser cannot load the room's codecs, a malformed request).
 */
export function retryable(error: unknown): boolean {
  if (error instanceof NoAnswerError) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 500;
}
