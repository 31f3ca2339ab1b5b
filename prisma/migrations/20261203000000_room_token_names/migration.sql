-- Room tokens (an operator's application lets a person in with a name and a role it signs):
-- such a member's name in that room is the token's, not one they type.
ALTER TABLE "memberships" ADD COLUMN "name_locked" BOOLEAN NOT NULL DEFAULT false;
