import { describe, expect, it } from 'vitest';
import { recordsToDelete } from '../../local/sqs-poller.js';
import { sqsRecord } from '../support/events.js';

describe('recordsToDelete: what Lambda deletes after a batch', () => {
  const records = [
    sqsRecord('a', { messageId: 'm1' }),
    sqsRecord('b', { messageId: 'm2' }),
    sqsRecord('c', { messageId: 'm3' }),
  ];
  const ids = (deleted: { messageId: string }[]) => deleted.map((record) => record.messageId);

  it('deletes all records when the handler reports no failures', () => {
    expect(ids(recordsToDelete(records, { batchItemFailures: [] }))).toEqual(['m1', 'm2', 'm3']);
  });

  it('keeps the reported failures on the queue', () => {
    expect(ids(recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: 'm2' }] }))).toEqual(['m1', 'm3']);
  });

  it('keeps the whole batch when the response names an unknown or empty id, or is malformed', () => {
    expect(recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: 'other' }] })).toEqual([]);
    expect(recordsToDelete(records, { batchItemFailures: [{ itemIdentifier: '' }] })).toEqual([]);
    expect(recordsToDelete(records, { nothing: true })).toEqual([]);
  });
});
