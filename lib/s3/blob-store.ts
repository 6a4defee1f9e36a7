import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from '../segments/ports.js';

/**
 * Exports in S3. The client can be given, or created on the first write: S3's client is
 * the largest of the SDK clients here (~180 KiB with its checksums and middleware), and
 * the api function writes only on its export routes, so it loads it there and not at
 * cold start.
 */
export class S3BlobStore implements BlobStore {
  private client: Promise<S3Client> | undefined;

  constructor(
    private readonly clientOrFactory: S3Client | (() => Promise<S3Client>),
    private readonly bucket: string,
  ) {}

  async put(key: string, body: string, contentType: string): Promise<void> {
    const [client, { PutObjectCommand }] = await Promise.all([this.resolveClient(), import('@aws-sdk/client-s3')]);
    await client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  async get(key: string): Promise<string | undefined> {
    const [client, { GetObjectCommand, NoSuchKey }] = await Promise.all([
      this.resolveClient(),
      import('@aws-sdk/client-s3'),
    ]);
    try {
      const object = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await object.Body?.transformToString('utf-8');
    } catch (error: unknown) {
      if (error instanceof NoSuchKey) return undefined;
      throw error;
    }
  }

  locate(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  private resolveClient(): Promise<S3Client> {
    const factory = this.clientOrFactory;
    this.client ??= (typeof factory === 'function' ? factory() : Promise.resolve(factory)).catch((error: unknown) => {
      // A failed load is not kept: the next write tries again.
      this.client = undefined;
      throw error;
    });
    return this.client;
  }
}
