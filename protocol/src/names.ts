// Rules for the user-visible identifiers: room ids (they appear in links) and display names.
import { z } from 'zod';

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

export const idSchema = z.string().min(1).max(64);

/** A random, readable room id such as "amber-otter-4821" for the "new room" button. */
export function randomRoomId(random: () => number = Math.random): string {
  const a = [
    'amber',
    'brisk',
    'calm',
    'deep',
    'eager',
    'fair',
    'glad',
    'keen',
    'lucid',
    'mellow',
    'noble',
    'quiet',
  ];
  const b = [
    'otter',
    'falcon',
    'maple',
    'harbor',
    'comet',
    'cedar',
    'lynx',
    'delta',
    'ember',
    'fjord',
    'heron',
    'tide',
  ];
  const pick = (list: string[]) => list[Math.floor(random() * list.length)] as string;
  return `${pick(a)}-${pick(b)}-${String(Math.floor(random() * 9000) + 1000)}`;
}
