// Identities for raw-websocket tests and the benchmarks: what the web app does with
// POST /api/identity (no server code is imported: safe in worker threads).
export interface TestIdentity {
  id: string;
  displayName: string;
  /** `Cookie` header value carrying the identity token. */
  cookie: string;
}

export async function createIdentity(baseUrl: string, displayName: string): Promise<TestIdentity> {
  const response = await fetch(new URL('/api/identity', baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ displayName }),
  });
  if (!response.ok)
    throw new Error(`POST /api/identity answered ${response.status}: ${await response.text()}`);
  const setCookie = response.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  if (!cookie) throw new Error('POST /api/identity set no cookie');
  const body = (await response.json()) as { identity: { id: string; displayName: string } };
  return { ...body.identity, cookie };
}
