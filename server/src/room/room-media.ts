// The replaceable part of a room: its routers (RoomRouter, one per worker it uses), the
// index of the producers in them, what viewers want of each video producer (Dynacast) and
// who speaks (Speakers, on one of the routers). It is made, with its first router, when the
// first participant needs media.
//
// A room starts on one router, on the least loaded worker. A participant's media goes on
// the first router with room for it (fewer than `participantsPerRouter` members, and its
// worker's measured load under `maxWorkerLoad`); when all are full, the room gets a router on another worker (the least loaded one it does not use
// yet), and once it has one on every live worker, participants are spread over them. A
// producer is consumed on the consumer's router: from another router it is piped there
// (ProducerPipes), only where someone consumes it. Microphones are piped to the router
// that watches who speaks.
//
// A worker's death takes only its router: the participants on it are told to set their
// media up again (`routerLost`), those on other routers keep their call, minus the media of
// those who were on it. The room's speaker observers move to a surviving router. When the
// last router goes, the whole media is `lost` and the Room makes new media for whoever
// needs it next.
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { MediaWorkerPool } from '@meet/media-worker';
import type { MediaSource } from '@meet/protocol';
import { Dynacast, type TellLayers } from './dynacast.js';
import { ProducerPipes } from './producer-pipes.js';
import { RoomRouter } from './room-router.js';
import { Speakers, type AudioLevel } from './speakers.js';

export type RoomProducer = types.Producer<{ source: MediaSource }>;

export interface RoomMediaOptions {
  /** Participants on one router before the room takes another worker (MEDIA_ROUTER_PARTICIPANTS). */
  participantsPerRouter: number;
  /**
   * Measured load (share of one core) of a router's worker above which no more
   * participants go on it while the room can take another worker (MEDIA_ROUTER_MAX_LOAD).
   */
  maxWorkerLoad: number;
}

/**
 * Producers of participants connected to other nodes (several nodes, see cluster/): piped
 * in, onto this node's home router, when someone here consumes one.
 */
export interface RemoteProducers {
  /** The owner's peer id, when the producer is one of another node's. */
  ownerOf(producerId: string): string | undefined;
  /** Pipes it from its node onto `home` (with its own id). */
  pipeIn(producerId: string, home: RoomRouter): Promise<RoomProducer>;
  /** Tells its node the highest spatial layer this node's viewers want of it (-1: none). */
  want(producerId: string, spatialLayer: number): void;
}

export interface IndexedProducer {
  ownerId: string;
  producer: RoomProducer;
  /** The router the owner sends it to. */
  router: RoomRouter;
}

