// A SignalingError (the domain's refusal: 400, 403, 404, 409, 429, 503) as an HTTP answer.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SignalingError } from '../signaling/errors.js';

const statusNames: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/** Runs `work`; a refusal it throws is answered with its status and reason (others go on up). */
export async function answerRefusals<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  work: () => Promise<T>,
): Promise<T | FastifyReply> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof SignalingError) || !(error.code in statusNames)) throw error;
    request.log.info({ url: request.url, reason: error.message }, 'API request refused');
    return reply.code(error.code).send({ error: statusNames[error.code] as string, message: error.message });
  }
}
