import { ErrorCode } from '@meet/protocol';

/** An error meant for the client: carried back as a protoo error response. */
export class SignalingError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'SignalingError';
    this.code = code;
  }
}

export const badRequest = (message: string) => new SignalingError(ErrorCode.BadRequest, message);
export const forbidden = (message: string) => new SignalingError(ErrorCode.Forbidden, message);
export const notFound = (message: string) => new SignalingError(ErrorCode.NotFound, message);
export const conflict = (message: string) => new SignalingError(ErrorCode.Conflict, message);
export const tooMany = (message: string) => new SignalingError(ErrorCode.TooMany, message);
