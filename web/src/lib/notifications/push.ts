// Web push in this browser: asks the person's permission, subscribes with the server's VAPID
// key (through the service worker) and tells the server; each room then opts in on its own.
import { pushKeyResponseSchema } from '@meet/protocol';
import { api } from '$lib/api';

function bytesOf(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Makes sure this browser is subscribed; throws with a reason for the person when it cannot be. */
export async function enablePush(): Promise<void> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window))
    throw new Error('this browser cannot receive notifications');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted')
    throw new Error('notifications are blocked for this site (see the browser’s settings)');
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    const { publicKey } = pushKeyResponseSchema.parse(await api('GET', '/api/push/key'));
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: bytesOf(publicKey),
    });
  }
  await api('POST', '/api/push/subscriptions', subscription.toJSON());
}
