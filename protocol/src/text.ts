// String rules shared by every schema: what text may cross the signaling channel.
import { z } from 'zod';

// U+0000 cannot be stored by PostgreSQL and has no business in any field; other C0 controls
// (but tab and newlines) have no place in text meant for people either.
// eslint-disable-next-line no-control-regex
const nul = /\u0000/;
// eslint-disable-next-line no-control-regex
const controlExceptWhitespace = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** A string without U+0000, at most `max` characters. */
export function plainString(max: number) {
  return z
    .string()
    .max(max, `longer than ${max} characters`)
    .refine((s) => !nul.test(s), 'contains U+0000');
}

/** Text written by a person: tab and newlines allowed, other control characters refused. */
export function personText(max: number, tooLong: string) {
  return z
    .string()
    .max(max, tooLong)
    .refine((s) => !controlExceptWhitespace.test(s), 'contains control characters');
}

/** A token such as an id, a MID or a RID: printable ASCII without spaces. */
export function token(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
}
