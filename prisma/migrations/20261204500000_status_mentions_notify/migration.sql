-- A person's own status (busy: do not disturb), @mentions in messages, and per-room web push.
CREATE TYPE "person_status" AS ENUM ('available', 'busy');
CREATE TYPE "notify_level" AS ENUM ('off', 'mentions', 'all');

ALTER TABLE "identities" ADD COLUMN "status" "person_status" NOT NULL DEFAULT 'available';
ALTER TABLE "messages" ADD COLUMN "mentions" UUID[] NOT NULL DEFAULT ARRAY[]::UUID[];
ALTER TABLE "memberships" ADD COLUMN "notify" "notify_level" NOT NULL DEFAULT 'off';
