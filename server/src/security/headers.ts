// Security headers for everything the server answers (@fastify/helmet), with a strict
// Content Security Policy the web app runs under: scripts only from this origin plus the
// app shell's own inline bootstrap script, allowed by its hash (computed here from the
// built file, so a rebuild needs no configuration).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';

/** 'sha256-…' sources of every inline <script> of an HTML file. */
export function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = [];
  for (const match of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)) {
    const body = match[1] ?? '';
    hashes.push(`'sha256-${createHash('sha256').update(body).digest('base64')}'`);
  }
  return hashes;
}

export interface SecurityHeadersOptions {
  /** The built web app (its 200.html shell holds the inline bootstrap script). */
  webDir: string;
  /** Origins whose pages may show ours in an iframe (embed mode); empty: no one may. */
  embedOrigins?: string[];
}

export function contentSecurityPolicy({
  webDir,
  embedOrigins = [],
}: SecurityHeadersOptions): Record<string, string[]> {
  const shell = join(webDir, '200.html');
  const scriptHashes = existsSync(shell) ? inlineScriptHashes(readFileSync(shell, 'utf8')) : [];
  return {
    'default-src': ["'self'"],
    'script-src': ["'self'", ...scriptHashes],
    // Svelte sets element styles (style attributes and transitions).
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:', 'blob:'],
    'media-src': ["'self'", 'blob:'],
    // The signaling websocket and the API are same-origin ('self' covers ws/wss in CSP 3).
    'connect-src': ["'self'"],
    'font-src': ["'self'"],
    'worker-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': embedOrigins.length > 0 ? ["'self'", ...embedOrigins] : ["'none'"],
  };
}

export async function registerSecurityHeaders(
  app: FastifyInstance,
  options: SecurityHeadersOptions,
): Promise<void> {
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: contentSecurityPolicy(options) },
    // Cross-origin isolation would block nothing we load but is not needed; keep the
    // defaults otherwise (nosniff, frameguard, referrer policy, HSTS under https, …).
    crossOriginEmbedderPolicy: false,
    // X-Frame-Options cannot name origins: with embedding allowed, frame-ancestors alone
    // decides (every current browser honours it over X-Frame-Options anyway).
    ...((options.embedOrigins?.length ?? 0) > 0 ? { frameguard: false } : {}),
  });
}
