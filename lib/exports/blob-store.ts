/** Where audience exports are written: S3 in AWS, a local folder on the local stack. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface BlobStore {
  put(key: string, body: string, contentType: string): Promise<void>;
  /** Where a key (or a prefix) can be found, as a URI a person or a sender can use. */
  locate(key: string): string;
}

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
