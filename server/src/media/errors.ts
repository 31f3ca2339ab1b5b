// mediasoup refuses what a client asked for (a duplicate MID or SSRC, a codec the router
// does not have, a producer closed meanwhile) with TypeError, UnsupportedError or a plain
// Error from the worker. Those are the client's doing and become 400s with mediasoup's
// reason; a closed worker or transport (InvalidStateError), or an object the worker no longer
// has (NotFoundError: a consumer whose producer another participant closed while the request
// was on its way) is 409: the call changed under it.
import { SignalingError, badRequest, conflict } from '../signaling/errors.js';

export function refusedByMediasoup(error: unknown, method: string): Error {
  if (error instanceof SignalingError) return error;
  const { name, message } = error as Error;
  const reason = `${method} refused: ${String(message).slice(0, 300)}`;
  if (name === 'InvalidStateError' || name === 'NotFoundError') return conflict(reason);
  return badRequest(reason);
}
