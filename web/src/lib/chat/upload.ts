// Uploads a file to the room (the identity cookie authorizes it); returns the attachment id.
export async function uploadAttachment(roomId: string, file: File): Promise<string> {
  const form = new FormData();
  form.append('file', file, file.name);
  const response = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/attachments`, {
    method: 'POST',
    body: form,
  });
  const body = (await response.json().catch(() => ({}))) as { attachment?: { id: string }; message?: string };
  if (!response.ok || !body.attachment) throw new Error(body.message ?? `upload failed (${response.status})`);
  return body.attachment.id;
}
