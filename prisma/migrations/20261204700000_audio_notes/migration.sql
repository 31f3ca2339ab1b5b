-- Audio notes: an attachment recorded in the composer carries its length.
ALTER TABLE "attachments" ADD COLUMN "duration_ms" INTEGER;
