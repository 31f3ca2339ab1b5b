// Server settings for the benchmarks. They measure what the platform can carry, not its
// per-client limits (docs/security.md), and every benchmark client comes from 127.0.0.1:
// the per-address and per-participant limits are lifted so that they do not cap the load.
export const benchServerLimits: Record<string, string> = {
  IDENTITY_RATE_LIMIT: '1000000',
  UPLOAD_RATE_LIMIT: '1000000',
  MAX_CONNECTIONS_PER_IP: '1000000',
  MAX_CONNECTIONS_PER_IDENTITY: '1000000',
  SIGNALING_RATE: '10000',
  SIGNALING_BURST: '100000',
  CHAT_RATE: '1000',
  CHAT_BURST: '10000',
};
