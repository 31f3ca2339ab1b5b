// Producers: a participant's microphone, camera or screen arriving at the SFU.
import type { types } from 'mediasoup';
import type { MediaSource, RtpParameters } from '@meet/protocol';
import { refusedByMediasoup } from './errors.js';

export type ProducerAppData = { source: MediaSource };

export async function produceOn(
  transport: types.WebRtcTransport,
  {
    kind,
    rtpParameters,
    source,
    paused,
  }: { kind: 'audio' | 'video'; rtpParameters: RtpParameters; source: MediaSource; paused: boolean },
): Promise<types.Producer<ProducerAppData>> {
  try {
    return await transport.produce<ProducerAppData>({
      kind,
      rtpParameters: rtpParameters as types.RtpParameters,
      paused,
      appData: { source },
    });
  } catch (error) {
    throw refusedByMediasoup(error, 'produce');
  }
}
