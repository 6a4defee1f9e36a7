/**
 * Item sizes and read/write units, by AWS's billing rules: pure arithmetic, no clock and no
 * client. Part of the AWS limits model (local/aws-limits.ts, where the [tags] are cited).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

/** [quota] "All size measurements in DynamoDB use binary-based units ... 1 KB = 1024 bytes". */
const KB = 1024;
/** [units] One write unit per 1 KB written, rounded up. */
export const WRITE_UNIT_BYTES = 1 * KB;
/** [units] One (strongly consistent) read unit per 4 KB read, rounded up. */
export const READ_UNIT_BYTES = 4 * KB;

const utf8Bytes = (text: string) => Buffer.byteLength(text, 'utf8');
export const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
/** The SDK hands binaries as bytes; a base64 string (the wire form) is decoded first: [sizes] counts raw bytes. */
const binaryBytes = (value: Uint8Array | string) =>
  typeof value === 'string' ? Buffer.from(value, 'base64').byteLength : value.byteLength;

/** [sizes] "approximately ... (1 byte per two significant digits) + (1 byte)"; leading and trailing zeroes are trimmed. */
export const numberSize = (text: string): number => {
  const mantissa = text.trim().replace(/^[+-]/, '').split(/e/i)[0]!.replace('.', '');
  const significantDigits = mantissa.replace(/^0+/, '').replace(/0+$/, '').length;
  return Math.ceil(significantDigits / 2) + 1;
};

/** [sizes] The size of a value without its name; a list or map costs 3 bytes plus 1 per element. */
export const attributeValueSize = (value: AttributeValue): number => {
  if (value.S !== undefined) return utf8Bytes(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return binaryBytes(value.B);
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return sum(value.SS.map(utf8Bytes));
  if (value.NS !== undefined) return sum(value.NS.map(numberSize));
  if (value.BS !== undefined) return sum(value.BS.map(binaryBytes));
  if (value.L !== undefined) return 3 + sum(value.L.map((element) => attributeValueSize(element) + 1));
  if (value.M !== undefined)
    return 3 + sum(Object.entries(value.M).map(([name, element]) => utf8Bytes(name) + attributeValueSize(element) + 1));
  return 0;
};

/** [sizes] "the sum of the lengths of its attribute names and values". */
export const itemSize = (item: Item): number =>
  sum(Object.entries(item).map(([name, value]) => utf8Bytes(name) + attributeValueSize(value)));

export type ReadConsistency = 'eventual' | 'strong' | 'transactional';
/** [units] Per 4 KB: ½ unit eventually consistent (the default), 1 strongly consistent, 2 transactional. */
const READ_UNITS_PER_4KB: Record<ReadConsistency, number> = { eventual: 0.5, strong: 1, transactional: 2 };

/**
 * [units] One item read by GetItem, by each key of BatchGetItem ("each item in the batch as
 * a separate GetItem request") or by TransactGetItems: its size rounded up to 4 KB; a
 * missing item still costs the minimum.
 */
export const readUnits = (bytes: number, consistency: ReadConsistency): number =>
  Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES)) * READ_UNITS_PER_4KB[consistency];

/** [units] Query and Scan: the sizes of all items read add up first, and only the total is rounded up to 4 KB. */
export const queryReadUnits = (itemBytes: readonly number[], consistency: 'eventual' | 'strong'): number =>
  readUnits(sum(itemBytes), consistency);

/** [units] ⌈size / 1 KB⌉, at least 1; [tx] doubled inside TransactWriteItems (a prepare and a commit write per item). */
export const writeUnits = (bytes: number, transactional = false): number =>
  Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES)) * (transactional ? 2 : 1);
