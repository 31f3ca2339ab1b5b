// Room tokens: an operator's application links people into a room as /r/<room>#token=<JWT>
// (in the fragment, so the token reaches neither server logs nor Referer headers). The page
// hands it to the server once (POST /api/room-token), which names this browser's identity
// and makes it a member with the token's role; the fragment is then dropped from the address.

export interface RoomGrant {
  displayName: string;
  role: 'host' | 'participant';
}

/** Whether this page is shown inside another page's iframe (embed mode). */
export function isEmbedded(): boolean {
  try {
    return window.top !== window.self;
  } catch {
    return true; // a cross-origin parent cannot even be compared
  }
}

/** The token in the address's fragment, if any, removed from the address. */
export function takeRoomToken(): string | undefined {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token') ?? undefined;
  if (token !== undefined) {
    params.delete('token');
    const rest = params.toString();
    history.replaceState(
      history.state,
      '',
      `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`,
    );
  }
  return token || undefined;
}

export async function redeemRoomToken(roomId: string, token: string): Promise<RoomGrant> {
  const response = await fetch('/api/room-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ roomId, token, embedded: isEmbedded() }),
  });
  const body = (await response.json().catch(() => ({}))) as Partial<RoomGrant> & { message?: string };
  if (!response.ok || !body.displayName || !body.role)
    throw new Error(body.message ?? `the server answered ${response.status}`);
  return { displayName: body.displayName, role: body.role };
}
