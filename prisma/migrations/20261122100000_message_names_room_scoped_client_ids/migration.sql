-- A message keeps the names its author and recipient had when it was written: renaming an
-- identity later changes what the person is called from then on, not the past.
ALTER TABLE "messages" ADD COLUMN "author_name" TEXT;
ALTER TABLE "messages" ADD COLUMN "recipient_name" TEXT;
UPDATE "messages" AS m SET "author_name" = i."display_name" FROM "identities" AS i WHERE m."author_id" = i."id";
UPDATE "messages" AS m SET "recipient_name" = i."display_name" FROM "identities" AS i WHERE m."recipient_id" = i."id";

-- The idempotency of chat sends (the client's id for a message) is scoped to the room: the
-- same client id in another room is another message.
DROP INDEX "messages_author_id_client_id_key";
CREATE UNIQUE INDEX "messages_room_id_author_id_client_id_key" ON "messages"("room_id", "author_id", "client_id");
