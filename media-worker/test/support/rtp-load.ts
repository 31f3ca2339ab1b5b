// Real work for a media worker, for tests of placement by measured load: Opus-shaped RTP at
// about 20,000 packets a second into a plain transport of `router`, forwarded to three
// consumers (plain transports sending to a local sink). `stop()` ends it and closes the
// sockets (the router is the caller's).
import dgram from 'node:dgram';
import type { types } from 'mediasoup';

export async function loadRouterWithRtp(router: types.Router, ssrc = 4242): Promise<{ stop(): void }> {
  const socket = dgram.createSocket('udp4');
  const sink = dgram.createSocket('udp4');
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    clearInterval(timer);
    socket.close();
    sink.close();
  };
  try {
    const ingress = await router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
      rtcpMux: true,
      comedia: true,
    });
    const producer = await ingress.produce({
      kind: 'audio',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
        encodings: [{ ssrc }],
      },
    });
    await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < 3; i++) {
      const egress = await router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
        rtcpMux: true,
      });
      await egress.connect({ ip: '127.0.0.1', port: sink.address().port });
      await egress.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    }
    let seq = 0;
    const packet = Buffer.alloc(200);
    timer = setInterval(() => {
      for (let i = 0; i < 20; i++) {
        seq = (seq + 1) & 0xffff;
        packet.writeUInt8(0x80, 0);
        packet.writeUInt8(100, 1);
        packet.writeUInt16BE(seq, 2);
        packet.writeUInt32BE(seq * 960, 4);
        packet.writeUInt32BE(ssrc, 8);
        socket.send(packet, ingress.tuple.localPort, '127.0.0.1');
      }
    }, 1);
    return { stop };
  } catch (error) {
    stop();
    throw error;
  }
}
