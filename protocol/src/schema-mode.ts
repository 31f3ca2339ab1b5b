// How zod runs the schemas here. In a browser they are interpreted, not compiled: zod's
// fast path builds parsers with `new Function`, and probes for it as each object schema is
// made, which the app's Content Security Policy (no 'unsafe-eval') forbids and reports. On
// the server the compiled fast path stays. index.ts imports this module first, so that the
// setting is made before any schema is.
import { z } from 'zod';

if ('window' in globalThis && 'document' in globalThis) z.config({ jitless: true });
