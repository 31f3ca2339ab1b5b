// Rules for the user-visible identifiers: room ids (they appear in links) and display names.
import { z } from 'zod';
import { token } from './text.js';

/** Room ids are part of the room link: lowercase letters, digits and dashes. */
export const roomIdSchema = z
  .string()
  .min(1, 'room id is empty')
  .max(64, 'room id is longer than 64 characters')
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'room id may contain only a-z, 0-9 and inner dashes');

/** Display names are shown under tiles; control characters are refused, spaces trimmed. */
export const displayNameSchema = z
  .string()
  .trim()
  .min(1, 'display name is empty')
  .max(40, 'display name is longer than 40 characters')
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'display name contains control characters');

/** Ids of transports, producers, consumers and peers (UUIDs from the server). */
export const idSchema = token(64);

/** Letters and digits of room ids made up here: no i, l, o, u (read as 1, 1, 0, v). */
const roomIdAlphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A new room id for the "new room" button, such as "k7q2-m9xd-3fhp-wz8c-ra6t": 20 symbols
 * of 5 bits (100 bits) from a CSPRNG, in groups of four so that it can be read out.
 * Someone who only guesses ids will not find a room.
 */
export function randomRoomId(
  fillRandom: (bytes: Uint8Array) => Uint8Array = (bytes) => crypto.getRandomValues(bytes),
): string {
  const bytes = fillRandom(new Uint8Array(20));
  let id = '';
  for (let i = 0; i < 20; i++) {
    if (i > 0 && i % 4 === 0) id += '-';
    id += roomIdAlphabet[(bytes[i] as number) & 31];
  }
  return id;
}
