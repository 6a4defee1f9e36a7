/** Exports in a folder: the local stack's stand-in for S3 (lib/s3/blob-store.ts), behind the same port. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BlobStore } from '../lib/segments/ports.js';

export class FileBlobStore implements BlobStore {
  private readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }
  async put(key: string, body: string): Promise<void> {
    const path = join(this.root, key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
  }
  async get(key: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.root, key), 'utf8');
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
  locate(key: string): string {
    return pathToFileURL(join(this.root, key)).href;
  }
}
