import { error } from '@sveltejs/kit';
import { roomIdSchema } from '@meet/protocol';
import type { PageLoad } from './$types';

export const load: PageLoad = ({ params }) => {
  const parsed = roomIdSchema.safeParse(params.roomId);
  if (!parsed.success) error(400, parsed.error.issues[0]?.message ?? 'invalid room id');
  return { roomId: parsed.data };
};
