-- Hosts control their rooms. A member is a host or not; the room's first member (its
-- creator) is made host when it joins. Existing rooms: their earliest member becomes host.
CREATE TYPE "member_role" AS ENUM ('host', 'member');
ALTER TABLE "memberships" ADD COLUMN "role" "member_role" NOT NULL DEFAULT 'member';
UPDATE "memberships" AS m SET "role" = 'host'
FROM (
    SELECT DISTINCT ON ("room_id") "room_id", "identity_id"
    FROM "memberships"
    ORDER BY "room_id", "joined_at", "identity_id"
) AS first
WHERE m."room_id" = first."room_id" AND m."identity_id" = first."identity_id";

-- A locked room lets in its members only: newcomers wait in the lobby until a host admits them.
ALTER TABLE "rooms" ADD COLUMN "locked" BOOLEAN NOT NULL DEFAULT false;
