// A microphone that speaks, without a browser: Opus RTP with the ssrc-audio-level header
// extension sent over a plain RTP transport (a test cannot cheaply speak ICE/DTLS) and
// indexed in the room as any microphone is, so that the room's speaker observers hear it.
import dgram from 'node:dgram';
import type { RoomMedia } from '../../src/room/room-media.js';
import type { RoomRouter } from '../../src/room/room-router.js';
import { homeOf } from './room-media.js';

let ssrcCounter = 70_000_000;

/** An RTP packet of an Opus stream with the ssrc-audio-level header extension (id 1, RFC 6464). */
function opusPacketWithLevel(ssrc: number, seq: number, timestamp: number, dBov: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x90; // version 2, extension
  header[1] = 100; // payload type
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(timestamp >>> 0, 4);
  header.writeUInt32BE(ssrc, 8);
  // One-byte header extensions (0xBEDE), one 32-bit word: id 1, length 1, voice bit and level.
  const extension = Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0x80 | Math.min(127, -dBov), 0x00, 0x00]);
  return Buffer.concat([header, extension, Buffer.from([0xfc, 0xff, 0xfe])]);
}

/**
 * A microphone of `ownerId` on `router` (default: the room's first) that speaks at -20 dBov
 * unless `level` says otherwise (dBov of packet `seq`). `stop()` stops sending; `close()`
 * closes it.
 */
export async function speakingMicrophone(
  media: RoomMedia,
  ownerId: string,
  {
    level = () => -20,
    router = homeOf(media),
  }: { level?: (seq: number) => number; router?: RoomRouter } = {},
) {
  const plain = await router.router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    rtcpMux: true,
    comedia: true,
  });
  const ssrc = ++ssrcCounter;
  const producer = await plain.produce<{ source: 'mic' }>({
    kind: 'audio',
    rtpParameters: {
      codecs: [
        {
          mimeType: 'audio/opus',
          payloadType: 100,
          clockRate: 48000,
          channels: 2,
          parameters: {},
          rtcpFeedback: [],
        },
      ],
      headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1 }],
      encodings: [{ ssrc }],
      rtcp: { cname: `levels-${ssrc}` },
    },
    appData: { source: 'mic' },
  });
  media.addProducer(ownerId, producer, router, () => undefined);
  const socket = dgram.createSocket('udp4');
  // A test that fails before close() must not be kept alive by its microphone.
  socket.unref();
  let seq = 0;
  const timer = setInterval(() => {
    seq++;
    socket.send(opusPacketWithLevel(ssrc, seq, seq * 960, level(seq)), plain.tuple.localPort, '127.0.0.1');
  }, 20);
  timer.unref();
  const stop = () => clearInterval(timer);
  let closed = false;
  return {
    id: producer.id,
    stop,
    /** Idempotent. */
    close() {
      if (closed) return;
      closed = true;
      stop();
      socket.close();
      producer.close();
      plain.close();
    },
  };
}
