/**
 * The console: a single-page app served by the api function from the same origin as the
 * REST API it calls (functions/api/app.ts, lib/http/static-site.ts). Built into
 * dist/console by `npm run build` (scripts/console.ts) and by `npm start` when missing.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  // Preact's automatic JSX runtime (Vite 8 compiles TSX with Oxc).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    // Every asset is a file of its own: the CSP allows scripts, styles and images from 'self' only, no data: URLs.
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: true,
  },
});
