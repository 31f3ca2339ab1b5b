-- My rooms: a host names a room and gives it a topic; a member stars the rooms they want first.
ALTER TABLE "rooms" ADD COLUMN "name" TEXT;
ALTER TABLE "rooms" ADD COLUMN "topic" TEXT;
ALTER TABLE "memberships" ADD COLUMN "starred" BOOLEAN NOT NULL DEFAULT false;
