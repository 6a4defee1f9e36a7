import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from '../exports/blob-store.js';

export class S3BlobStore implements BlobStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}
  async put(key: string, body: string, contentType: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }
  locate(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}
