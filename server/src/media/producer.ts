// Producers: a participant's microphone, camera or screen arriving at the SFU.
import type { types } from 'mediasoup';
import type { MediaSource, RtpParameters } from '@meet/protocol';
import { refusedByMediasoup } from './errors.js';

export type ProducerAppData = { source: MediaSource };

/**
 * At most one key frame request forwarded to a video publisher per this many ms: viewers
 * that resume, switch layers or lose packets all at once (or one viewer toggling its view)
 * cost the publisher one key frame, not a burst of them.
 */
export const KEY_FRAME_REQUEST_DELAY_MS = 500;

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
      ...(kind === 'video' ? { keyFrameRequestDelay: KEY_FRAME_REQUEST_DELAY_MS } : {}),
    });
  } catch (error) {
    throw refusedByMediasoup(error, 'produce');
  }
}
