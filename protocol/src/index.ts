export * from './names.js';
export * from './rtp.js';
export * from './signaling.js';
export * from './chat.js';
export * from './text.js';
