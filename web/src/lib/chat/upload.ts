// Uploads a file to the room (the identity cookie authorizes it); returns the attachment id.
// An audio note says how long it is (`durationMs`).
export async function uploadAttachment(roomId: string, file: File, durationMs?: number): Promise<string> {
  const form = new FormData();
  form.append('file', file, file.name);
  const query = durationMs === undefined ? '' : `?durationMs=${Math.max(1, Math.round(durationMs))}`;
  const response = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/attachments${query}`, {
    method: 'POST',
    body: form,
  });
  const body = (await response.json().catch(() => ({}))) as { attachment?: { id: string }; message?: string };
  if (!response.ok || !body.attachment) throw new Error(body.message ?? `upload failed (${response.status})`);
  return body.attachment.id;
}
