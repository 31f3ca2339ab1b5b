// The router of a room's media that tests reach into (the first one, which also watches who
// speaks): a room of the tests' size has just that one.
import assert from 'node:assert/strict';
import type { RoomMedia } from '../../src/room/room-media.js';
import type { RoomRouter } from '../../src/room/room-router.js';

export function homeOf(media: RoomMedia): RoomRouter {
  const home = media.home;
  assert.ok(home, 'the room has a router');
  return home;
}
