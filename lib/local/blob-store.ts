/** Exports in a folder: the local stack's stand-in for S3 (lib/s3/blob-store.ts), behind the same port. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BlobStore } from '../segments/ports.js';

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
  locate(key: string): string {
    return pathToFileURL(join(this.root, key)).href;
  }
}
