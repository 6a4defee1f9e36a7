/**
 * Well-formed Unicode: strings whose every UTF-16 surrogate is half of a pair. A lone
 * surrogate has no UTF-8 encoding, so it cannot travel in what the service hands to AWS
 * (the SDK's encodeURIComponent throws on it in SNS message attributes; DynamoDB, SQS and
 * S3 take UTF-8) nor be told apart from U+FFFD once encoded (Node's UTF-8 encoder
 * replaces it, so "a\ud800" and "a\ufffd" would hash to the same key).
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

export const isWellFormedUnicode = (text: string): boolean => !LONE_SURROGATE.test(text);

/** The same text with each lone surrogate replaced by U+FFFD (String.prototype.toWellFormed, ES2024). */
export const toWellFormedUnicode = (text: string): string => text.replace(/\p{Surrogate}/gu, '\uFFFD');

const describePath = (path: readonly (string | number)[]): string =>
  path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${key}` : key),
    '',
  ) || 'body';

/**
 * Which string of a parsed JSON body is not well-formed Unicode, e.g. "`attributes[0].external_id`"
 * or "a key of `attributes[0]`"; undefined if every string (value or key) is. Iterative.
 */
export const firstMalformedString = (value: unknown): string | undefined => {
  const pending: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value: current, path } = next;
    if (typeof current === 'string') {
      if (!isWellFormedUnicode(current)) return `\`${describePath(path)}\``;
    } else if (Array.isArray(current)) {
      for (const [index, item] of current.entries()) pending.push({ value: item, path: [...path, index] });
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, item] of Object.entries(current)) {
        if (!isWellFormedUnicode(key)) return `a key of \`${describePath(path)}\``;
        pending.push({ value: item, path: [...path, key] });
      }
    }
  }
  return undefined;
};
