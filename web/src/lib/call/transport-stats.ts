// The selected ICE candidate pair of a media transport, from its getStats() report, in
// Chromium (the transport entry names the pair) and Firefox (the nominated, succeeded pair).
// Read through window.__meet.transportStats by the end-to-end tests, for diagnostics.

export interface SelectedPair {
  /** Candidate types (host, srflx, prflx, relay) of this browser's and the server's side. */
  local: string | null;
  remote: string | null;
  state: string | null;
  /** For a relay candidate: how this browser reaches the TURN server (udp, tcp, tls). */
  relayProtocol: string | null;
  /** IP addresses of the two candidates. */
  localAddress: string | null;
  remoteAddress: string | null;
}

export function selectedPair(entries: Array<Record<string, unknown>>): SelectedPair {
  const pairId = entries.find((e) => e.type === 'transport')?.selectedCandidatePairId;
  const pair = entries.find(
    (e) => e.type === 'candidate-pair' && (pairId ? e.id === pairId : e.nominated && e.state === 'succeeded'),
  );
  const entry = (id: unknown) => (id === undefined ? undefined : entries.find((e) => e.id === id));
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const local = entry(pair?.localCandidateId);
  const remote = entry(pair?.remoteCandidateId);
  return {
    local: text(local?.candidateType),
    remote: text(remote?.candidateType),
    state: text(pair?.state),
    relayProtocol: text(local?.relayProtocol),
    localAddress: text(local?.address ?? local?.ip),
    remoteAddress: text(remote?.address ?? remote?.ip),
  };
}
