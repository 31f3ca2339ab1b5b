// The hosts' part of the signaling protocol: roles, the room lock and its lobby, removing,
// muting, ending the meeting, and raised hands. Merged into `requests` and `notifications`
// (signaling.ts). Every host-only request by someone who is not a host is refused (403).
import { z } from 'zod';
import { idSchema } from './names.js';

/** A member of a room is a host (controls the room) or not; the room's creator is host. */
export const roleSchema = z.enum(['host', 'member']);
export type Role = z.infer<typeof roleSchema>;

/** Someone waiting in a locked room's lobby for a host to admit or refuse them. */
export const lobbyEntrySchema = z.object({
  peerId: idSchema,
  identityId: z.uuid(),
  displayName: z.string(),
  /** When they knocked (ISO 8601). */
  since: z.string(),
});
export type LobbyEntry = z.infer<typeof lobbyEntrySchema>;

/** A raised hand; the room's hands are listed in the order they were raised. */
export const raisedHandSchema = z.object({ peerId: idSchema, raisedAt: z.string() });
export type RaisedHand = z.infer<typeof raisedHandSchema>;

/** What a host can turn off on someone else: their microphone or their camera. */
export const mutableSourceSchema = z.enum(['mic', 'webcam']);
export type MutableSource = z.infer<typeof mutableSourceSchema>;

const empty = z.object({}).strict();
const byPeer = z.object({ peerId: idSchema }).strict();

/** What a participant who joined (not one waiting in the lobby) learns about the room. */
export const roomControlShape = {
  role: roleSchema,
  locked: z.boolean(),
  hands: z.array(raisedHandSchema),
  /** Who waits in the lobby: filled for hosts only. */
  lobby: z.array(lobbyEntrySchema),
};

export const hostRequests = {
  /** Host: lock (newcomers wait in the lobby) or unlock (everyone waiting is admitted). */
  setRoomLocked: { data: z.object({ locked: z.boolean() }).strict(), response: empty },
  /** Host: let someone waiting in the lobby in; they are told `admitted` and join again. */
  admit: { data: byPeer, response: empty },
  /** Host: turn someone in the lobby away; they are told `refused` and disconnected. */
  refuse: { data: byPeer, response: empty },
  /**
   * Host: removes a participant (every connection of that identity): their membership goes,
   * so a locked room no longer lets them in. They are told `removed` and disconnected.
   */
  removeParticipant: { data: byPeer, response: empty },
  /**
   * Host: pauses someone's microphone or camera on the server. Everyone is told as of any
   * pause (`producerPaused`), the person with `mutedByHost`; only they can resume it.
   */
  muteParticipant: {
    data: z.object({ peerId: idSchema, source: mutableSourceSchema }).strict(),
    response: empty,
  },
  /** Host: makes a participant host, or a host a member again (never oneself). */
  setRole: { data: z.object({ peerId: idSchema, role: roleSchema }).strict(), response: empty },
  /** Host: everyone (lobby included) is told `meetingEnded` and disconnected. */
  endMeeting: { data: empty, response: empty },
  /** Anyone: raises their hand (at the end of the queue; again: no change). */
  raiseHand: { data: empty, response: empty },
  /** Lowers one's own hand, or (a host) someone else's: `peerId` then names them. */
  lowerHand: { data: z.object({ peerId: idSchema.optional() }).strict(), response: empty },
} as const;

export const hostNotifications = {
  /** A participant's role changed (to everyone, themselves included). */
  roleChanged: z.object({ peerId: idSchema, role: roleSchema }),
  /** The room was locked or unlocked by a host (to everyone). */
  roomLocked: z.object({ locked: z.boolean() }),
  /** A host named the room or changed its topic (PATCH /api/rooms/{id}; to everyone). */
  roomUpdated: z.object({ name: z.string().nullable(), topic: z.string().nullable() }),
  /** To hosts: who waits in the lobby now, in the order they knocked. */
  lobbyUpdated: z.object({ lobby: z.array(lobbyEntrySchema) }),
  /** To someone in the lobby: a host let them in; join again. */
  admitted: z.object({}),
  /** To someone in the lobby: a host turned them away; the socket closes next. */
  refused: z.object({ reason: z.string() }),
  /** To a removed participant; the socket closes next. */
  removed: z.object({ reason: z.string() }),
  /** To the participant whose microphone or camera a host turned off. */
  mutedByHost: z.object({ source: mutableSourceSchema, producerId: idSchema, by: z.string() }),
  /** To everyone: a host ended the meeting; every socket closes next. */
  meetingEnded: z.object({ reason: z.string() }),
  /** To everyone: the raised hands, in the order they were raised. */
  handsUpdated: z.object({ hands: z.array(raisedHandSchema) }),
} as const;
