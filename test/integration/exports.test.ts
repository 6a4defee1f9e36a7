/**
 * Audience exports: NDJSON a campaign sender consumes, written in parts that continue
 * from a cursor (so a long export survives a function timeout), to a local folder on the
 * local stack and to S3 in AWS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { LocalStack } from '../../local/stack.js';
import { runExportChunk, startExport } from '../../lib/segments/export.js';
import { DynamoExportStore } from '../../lib/dynamodb/export-store.js';
import { DynamoSegmentStore } from '../../lib/dynamodb/segment-store.js';
import { FileBlobStore } from '../../local/blob-store.js';
import { S3BlobStore } from '../../lib/s3/blob-store.js';
import { SqsExportQueue } from '../../lib/sqs/export-queue.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants.js';
import { eventually, startTestStack } from '../support/stack.js';
import { partnerClient, workspaceClient } from '../support/client.js';

let stack: LocalStack;
let workspace: ReturnType<typeof workspaceClient>;
const USERS = Array.from({ length: 30 }, (_, index) => `user-${String(index).padStart(2, '0')}`);

const readLines = async (uri: string): Promise<Record<string, unknown>[]> =>
  (await readFile(fileURLToPath(uri), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  stack = await startTestStack({ exportsFolder: await mkdtemp(join(tmpdir(), 'exports-')) });
  workspace = workspaceClient(stack);
  await workspace.track(USERS.map((externalId) => ({ external_id: externalId })));
  await partnerClient(stack).changeCohort('big', [{ user_ids: USERS }]);
  await eventually(async () =>
    (await workspace.cohort('heap', 'big')).body.cohort?.member_count === USERS.length ? true : undefined,
  );
});
afterAll(() => stack?.stop());

describe('segment exports', () => {
  it('writes the audience as NDJSON to a local folder and says where, with the count', async () => {
    // Prepare
    const segment = (
      await workspace.createSegment({
        name: 'big',
        filter: { cohort: { partner: 'heap', cohort_id: 'big', includes: true } },
      })
    ).body.segment;

    // Act
    const started = await workspace.exportSegment(segment.segment_id);

    // Assess
    expect(started.status).toBe(201);
    const done = started.body.export;
    expect(done).toMatchObject({ status: 'done', users_written: USERS.length, parts: 1 });
    expect(done.location).toMatch(/^file:\/\//);
    const manifest = JSON.parse(await readFile(fileURLToPath(done.manifest!), 'utf8')) as {
      users: number;
      parts: string[];
    };
    expect(manifest.users).toBe(USERS.length);
    const lines = (await Promise.all(manifest.parts.map(readLines))).flat();
    expect(lines.map((line) => line.external_id).sort()).toEqual(USERS);
    expect(lines[0]).toEqual({
      braze_id: expect.any(String),
      external_id: expect.any(String),
      user_aliases: [],
      device_ids: [],
    });
    expect((await workspace.exportStatus(segment.segment_id, done.export_id)).body.export).toMatchObject({
      status: 'done',
    });
  });

  it('continues a long export from its cursor, part after part, through the export queue', async () => {
    // Prepare: an export whose first chunk stops after 7 users, as if out of time.
    const segments = new DynamoSegmentStore(stack.clients.documents, stack.tables.cohorts);
    const segment = await segments.create(
      stack.workspace.workspaceId,
      { name: 'long', filter: { cohort: { partner: 'heap', cohort_id: 'big', includes: true } } },
      new Date(),
    );
    const ports = {
      memberships: stack.stores.memberships,
      users: stack.stores.users,
      exports: new DynamoExportStore(stack.clients.documents, stack.tables.cohorts),
      blobs: new FileBlobStore(stack.exports.folder),
    };
    const job = await startExport(stack.workspace.workspaceId, segment, ports, new Date());
    const first = await runExportChunk(stack.workspace.workspaceId, job.exportId, ports, {
      maxUsers: 7,
      outOfTime: () => false,
    });
    expect(first.job).toMatchObject({ status: 'running', usersWritten: 7 });

    // Act: two workers run the same next chunk at once (a duplicate delivery); then the
    // export worker takes over from the queue.
    const chunk = () =>
      runExportChunk(stack.workspace.workspaceId, job.exportId, ports, { maxUsers: 7, outOfTime: () => true });
    const racing = await Promise.all([chunk(), chunk()]);
    expect(racing.filter((result) => result.advanced)).toHaveLength(1);
    await new SqsExportQueue(stack.clients.sqs, stack.exports.queues.queueUrl).send({
      v: 1,
      workspaceId: stack.workspace.workspaceId,
      exportId: job.exportId,
    });

    // Assess: every user exactly once across the parts, in braze_id order.
    const done = await eventually(async () => {
      const status = await workspace.exportStatus(segment.segmentId, job.exportId);
      return status.body.export?.status === 'done' ? status.body.export : undefined;
    });
    expect(done.users_written).toBe(USERS.length);
    expect(done.parts).toBeGreaterThanOrEqual(3);
    const manifest = JSON.parse(await readFile(fileURLToPath(done.manifest!), 'utf8')) as { parts: string[] };
    const lines = (await Promise.all(manifest.parts.map(readLines))).flat();
    const ids = lines.map((line) => line.braze_id as string);
    expect(new Set(ids).size).toBe(USERS.length);
    expect(ids).toEqual([...ids].sort());
  });

  it('writes to S3 over the real protocol (the AWS adapter, against the local S3 emulator)', async () => {
    const s3 = new S3Client({
      endpoint: inject('sqsEndpoint'),
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      forcePathStyle: true,
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'exports-test' }));
    const blobs = new S3BlobStore(s3, 'exports-test');
    await blobs.put('exports/w/s/e/part-00001.ndjson', '{"braze_id":"x"}\n', 'application/x-ndjson');
    const object = await s3.send(
      new GetObjectCommand({ Bucket: 'exports-test', Key: 'exports/w/s/e/part-00001.ndjson' }),
    );
    expect(await object.Body?.transformToString()).toBe('{"braze_id":"x"}\n');
    expect(blobs.locate('exports/w/s/e/')).toBe('s3://exports-test/exports/w/s/e/');
    // Read back for a download (GET …/download); a key that is not there is undefined, not an error.
    expect(await blobs.get('exports/w/s/e/part-00001.ndjson')).toBe('{"braze_id":"x"}\n');
    expect(await blobs.get('exports/w/s/e/nothing.ndjson')).toBeUndefined();
  });
});
