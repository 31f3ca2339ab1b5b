// Identities for raw-websocket tests: what the web app does with POST /api/identity.
export interface TestIdentity {
  id: string;
  displayName: string;
  /** `Cookie` header value carrying the identity token. */
  cookie: string;
}

export async function createIdentity(baseUrl: string, displayName: string): Promise<TestIdentity> {
  const response = await fetch(`${baseUrl}/api/identity`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ displayName }),
  });
  if (!response.ok)
    throw new Error(`POST /api/identity answered ${response.status}: ${await response.text()}`);
  const setCookie = response.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  const body = (await response.json()) as { identity: { id: string; displayName: string } };
  return { ...body.identity, cookie };
}
