// First: how schemas run in this environment, before any schema is made.
import './schema-mode.js';
export * from './names.js';
export * from './rtp.js';
export * from './signaling.js';
export * from './chat.js';
export * from './text.js';
export * from './hosts.js';
export * from './adaptation.js';
export * from './api.js';
