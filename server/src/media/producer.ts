// Producers: a peer's microphone, camera or screen sent to the room.
import type { types } from 'mediasoup';
import type { MediaSource, RequestData, ResponseData } from '@meet/protocol';
import { badRequest, notFound, tooMany } from '../signaling/errors.js';
import { peerLimits, type Peer } from '../peer/peer.js';
import { ownTransport } from './transport.js';
import type { Room } from '../room/room.js';

export function ownProducer(peer: Peer, producerId: string): types.Producer<{ source: MediaSource }> {
  const producer = peer.producers.get(producerId);
  if (!producer) throw notFound(`producer ${producerId} is not one of this peer's producers`);
  return producer;
}

export async function produce(
  room: Room,
  peer: Peer,
  { transportId, kind, rtpParameters, source, paused }: RequestData<'produce'>,
): Promise<ResponseData<'produce'>> {
  const transport = ownTransport(peer, transportId, 'send');
  if (peer.producers.size >= peerLimits.producers) {
    throw tooMany(`a peer may hold at most ${peerLimits.producers} producers`);
  }
  const expectedKind = source === 'mic' ? 'audio' : 'video';
  if (kind !== expectedKind) throw badRequest(`a ${source} producer must be ${expectedKind}, not ${kind}`);
  for (const existing of peer.producers.values()) {
    if (existing.appData.source === source) throw badRequest(`this peer already produces its ${source}`);
  }
  const producer = await transport.produce<{ source: MediaSource }>({
    kind,
    rtpParameters: rtpParameters as types.RtpParameters,
    paused: paused ?? false,
    appData: { source },
  });
  peer.producers.set(producer.id, producer);
  producer.observer.once('close', () => {
    peer.producers.delete(producer.id);
    room.broadcast('producerClosed', { peerId: peer.id, producerId: producer.id }, peer.id);
  });
  room.broadcast(
    'newProducer',
    { peerId: peer.id, id: producer.id, kind: producer.kind, source, paused: producer.paused },
    peer.id,
  );
  return { id: producer.id };
}

export async function pauseProducer(room: Room, peer: Peer, { producerId }: RequestData<'pauseProducer'>) {
  const producer = ownProducer(peer, producerId);
  if (!producer.paused) {
    await producer.pause();
    room.broadcast('producerPaused', { peerId: peer.id, producerId }, peer.id);
  }
  return {};
}

export async function resumeProducer(room: Room, peer: Peer, { producerId }: RequestData<'resumeProducer'>) {
  const producer = ownProducer(peer, producerId);
  if (producer.paused) {
    await producer.resume();
    room.broadcast('producerResumed', { peerId: peer.id, producerId }, peer.id);
  }
  return {};
}

export function closeProducer(peer: Peer, { producerId }: RequestData<'closeProducer'>) {
  ownProducer(peer, producerId).close();
  return {};
}