export class RoomMedia extends EventEmitter<{
  /** Every router of the room is gone (their workers died). */
  lost: [reason: string];
  /** One router's worker died; the room lives on its other routers. */
  routerLost: [router: RoomRouter, reason: string];
  /** The dominant speaker changed (null: nobody, e.g. their microphone closed). */
  activeSpeaker: [peerId: string | null];
  /** Who is audible and how loud; empty once when everyone went silent. */
  audioLevels: [levels: AudioLevel[]];
}> {
  readonly #pool: MediaWorkerPool;
  readonly #roomId: string;
  readonly #options: RoomMediaOptions;
  readonly #routers: RoomRouter[] = [];
  /** A router being added (concurrent placements wait for the same one). */
  #adding: Promise<RoomRouter> | undefined;
  readonly #producers = new Map<string, IndexedProducer>();
  readonly #pipes = new ProducerPipes();
  readonly #dynacast = new Dynacast();
  readonly #remote: RemoteProducers | undefined;
  /** Other nodes' producers piped in here (made or being made), by id. */
  readonly #imports = new Map<string, Promise<IndexedProducer>>();
  /** The speaker observers and the router they are on. */
  #speakers: { router: RoomRouter; speakers: Speakers } | undefined;
  #closed = false;

  private constructor(
    pool: MediaWorkerPool,
    roomId: string,
    options: RoomMediaOptions,
    remote: RemoteProducers | undefined,
  ) {
    super();
    this.#pool = pool;
    this.#roomId = roomId;
    this.#options = options;
    this.#remote = remote;
  }

  /** The room's media with its first router (on the least loaded worker). */
  static async create(
    pool: MediaWorkerPool,
    roomId: string,
    options: RoomMediaOptions,
    remote?: RemoteProducers,
  ): Promise<RoomMedia> {
    const media = new RoomMedia(pool, roomId, options, remote);
    await media.#addRouter(new Set());
    return media;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The routers alive now, oldest first. */
  routers(): RoomRouter[] {
    return this.#routers.filter((router) => !router.closed);
  }

  /** The router that watches who speaks (the first, unless its worker died). */
  get home(): RoomRouter | undefined {
    return this.#speakers?.router ?? this.routers()[0];
  }

  /** The dominant speaker's peer id, or null. */
  get activeSpeaker(): string | null {
    return this.#speakers?.speakers.activeSpeaker ?? null;
  }

  /** Producers piped to another router of the room now. */
  get pipedProducers(): number {
    return this.#pipes.size;
  }

  /** Other nodes' producers piped in to this node now (several nodes). */
  get importedProducers(): number {
    return this.#imports.size;
  }

  /**
   * The router for a participant's media: the oldest with room; when all are full, a new
   * one on a worker the room does not use yet; when it uses every live worker, the one
   * with the fewest participants. Balanced by `leave`.
   */
  async place(participantId: string): Promise<RoomRouter> {
    for (;;) {
      if (this.#closed) throw new Error(`the media of room ${this.#roomId} is closed`);
      const live = this.routers();
      const used = new Set(live.map((router) => router.workerIndex));
      const spareWorker = this.#pool.liveWorkers().some((index) => !used.has(index));
      const open = live.find(
        (router) =>
          router.members.size < this.#options.participantsPerRouter &&
          (!spareWorker || this.#pool.loadOf(router.workerIndex) < this.#options.maxWorkerLoad),
      );
      const chosen =
        open ??
        (spareWorker || live.length === 0
          ? undefined
          : live.reduce((fewest, router) => (router.members.size < fewest.members.size ? router : fewest)));
      if (chosen) {
        chosen.members.add(participantId);
        return chosen;
      }
      this.#adding ??= this.#addRouter(used).finally(() => {
        this.#adding = undefined;
      });
      await this.#adding;
    }
  }

  /**
   * The participant's media left `router`. A router other than the speakers' one that is
   * left empty is closed (its worker is free for others); pipes to it close with it.
   */
  leave(participantId: string, router: RoomRouter): void {
    router.members.delete(participantId);
    if (router.members.size > 0 || router.closed || router === this.home) return;
    this.#forgetRouter(router);
    router.router.close();
  }

  async #addRouter(avoid: ReadonlySet<number>): Promise<RoomRouter> {
    const router = new RoomRouter(await this.#pool.createRouter({ roomId: this.#roomId }, { avoid }));
    if (this.#closed) {
      router.router.close();
      throw new Error(`the media of room ${this.#roomId} is closed`);
    }
    this.#routers.push(router);
    router.router.on('workerclose', () => this.#onRouterLost(router));
    if (!this.#speakers) {
      try {
        await this.#watchSpeakersOn(router);
      } catch (error) {
        this.#forgetRouter(router);
        router.router.close();
        throw error;
      }
    }
    return router;
  }

  /** Makes `router` the one whose observers tell who speaks, fed with every microphone. */
  async #watchSpeakersOn(router: RoomRouter): Promise<void> {
    const speakers = await Speakers.create(router.router);
    if (router.closed || this.#closed) return;
    this.#speakers = { router, speakers };
    speakers.on('activeSpeaker', (peerId) => {
      if (this.#speakers?.speakers === speakers) this.emit('activeSpeaker', peerId);
    });
    speakers.on('audioLevels', (levels) => {
      if (this.#speakers?.speakers === speakers) this.emit('audioLevels', levels);
    });
    for (const { ownerId, producer, router: from } of this.#producers.values()) {
      if (producer.appData.source === 'mic') void this.#watchMicrophone(ownerId, producer, from);
    }
  }

  async #watchMicrophone(ownerId: string, producer: RoomProducer, from: RoomRouter): Promise<void> {
    const watching = this.#speakers;
    if (!watching) return;
    // The microphone may close, or a router go, meanwhile: then it is simply not watched.
    const onHome = await this.#pipes.onRouter(producer, from, watching.router).catch(() => undefined);
    if (onHome && !onHome.closed && this.#speakers === watching)
      await watching.speakers.addMicrophone(ownerId, onHome);
  }

  #forgetRouter(router: RoomRouter): void {
    const at = this.#routers.indexOf(router);
    if (at >= 0) this.#routers.splice(at, 1);
  }

  #onRouterLost(router: RoomRouter): void {
    if (this.#closed) return;
    this.#forgetRouter(router);
    const reason = 'the media worker of this room stopped';
    if (this.routers().length === 0) {
      this.#closed = true;
      this.#dynacast.close();
      this.emit('lost', reason);
      return;
    }
    if (this.#speakers?.router === router) {
      const hadSpeaker = this.activeSpeaker !== null;
      this.#speakers = undefined;
      if (hadSpeaker) this.emit('activeSpeaker', null);
      const next = this.routers()[0] as RoomRouter;
      this.#watchSpeakersOn(next).catch(() => undefined);
    }
    this.emit('routerLost', router, reason);
  }

  /**
   * Indexes a producer (sent to `router`) so that other participants can consume it by id.
   * A video producer's owner is told, through `tellLayers`, which of its spatial layers are
   * wanted (first -1); a microphone is watched for the active speaker and audio levels.
   */
  addProducer(ownerId: string, producer: RoomProducer, router: RoomRouter, tellLayers: TellLayers): void {
    this.#producers.set(producer.id, { ownerId, producer, router });
    producer.observer.once('close', () => {
      this.#producers.delete(producer.id);
      this.#dynacast.removeProducer(producer.id);
    });
    if (producer.kind === 'video') this.#dynacast.addProducer(producer.id, tellLayers);
    if (producer.appData.source === 'mic') void this.#watchMicrophone(ownerId, producer, router);
  }

  findProducer(producerId: string): IndexedProducer | undefined {
    const found = this.#producers.get(producerId);
    return found && !found.producer.closed ? found : undefined;
  }

  /** A producer of this node's participants (not one piped in from another node). */
  findOwnProducer(producerId: string): IndexedProducer | undefined {
    return this.#imports.has(producerId) ? undefined : this.findProducer(producerId);
  }

  /** Who sends a producer of the room, on this node or another one. */
  producerOwner(producerId: string): string | undefined {
    return this.findProducer(producerId)?.ownerId ?? this.#remote?.ownerOf(producerId);
  }

  /** Another node's producer, piped onto the home router once (concurrent callers share it). */
  #import(producerId: string, ownerId: string, remote: RemoteProducers): Promise<IndexedProducer> {
    let importing = this.#imports.get(producerId);
    if (importing) return importing;
    const home = this.home;
    if (!home) return Promise.reject(new Error(`the media of room ${this.#roomId} has no router`));
    importing = remote.pipeIn(producerId, home).then(
      (producer) => {
        if (this.#closed || home.closed) {
          producer.close();
          throw new Error(`the media of room ${this.#roomId} closed meanwhile`);
        }
        producer.observer.once('close', () => {
          if (this.#imports.get(producerId) === importing) this.#imports.delete(producerId);
        });
        this.addProducer(ownerId, producer, home, (layer) => remote.want(producerId, layer));
        return { ownerId, producer, router: home };
      },
      (error: unknown) => {
        this.#imports.delete(producerId);
        throw error;
      },
    );
    this.#imports.set(producerId, importing);
    return importing;
  }

  /** Another node's producer was paused or resumed by its owner: so is its copy here. */
  async setImportedPaused(producerId: string, paused: boolean): Promise<void> {
    if (!this.#imports.has(producerId)) return;
    const found = this.findProducer(producerId);
    if (!found || found.producer.paused === paused) return;
    await (paused ? found.producer.pause() : found.producer.resume()).catch(() => undefined);
  }

  /** Another node's producer closed (or its node is gone): its copy here closes. */
  closeImported(producerId: string): void {
    const importing = this.#imports.get(producerId);
    if (!importing) return;
    this.#imports.delete(producerId);
    importing.then(
      ({ producer }) => producer.close(),
      () => undefined,
    );
  }

  /**
   * The producer as it can be consumed on `router`: itself, or piped there from its own
   * router (or from another node). Undefined when it is gone (closed, also meanwhile).
   */
  async producerOn(producerId: string, router: RoomRouter): Promise<RoomProducer | undefined> {
    let found = this.findProducer(producerId);
    const remoteOwner = found ? undefined : this.#remote?.ownerOf(producerId);
    if (!found && remoteOwner && this.#remote) {
      try {
        found = await this.#import(producerId, remoteOwner, this.#remote);
      } catch (error) {
        if (!this.#remote.ownerOf(producerId)) return undefined;
        throw error;
      }
      if (found.producer.closed) return undefined;
    }
    if (!found) return undefined;
    if (found.router === router) return found.producer;
    try {
      const piped = await this.#pipes.onRouter(found.producer, found.router, router);
      return piped.closed ? undefined : piped;
    } catch (error) {
      if (found.producer.closed || found.router.closed) return undefined;
      throw error;
    }
  }

  /** The spatial layer one consumer of a video producer wants now (-1: none; paused or closed). */
  wantLayer(producerId: string, consumerId: string, spatialLayer: number): void {
    this.#dynacast.want(producerId, consumerId, spatialLayer);
  }

  /** The highest layer wanted of a video producer right now (undefined: not one). */
  wantedLayer(producerId: string): number | undefined {
    return this.#dynacast.wanted(producerId);
  }

  get producerCount(): number {
    return this.#producers.size;
  }

  close(): void {
    this.#closed = true;
    this.#producers.clear();
    this.#dynacast.close();
    for (const router of this.#routers.splice(0)) if (!router.closed) router.router.close();
  }
}
