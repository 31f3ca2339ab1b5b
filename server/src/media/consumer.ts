// Consumers: one peer receiving another peer's producer. They start paused; the client
// resumes them once its side is ready (so no early keyframe is lost).
import type { types } from 'mediasoup';
import type { MediaSource, RequestData, ResponseData } from '@meet/protocol';
import { badRequest, forbidden, notFound } from '../signaling/errors.js';
import { notify, type Peer } from '../peer/peer.js';
import { ownTransport } from './transport.js';
import type { Room } from '../room/room.js';

export function ownConsumer(peer: Peer, consumerId: string) {
  const consumer = peer.consumers.get(consumerId);
  if (!consumer) throw notFound(`consumer ${consumerId} is not one of this peer's consumers`);
  return consumer;
}

export async function consume(
  room: Room,
  peer: Peer,
  { transportId, producerId }: RequestData<'consume'>,
): Promise<ResponseData<'consume'>> {
  const transport = ownTransport(peer, transportId, 'recv');
  const found = room.findProducer(producerId);
  if (!found) throw notFound(`producer ${producerId} is not in this room`);
  const { owner, producer } = found;
  if (owner.id === peer.id) throw forbidden('a peer cannot consume its own producer');
  for (const existing of peer.consumers.values()) {
    if (existing.producerId === producerId) throw badRequest(`already consuming producer ${producerId}`);
  }
  const rtpCapabilities = peer.rtpCapabilities as types.RtpCapabilities;
  if (!room.router.canConsume({ producerId, rtpCapabilities })) {
    throw badRequest(`this browser cannot receive the codec of producer ${producerId}`);
  }
  const consumer = await transport.consume<{ peerId: string; source: MediaSource }>({
    producerId,
    rtpCapabilities,
    paused: true,
    appData: { peerId: owner.id, source: producer.appData.source },
  });
  peer.consumers.set(consumer.id, consumer);
  const onGone = () => {
    if (!peer.consumers.delete(consumer.id)) return;
    notify(peer, 'consumerClosed', { consumerId: consumer.id, producerId });
  };
  consumer.on('producerclose', onGone);
  consumer.on('transportclose', () => peer.consumers.delete(consumer.id));
  return {
    id: consumer.id,
    producerId,
    peerId: owner.id,
    kind: consumer.kind,
    source: producer.appData.source,
    rtpParameters: consumer.rtpParameters as ResponseData<'consume'>['rtpParameters'],
    producerPaused: consumer.producerPaused,
  };
}

export async function resumeConsumer(peer: Peer, { consumerId }: RequestData<'resumeConsumer'>) {
  const consumer = ownConsumer(peer, consumerId);
  await consumer.resume();
  if (consumer.kind === 'video') await consumer.requestKeyFrame().catch(() => undefined);
  return {};
}

export async function pauseConsumer(peer: Peer, { consumerId }: RequestData<'pauseConsumer'>) {
  await ownConsumer(peer, consumerId).pause();
  return {};
}
