/**
 * Builds the console (console/, Vite + Preact) into dist/console, where the local stack
 * serves it from and scripts/build.ts copies it into the api function's bundle. `npm start`
 * builds it when it is missing or older than its sources, so a fresh clone serves it.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const CONSOLE_SOURCES = resolve('console');
export const CONSOLE_DIST = resolve('dist/console');

/** Builds the console into `outDir` (default dist/console); returns that folder. */
export const buildConsole = async (outDir = CONSOLE_DIST): Promise<string> => {
  const { build } = await import('vite');
  await build({
    configFile: join(CONSOLE_SOURCES, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
};

const newestSource = async (folder: string): Promise<number> => {
  let newest = 0;
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestSource(path) : (await stat(path)).mtimeMs);
  }
  return newest;
};

/** Whether dist/console is missing or older than a file of console/. */
export const consoleIsStale = async (outDir = CONSOLE_DIST): Promise<boolean> => {
  const built = await stat(join(outDir, 'index.html')).catch(() => undefined);
  return !built || (await newestSource(CONSOLE_SOURCES)) > built.mtimeMs;
};

export const ensureConsoleBuilt = async (outDir = CONSOLE_DIST): Promise<'built' | 'up to date'> => {
  if (!(await consoleIsStale(outDir))) return 'up to date';
  await buildConsole(outDir);
  return 'built';
};
