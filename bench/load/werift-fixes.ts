// Two fixes to werift 0.18, applied once per thread before any participant exists.
//
// 1. ICE consent freshness (RFC 7675) towards ICE-lite servers. werift skips its consent
//    checks when the remote is ICE-lite, as mediasoup is; mediasoup (≥ 3.13) then stops a
//    transport that received no STUN request for 30 s (iceConsentTimeout). Browsers send
//    consent checks every ~5 s whatever the remote; so does the load tool now.
//
// 2. The receive-side NACK loop. Upstream, the first lost packet starts a 5 ms interval whose body
// awaits sendNack(), a promise that never settles once nothing is missing any more: the
// interval then runs forever, one per stream that ever lost a packet. Under load that is
// tens of thousands of timer callbacks per second, which starve the generator's event loop,
// which loses more packets: a collapse that measures werift, not the SFU. Here the loop
// sends a NACK for what is still missing every 20 ms (each sequence number at most 10
// times, as upstream) and stops when nothing is.
import { Connection } from 'werift';
import { NackHandler } from 'werift/lib/webrtc/src/media/receiver/nack.js';

interface IceInternals {
  remoteIsLite: boolean;
  state: string;
  remotePassword: string;
  nominatedKeys: string[];
  nominated: Record<
    number,
    { remoteAddr: unknown; protocol: { request(...args: unknown[]): Promise<unknown> } }
  >;
  buildRequest(pair: unknown, nominate: boolean): unknown;
}

const CONSENT_INTERVAL_MS = 5000;

function keepConsent(connection: IceInternals): void {
  const tick = async () => {
    if (connection.state === 'closed') return;
    for (const key of connection.nominatedKeys) {
      const pair = connection.nominated[Number(key)];
      if (!pair) continue;
      const request = connection.buildRequest(pair, false);
      await pair.protocol
        .request(request, pair.remoteAddr, Buffer.from(connection.remotePassword, 'utf8'), 0)
        .catch(() => undefined);
    }
    setTimeout(() => void tick(), CONSENT_INTERVAL_MS * (0.8 + 0.4 * Math.random())).unref();
  };
  setTimeout(() => void tick(), CONSENT_INTERVAL_MS * (0.8 + 0.4 * Math.random())).unref();
}

interface NackInternals {
  _lost: Record<number, number>;
  nackLoop: NodeJS.Timeout | undefined;
  closed: boolean;
  sendNack(): Promise<unknown>;
}

const NACK_INTERVAL_MS = 20;
let applied = false;

export function applyWeriftFixes(): void {
  if (applied) return;
  applied = true;
  const ice = Connection.prototype as unknown as { connect(this: IceInternals): Promise<void> };
  const connect = ice.connect;
  ice.connect = async function connectKeepingConsent(this: IceInternals) {
    await connect.call(this);
    if (this.remoteIsLite) keepConsent(this);
  };
  const proto = NackHandler.prototype as unknown as {
    setLost(this: NackInternals, seq: number, count: number): void;
  };
  proto.setLost = function setLost(this: NackInternals, seq: number, count: number) {
    this._lost[seq] = count;
    if (this.nackLoop || this.closed) return;
    this.nackLoop = setInterval(() => {
      if (this.closed || Object.keys(this._lost).length === 0) {
        clearInterval(this.nackLoop);
        this.nackLoop = undefined;
        return;
      }
      this.sendNack().catch(() => undefined);
    }, NACK_INTERVAL_MS);
  };
}
