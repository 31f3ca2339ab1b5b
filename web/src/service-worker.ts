/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
// The service worker: shows web push notifications (new messages a person asked to hear of),
// and a click opens the room at that message (focusing a tab already there). It caches
// nothing: the app is always loaded from the server.
const sw = self as unknown as ServiceWorkerGlobalScope;

interface PushPayload {
  title: string;
  body: string;
  url: string;
  tag: string;
}

function payloadOf(text: string | undefined): PushPayload {
  try {
    const data = JSON.parse(text ?? '{}') as Partial<PushPayload>;
    const url =
      typeof data.url === 'string' && data.url.startsWith('/') && !data.url.startsWith('//') ? data.url : '/';
    return {
      title: typeof data.title === 'string' ? data.title : 'Meet',
      body: typeof data.body === 'string' ? data.body : '',
      url,
      tag: typeof data.tag === 'string' ? data.tag : 'meet',
    };
  } catch {
    return { title: 'Meet', body: 'New message', url: '/', tag: 'meet' };
  }
}

sw.addEventListener('install', () => void sw.skipWaiting());
sw.addEventListener('activate', (event) => event.waitUntil(sw.clients.claim()));

sw.addEventListener('push', (event) => {
  const payload = payloadOf(event.data?.text());
  event.waitUntil(
    sw.registration.showNotification(payload.title, {
      body: payload.body,
      tag: payload.tag,
      data: { url: payload.url },
    }),
  );
});

sw.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL((event.notification.data as { url?: string } | null)?.url ?? '/', sw.location.origin);
  event.waitUntil(
    (async () => {
      const tabs = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const there = tabs.find((tab) => new URL(tab.url).pathname === url.pathname);
      if (there) {
        await there.navigate(url.href).catch(() => undefined);
        await there.focus();
        return;
      }
      await sw.clients.openWindow(url.href);
    })(),
  );
});
