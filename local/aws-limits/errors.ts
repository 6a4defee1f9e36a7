/**
 * The errors the AWS limits model raises, as the SDK raises AWS's own: throttles (with AWS's
 * ThrottlingReasons), transaction conflicts and cancellations, and how a failure is told
 * apart (a failed condition is still billed). Part of the AWS limits model (local/aws-limits.ts).
 */
import {
  ProvisionedThroughputExceededException,
  ThrottlingException,
  TransactionCanceledException,
  TransactionConflictException,
  type CancellationReason,
} from '@aws-sdk/client-dynamodb';

/** Why a charge was refused: AWS's ThrottlingReason and the resource it names. */
export interface Refusal {
  reason: string;
  resource: string;
  /** A table (or index) quota rather than a partition. */
  quota: boolean;
}

const awsError = { $metadata: { httpStatusCode: 400 } };
/** AWS's messages, as the TransactWriteItems reference lists them for ThrottlingError and TransactionConflict. */
const throttleMessage =
  'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. ' +
  'If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html';
const conflictMessage = 'Transaction is ongoing for the item.';
/** [tx] A single write to an item an ongoing transaction holds. */
export const transactionConflict = () => new TransactionConflictException({ ...awsError, message: conflictMessage });
export const conflictReason = { Code: 'TransactionConflict', Message: conflictMessage };
export const throttledReason = { Code: 'ThrottlingError', Message: throttleMessage };
/** [throttling] The SDK's exceptions, with AWS's ThrottlingReasons (Table|Index, Read|Write, KeyRange…|AccountLimit…). */
export const throttleError = (refusal: Refusal) => {
  const reasons = [{ reason: refusal.reason, resource: refusal.resource }];
  return refusal.quota
    ? new ThrottlingException({ ...awsError, message: throttleMessage, throttlingReasons: reasons })
    : new ProvisionedThroughputExceededException({ ...awsError, message: throttleMessage, ThrottlingReasons: reasons });
};

export const transactionCanceled = (reasons: CancellationReason[]) =>
  new TransactionCanceledException({
    ...awsError,
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(', ')}]`,
    CancellationReasons: reasons,
  });

export const errorName = (error: unknown) => (error instanceof Error ? error.name : 'Error');

/** [conditional] A write whose condition evaluates to false still consumes write capacity; other failures cost nothing here. */
export const conditionFailed = (error: unknown) =>
  errorName(error) === 'ConditionalCheckFailedException' ||
  (error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed'));
