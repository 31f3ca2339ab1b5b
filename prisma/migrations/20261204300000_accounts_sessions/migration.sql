-- Accounts and sessions. An identity may now be an account (email and argon2id password
-- hash, or an OpenID Connect issuer and subject), and a browser holds a session of it: the
-- cookie tokens move from identities to sessions (each existing browser keeps its cookie).
CREATE TABLE "sessions" (
    "id" UUID NOT NULL,
    "identity_id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "user_agent" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "sessions_token_hash_key" ON "sessions"("token_hash");

CREATE INDEX "sessions_identity_id_idx" ON "sessions"("identity_id");

ALTER TABLE "sessions" ADD CONSTRAINT "sessions_identity_id_fkey" FOREIGN KEY ("identity_id") REFERENCES "identities"("id") ON DELETE CASCADE ON UPDATE CASCADE;

INSERT INTO "sessions" ("id", "identity_id", "token_hash", "created_at", "last_seen_at")
SELECT gen_random_uuid(), "id", "token_hash", "created_at", "created_at" FROM "identities";

DROP INDEX "identities_token_hash_key";
ALTER TABLE "identities" DROP COLUMN "token_hash";

ALTER TABLE "identities" ADD COLUMN "email" TEXT;
ALTER TABLE "identities" ADD COLUMN "password_hash" TEXT;
ALTER TABLE "identities" ADD COLUMN "oidc_issuer" TEXT;
ALTER TABLE "identities" ADD COLUMN "oidc_subject" TEXT;

CREATE UNIQUE INDEX "identities_email_key" ON "identities"("email");

CREATE UNIQUE INDEX "identities_oidc_issuer_oidc_subject_key" ON "identities"("oidc_issuer", "oidc_subject");
