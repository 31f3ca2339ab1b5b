-- Emoji reactions on messages, a version that grows with every change of a message (so a
-- client keeps the newer of two copies), and full-text search of message text.
ALTER TABLE "messages" ADD COLUMN "version" INTEGER NOT NULL DEFAULT 0;

CREATE TABLE "message_reactions" (
    "message_id" UUID NOT NULL,
    "emoji" TEXT NOT NULL,
    "identity_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "message_reactions_pkey" PRIMARY KEY ("message_id", "emoji", "identity_id")
);

CREATE INDEX "message_reactions_identity_id_idx" ON "message_reactions"("identity_id");

ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "message_reactions" ADD CONSTRAINT "message_reactions_identity_id_fkey" FOREIGN KEY ("identity_id") REFERENCES "identities"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The 'simple' configuration: no stemming and no stop words, so that every language is
-- searched alike. The search (server/src/chat/search.ts) uses the same expression.
CREATE INDEX "messages_text_search_idx" ON "messages" USING GIN (to_tsvector('simple', "text"));
