// Media between two nodes of one room: mediasoup PipeTransports, SRTP on (and RTX, for
// links that lose packets), one pair per two nodes' home routers, negotiated over the bus.
// A node that needs another node's producer (someone here consumes it) opens the pair
// (`pipeOpen`), then asks for the producer (`pipeProducer`): the other node consumes it on its
// end and answers with the RTP parameters, and this end produces it with the same id. Only
// producers someone consumes are piped; a producer crosses to a node once, whatever the
// number of viewers there.
import type { types } from 'mediasoup';
import { notFound } from '../signaling/errors.js';
import type { RoomMedia, RoomProducer } from '../room/room-media.js';
import type { RoomRouter } from '../room/room-router.js';
import type { ClusterBus } from './bus.js';

export interface PipeListen {
  /** The address the pipe transports listen on (RTC_LISTEN_IP). */
  ip: string;
  /** The address other nodes reach them at (CLUSTER_PIPE_ADDRESS). */
  announcedAddress: string;
}

export interface PipeEnd {
  ip: string;
  port: number;
  srtpParameters: types.SrtpParameters;
}

export interface PipeOpenAnswer extends PipeEnd {
  transportId: string;
}

export interface PipeProducerAnswer {
  kind: types.MediaKind;
  rtpParameters: types.RtpParameters;
  paused: boolean;
  appData: RoomProducer['appData'];
}

interface Exported {
  transport: types.PipeTransport;
  router: RoomRouter;
  from: string;
  /** Producers consumed on it (for the other node's wanted layers). */
  producers: Set<string>;
}

export class NodePipes {
  readonly #bus: ClusterBus;
  readonly #roomId: string;
  readonly #listen: PipeListen;
  /** This node's ends of pairs it opened, by `${node} ${home router id}`. */
  readonly #pairs = new Map<
    string,
    Promise<{ transport: types.PipeTransport; nodeId: string; remoteId: string }>
  >();
  /** This node's ends of pairs other nodes opened, by transport id. */
  readonly #exported = new Map<string, Exported>();

  constructor(bus: ClusterBus, roomId: string, listen: PipeListen) {
    this.#bus = bus;
    this.#roomId = roomId;
    this.#listen = listen;
  }

  #createTransport(router: RoomRouter): Promise<types.PipeTransport> {
    return router.router.createPipeTransport({
      listenInfo: { protocol: 'udp', ip: this.#listen.ip, announcedAddress: this.#listen.announcedAddress },
      enableSrtp: true,
      enableRtx: true,
    });
  }

  #end(transport: types.PipeTransport): PipeEnd {
    return {
      ip: this.#listen.announcedAddress,
      port: transport.tuple.localPort,
      srtpParameters: transport.srtpParameters as types.SrtpParameters,
    };
  }

  /** Pipes another node's producer onto `home`, with its id (a pair to that node first). */
  async pipeIn(nodeId: string, producerId: string, home: RoomRouter): Promise<RoomProducer> {
    const pair = await this.#pairTo(nodeId, home);
    const answer = await this.#bus.request<PipeProducerAnswer>(nodeId, 'pipeProducer', {
      roomId: this.#roomId,
      producerId,
      transportId: pair.remoteId,
    });
    const producer = await pair.transport.produce({
      id: producerId,
      kind: answer.kind,
      rtpParameters: answer.rtpParameters,
      paused: answer.paused,
      appData: answer.appData,
    });
    return producer as RoomProducer;
  }

  #pairTo(nodeId: string, home: RoomRouter) {
    const key = `${nodeId} ${home.id}`;
    let pair = this.#pairs.get(key);
    if (pair) return pair;
    pair = (async () => {
      const transport = await this.#createTransport(home);
      try {
        const remote = await this.#bus.request<PipeOpenAnswer>(nodeId, 'pipeOpen', {
          roomId: this.#roomId,
          ...this.#end(transport),
        });
        await transport.connect({
          ip: remote.ip,
          port: remote.port,
          srtpParameters: remote.srtpParameters,
        });
        transport.observer.once('close', () => {
          if (this.#pairs.get(key) === pair) this.#pairs.delete(key);
          // Its router went (a worker died): the other end need not send into the void.
          this.#bus
            .request(nodeId, 'pipeClose', { roomId: this.#roomId, transportId: remote.transportId })
            .catch(() => undefined);
        });
        return { transport, nodeId, remoteId: remote.transportId };
      } catch (error) {
        transport.close();
        throw error;
      }
    })();
    pair.catch(() => {
      if (this.#pairs.get(key) === pair) this.#pairs.delete(key);
    });
    this.#pairs.set(key, pair);
    return pair;
  }

  /** Another node opens a pair with this one: this end, on this node's home router. */
  async open(from: string, remote: PipeEnd, home: RoomRouter): Promise<PipeOpenAnswer> {
    const transport = await this.#createTransport(home);
    try {
      await transport.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtpParameters });
    } catch (error) {
      transport.close();
      throw error;
    }
    this.#exported.set(transport.id, { transport, router: home, from, producers: new Set() });
    transport.observer.once('close', () => this.#exported.delete(transport.id));
    return { ...this.#end(transport), transportId: transport.id };
  }

  /** Another node asks for one of this node's producers over a pair it opened. */
  async export(
    from: string,
    { producerId, transportId }: { producerId: string; transportId: string },
    media: RoomMedia,
  ): Promise<PipeProducerAnswer> {
    const exported = this.#exported.get(transportId);
    if (!exported || exported.from !== from) throw notFound(`no pipe ${transportId} from node ${from}`);
    const own = media.findOwnProducer(producerId);
    if (!own) throw notFound(`producer ${producerId} is not sent to this node`);
    const onRouter = await media.producerOn(producerId, exported.router);
    if (!onRouter) throw notFound(`producer ${producerId} closed meanwhile`);
    const consumer = await exported.transport.consume({ producerId });
    exported.producers.add(producerId);
    consumer.observer.once('close', () => exported.producers.delete(producerId));
    return {
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      paused: consumer.producerPaused,
      appData: own.producer.appData,
    };
  }

  /** The other node closed its end (its router went). */
  closeExported(from: string, transportId: string): string[] {
    const exported = this.#exported.get(transportId);
    if (!exported || exported.from !== from) return [];
    exported.transport.close();
    return [...exported.producers];
  }

  /** Producers this node sends to `nodeId`. */
  exportedTo(nodeId: string): string[] {
    return [...this.#exported.values()].filter((e) => e.from === nodeId).flatMap((e) => [...e.producers]);
  }

  /** A node is gone: every pipe with it closes (the producers piped in from it with them). */
  nodeGone(nodeId: string): void {
    for (const exported of [...this.#exported.values()])
      if (exported.from === nodeId) exported.transport.close();
    for (const pair of [...this.#pairs.values()])
      pair.then(
        ({ transport, nodeId: to }) => {
          if (to === nodeId) transport.close();
        },
        () => undefined,
      );
  }

  close(): void {
    for (const exported of this.#exported.values()) exported.transport.close();
    this.#exported.clear();
    for (const pair of this.#pairs.values())
      pair.then(
        ({ transport }) => transport.close(),
        () => undefined,
      );
    this.#pairs.clear();
  }
}
