/**
 * The console's files (dist/console, built by Vite), served by the api function from the
 * same origin as the API they call: `/` is the page, `/assets/<file>` what it loads.
 * Only names Vite writes are served (no path walks out of the folder); hashed asset names
 * are cached for a year, the page is revalidated each time so a deploy shows at once.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { JsonResponse } from './api.js';

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

/** Where the console's files come from (a folder here and in the Lambda bundle; a test may give a map). */
export interface StaticSite {
  get(name: string): Promise<StaticFile | undefined>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/** A file name Vite writes into assets/ (`index-B6NHWTOf.js`): nothing else, no separators, no dot-dot. */
const ASSET_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.[a-z0-9]+$/;

export const isAssetName = (name: string): boolean => ASSET_NAME.test(name) && !name.includes('..');

export const folderSite = (root: string): StaticSite => {
  // A handful of small files, read once per instance. Only files that exist stay cached: any
  // well-formed asset name may be asked for, so remembered misses would grow without bound.
  const cache = new Map<string, Promise<StaticFile | undefined>>();
  return {
    get: (name) => {
      let file = cache.get(name);
      if (!file) {
        const extension = name.slice(name.lastIndexOf('.'));
        file = readFile(join(root, name)).then(
          (body) => ({ body, contentType: CONTENT_TYPES[extension] ?? 'application/octet-stream' }),
          () => {
            cache.delete(name);
            return undefined;
          },
        );
        cache.set(name, file);
      }
      return file;
    },
  };
};

const gzipped = new WeakMap<Buffer, Buffer>();
const COMPRESSIBLE = /^(text\/|image\/svg|application\/json)/;

/**
 * The file as an HTTP answer: gzip-compressed when the client takes it (API Gateway's HTTP
 * API does not compress), `immutable` for content-hashed assets.
 */
export const staticResponse = (
  file: StaticFile,
  options: { acceptEncoding?: string; immutable: boolean },
): JsonResponse => {
  const headers: Record<string, string> = {
    'content-type': file.contentType,
    'cache-control': options.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    vary: 'accept-encoding',
  };
  let body = file.body;
  if (COMPRESSIBLE.test(file.contentType) && /\bgzip\b/.test(options.acceptEncoding ?? '')) {
    let compressed = gzipped.get(file.body);
    if (!compressed) gzipped.set(file.body, (compressed = gzipSync(file.body, { level: 9 })));
    body = compressed;
    headers['content-encoding'] = 'gzip';
  }
  return { statusCode: 200, body: undefined, headers, raw: { body: body.toString('base64'), isBase64Encoded: true } };
};
