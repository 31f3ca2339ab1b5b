import WebSocket from 'ws';
import { startServer } from '../../tests/helpers/server.js';

const server = await startServer();
let lost = 0;
const N = 30;
for (let i = 0; i < N; i++) {
  const ws = new WebSocket(server.wsUrl(`probe-${i}`), 'protoo');
  const got = await new Promise<boolean>((resolve) => {
    ws.on('open', () =>
      ws.send(JSON.stringify({ request: true, id: 1, method: 'getRouterRtpCapabilities', data: {} })),
    );
    ws.on('message', () => resolve(true));
    setTimeout(() => resolve(false), 1000);
  });
  if (!got) lost++;
  ws.close();
}
console.log(`lost ${lost}/${N}`);
await server.close();
