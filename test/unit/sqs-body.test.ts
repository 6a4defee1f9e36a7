import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { toSqsBody } from '../../lib/sqs/cohort-queue.js';
import { attributeValueProblem } from '../../lib/users/requests.js';

/** SQS: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD (| #x10000–#x10FFFF on AWS, not on every emulator). */
const STRICT_SQS = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD]*$/;

describe('toSqsBody', () => {
  it('produces only characters every SQS accepts, and round-trips through JSON.parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, text) => {
        const message = { value, text };
        const body = toSqsBody(message);
        expect(STRICT_SQS.test(body)).toBe(true);
        expect(JSON.parse(body)).toEqual(JSON.parse(JSON.stringify(message)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('escapes emoji as a surrogate pair', () => {
    expect(toSqsBody({ id: '💥' })).toBe('{"id":"\\ud83d\\udca5"}');
  });
});

describe('attributeValueProblem: what DynamoDB can store', () => {
  it.each([
    ['a string', 'pro', undefined],
    ['null', null, undefined],
    ['zero', 0, undefined],
    ['a nested object', { a: [1, 'x', { b: true }] }, undefined],
    ['a denormal number', -5e-324, 'number -5e-324 is out of range (magnitude 1e-130 to 1e126, or 0)'],
    ['a huge number', 1e200, 'number 1e+200 is out of range (magnitude 1e-130 to 1e126, or 0)'],
    [
      'an unsafe integer',
      2 ** 53,
      'integer 9007199254740992 is beyond 2^53 and would lose precision: send it as a string',
    ],
    ['deep nesting', [[[[[[1]]]]]], 'nested deeper than 5 levels'],
  ])('%s', (_case, value, problem) => {
    expect(attributeValueProblem(value)).toBe(problem);
  });
});
