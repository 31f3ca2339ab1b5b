// Why a media connection (one mediasoup-client transport: ICE, then DTLS) is not working,
// in words for the person in the call and for whoever runs the server. Pure: the inputs are
// the transport's state, its getStats() entries and what the server told us about itself.

export type MediaProblemKind =
  /** No network path: the browser could not reach the server's media address (ICE). */
  | 'ice'
  /** A network path was found, but the encrypted session (DTLS) was not established. */
  | 'dtls'
  /** The connection worked and then stopped (no answers from the server any more). */
  | 'lost'
  /** The browser found no local network address to send from. */
  | 'no-candidates';

export interface MediaProblem {
  kind: MediaProblemKind;
  /** Failed for good (the browser gave up) or only taking too long so far. */
  final: boolean;
  title: string;
  /** What failed. */
  detail: string;
  /** What to check, most likely first. */
  hints: string[];
}

/** The server's media address as announced in its ICE candidates. */
export interface ServerCandidate {
  address: string;
  port: number;
  protocol: 'udp' | 'tcp';
}

export interface DiagnosisInput {
  /** The transport's connection state (RTCPeerConnection.connectionState). */
  state: 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';
  /** Entries of the transport's getStats() report (empty when they could not be read). */
  stats: Array<Record<string, unknown>>;
  candidates: ServerCandidate[];
  /** A TURN server was configured for this transport. */
  turn: boolean;
  /** The transport was connected before (this is a lost connection, not a first one). */
  wasConnected: boolean;
  /** How long the connection has been trying, in seconds (for "taking too long"). */
  waitedSeconds: number;
}

/** "198.51.100.7 port 40000 (UDP, TCP)" for each distinct address and port. */
export function describeCandidates(candidates: ServerCandidate[]): string {
  const byEndpoint = new Map<string, Set<string>>();
  for (const { address, port, protocol } of candidates) {
    const endpoint = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    const protocols = byEndpoint.get(endpoint) ?? new Set<string>();
    protocols.add(protocol.toUpperCase());
    byEndpoint.set(endpoint, protocols);
  }
  if (byEndpoint.size === 0) return 'the media server';
  return [...byEndpoint]
    .map(([endpoint, protocols]) => `${endpoint} (${[...protocols].sort().reverse().join(' or ')})`)
    .join(', ');
}

function classify(input: DiagnosisInput): MediaProblemKind {
  const { stats, state } = input;
  const transport = stats.find((e) => e.type === 'transport');
  const dtlsState = transport?.dtlsState;
  const iceState = transport?.iceState;
  // A working network path: Chromium names the selected pair; Firefox has a succeeded pair.
  const pairFound =
    Boolean(transport?.selectedCandidatePairId) ||
    iceState === 'connected' ||
    iceState === 'completed' ||
    stats.some((e) => e.type === 'candidate-pair' && e.state === 'succeeded');
  if (input.wasConnected || state === 'disconnected') return 'lost';
  // DTLS runs over the path ICE found: without one, a failed DTLS state (Firefox reports
  // that when ICE fails) says nothing about DTLS itself.
  if (pairFound && dtlsState !== 'connected') return 'dtls';
  if (stats.length > 0 && !stats.some((e) => e.type === 'local-candidate')) return 'no-candidates';
  return 'ice';
}

export function diagnose(input: DiagnosisInput): MediaProblem {
  const kind = classify(input);
  const final = input.state === 'failed';
  const where = describeCandidates(input.candidates);
  const addresses = [...new Set(input.candidates.map((c) => c.address))].join(', ') || 'not known';
  const ports = [...new Set(input.candidates.map((c) => c.port))].sort((a, b) => a - b);
  const portText = ports.length ? `port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}` : 'media ports';
  const operator = `If you run this server: RTC_ANNOUNCED_ADDRESS (now ${addresses}) must be an address that browsers can reach, and UDP and TCP ${portText} must be open in its firewall.`;
  const turnHint = input.turn
    ? 'A TURN server is configured but did not get media through either: check that it is reachable (TURN_URLS) and running.'
    : 'On networks that block UDP, a TURN server (TURN_URLS) lets media through.';
  const title = final
    ? 'Media connection failed'
    : kind === 'lost'
      ? 'Media connection interrupted'
      : 'Media is not connecting';
  switch (kind) {
    case 'dtls':
      return {
        kind,
        final,
        title,
        detail: `Your browser reached the media server at ${where}, but the secure media session (DTLS) could not be established${final ? '' : ` after ${input.waitedSeconds} s`}.`,
        hints: [
          'Something between you and the server (a proxy, VPN or firewall inspecting traffic) may be altering the media packets: try another network.',
          'If you run this server: its log shows the DTLS error; the media server must be built with a working OpenSSL.',
        ],
      };
    case 'lost':
      return {
        kind,
        final,
        title,
        detail: `The media server at ${where} stopped answering; video and sound are paused.`,
        hints: [
          'Check your network connection (Wi-Fi, VPN, a network change).',
          `A firewall may have closed the way to ${where}.`,
          operator,
        ],
      };
    case 'no-candidates':
      return {
        kind,
        final,
        title,
        detail: 'Your browser found no network address to send video and sound from.',
        hints: [
          'Check that you are connected to a network.',
          'A browser setting or extension may restrict WebRTC (for example "disable non-proxied UDP"): allow it for this site.',
        ],
      };
    case 'ice':
      return {
        kind,
        final,
        title,
        detail: `Your browser could not reach the media server at ${where}${final ? '' : ` (still trying after ${input.waitedSeconds} s)`}, so video and sound cannot flow.`,
        hints: [`Check that your network and firewall allow connections to ${where}.`, operator, turnHint],
      };
  }
}
