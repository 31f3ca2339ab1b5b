-- Sign-ins with an OpenID Connect provider under way: what the provider's answer must match.
CREATE TABLE "oidc_logins" (
    "state" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "nonce" TEXT NOT NULL,
    "code_verifier" TEXT NOT NULL,
    "return_to" TEXT NOT NULL,
    "session_id" UUID,
    "binding_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "oidc_logins_pkey" PRIMARY KEY ("state")
);

CREATE INDEX "oidc_logins_created_at_idx" ON "oidc_logins"("created_at");
