import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MAX_IDENTIFIERS_PER_REQUEST,
  MAX_IDENTIFIER_LENGTH,
  PARTNER_MESSAGES,
  validateCohortChangesRequest,
  validateNameCohortRequest,
} from '../../lib/contract/partner.js';
import { ValidationError } from '../../lib/errors.js';
import cohortChanges from '../fixtures/cohort-changes.json' with { type: 'json' };
import nameCohort from '../fixtures/name-cohort.json' with { type: 'json' };

const rejection = (validate: () => unknown): ValidationError => {
  try {
    validate();
  } catch (error: unknown) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError');
};

describe('POST /partners/{partner}/cohorts/users', () => {
  it('accepts the contract sample, with should_remove defaulting to an add', () => {
    const request = validateCohortChangesRequest(cohortChanges);
    expect(request.cohort_changes).toHaveLength(2);
    expect(request.cohort_changes[0]?.should_remove).toBeUndefined();
  });

  it('accepts cohort_changes: [] (how partners test credentials)', () => {
    expect(validateCohortChangesRequest({ ...cohortChanges, cohort_changes: [] }).cohort_changes).toEqual([]);
  });

  it.each([
    ['missing', undefined],
    ['a number', 42],
    ['empty', ''],
    ['over 200 characters', 'c'.repeat(201)],
  ])('rejects a cohort_id that is %s', (_case, cohortId) => {
    const error = rejection(() => validateCohortChangesRequest({ ...cohortChanges, cohort_id: cohortId }));
    expect(error.statusCode).toBe(400);
    expect(error.message).toBe(PARTNER_MESSAGES.cohortId);
    expect(error.errors[0]).toMatch(/^cohort_id: /);
  });

  it.each([
    ['not an array', { a: 1 }, 'cohort_changes: must be an array'],
    ['an array of strings', ['ext-1'], 'cohort_changes[0]: must be an object'],
    [
      'a change without identifiers',
      [{ should_remove: true }],
      'cohort_changes[0]: must have `user_ids`, `device_ids` or `aliases`',
    ],
    ['user_ids of numbers', [{ user_ids: [1] }], 'cohort_changes[0].user_ids[0]: must be a string'],
    ['user_ids not an array', [{ user_ids: 'ext-1' }], 'cohort_changes[0].user_ids: must be an array of strings'],
    ['an empty identifier', [{ device_ids: [''] }], 'cohort_changes[0].device_ids[0]: must be a non-empty string'],
    [
      'an over-long identifier',
      [{ user_ids: ['x'.repeat(MAX_IDENTIFIER_LENGTH + 1)] }],
      `cohort_changes[0].user_ids[0]: must be at most ${MAX_IDENTIFIER_LENGTH} characters`,
    ],
    [
      'an alias without its label',
      [{ aliases: [{ alias_name: 'a@b.io' }] }],
      'cohort_changes[0].aliases[0].alias_label: must be a string',
    ],
    [
      'an alias that is a string',
      [{ aliases: ['a@b.io'] }],
      'cohort_changes[0].aliases[0]: must be an object with `alias_name` and `alias_label`',
    ],
    [
      'should_remove as a string',
      [{ user_ids: ['a'], should_remove: 'yes' }],
      'cohort_changes[0].should_remove: must be a boolean',
    ],
    ['null', null, 'cohort_changes: must be an array'],
  ])('rejects cohort_changes that are %s', (_case, changes, detail) => {
    const error = rejection(() => validateCohortChangesRequest({ ...cohortChanges, cohort_changes: changes }));
    expect(error.message).toBe(PARTNER_MESSAGES.cohortChanges);
    expect(error.errors).toContain(detail);
  });

  it('accepts exactly 1,000 identifiers across user_ids, device_ids and aliases, and rejects 1,001', () => {
    const change = (count: number) => ({
      user_ids: Array.from({ length: count - 500 }, (_, index) => `u${index}`),
      device_ids: Array.from({ length: 300 }, (_, index) => `d${index}`),
      aliases: Array.from({ length: 200 }, (_, index) => ({ alias_name: `a${index}`, alias_label: 'email' })),
    });
    expect(() =>
      validateCohortChangesRequest({ ...cohortChanges, cohort_changes: [change(MAX_IDENTIFIERS_PER_REQUEST)] }),
    ).not.toThrow();
    const error = rejection(() =>
      validateCohortChangesRequest({ ...cohortChanges, cohort_changes: [change(MAX_IDENTIFIERS_PER_REQUEST + 1)] }),
    );
    expect(error.message).toBe(PARTNER_MESSAGES.tooManyIdentifiers);
    expect(error.message).toBe('Only 1,000 `user_ids`, `device_ids`, and `aliases` are allowed per request');
  });

  it('names the first failing field in contract order when several fail', () => {
    const error = rejection(() =>
      validateCohortChangesRequest({ ...cohortChanges, cohort_id: 1, cohort_changes: 'x' }),
    );
    expect(error.message).toBe(PARTNER_MESSAGES.cohortId);
  });

  const contractMessages = new Set<string>([
    PARTNER_MESSAGES.cohortId,
    PARTNER_MESSAGES.cohortChanges,
    PARTNER_MESSAGES.tooManyIdentifiers,
  ]);

  it('never throws anything but a contract ValidationError, whatever the body', () => {
    // Prepare: counted, so that a validator that accepted everything (or threw nothing) fails here.
    let accepted = 0;
    let rejected = 0;

    // Act
    fc.assert(
      fc.property(
        fc.record(
          {
            cohort_id: fc.oneof(fc.string(), fc.anything()),
            cohort_changes: fc.oneof(fc.anything(), fc.array(fc.anything())),
          },
          { requiredKeys: [] },
        ),
        (body) => {
          let outcome: { request: unknown } | { error: unknown };
          try {
            outcome = { request: validateCohortChangesRequest({ partner_api_key: 'k', client_secret: 's', ...body }) };
          } catch (error: unknown) {
            outcome = { error };
          }
          // Assess: either the parsed request, or a ValidationError with a contract message.
          if ('request' in outcome) {
            accepted += 1;
            expect(outcome.request).toMatchObject({ cohort_id: expect.any(String), cohort_changes: expect.any(Array) });
          } else {
            rejected += 1;
            expect(outcome.error).toBeInstanceOf(ValidationError);
            expect(contractMessages).toContain((outcome.error as ValidationError).message);
          }
        },
      ),
      { numRuns: 500 },
    );

    // Assess: both kinds of outcome were exercised.
    expect(rejected).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
  });

  it('rejects every body whose cohort_changes is not an array, with a contract message', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.anything()),
        fc.anything().filter((value) => !Array.isArray(value)),
        (cohortId, changes) => {
          // Act
          const error = rejection(() =>
            validateCohortChangesRequest({
              partner_api_key: 'k',
              client_secret: 's',
              cohort_id: cohortId,
              cohort_changes: changes,
            }),
          );

          // Assess
          expect(contractMessages).toContain(error.message);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('POST /partners/{partner}/cohorts', () => {
  it('accepts the contract sample', () => {
    expect(validateNameCohortRequest(nameCohort)).toMatchObject({ cohort_id: 'cohort-1', name: 'Abandoned funnel' });
  });

  it.each([
    ['cohort_id', { cohort_id: '' }, PARTNER_MESSAGES.cohortId],
    ['name (empty)', { name: '' }, PARTNER_MESSAGES.name],
    ['name (blank)', { name: '   ' }, PARTNER_MESSAGES.name],
    ['name (missing)', { name: undefined }, PARTNER_MESSAGES.name],
    ['created_at (not a time)', { created_at: 'yesterday' }, PARTNER_MESSAGES.createdAt],
    ['created_at (no offset)', { created_at: '2021-01-21T19:20:30' }, PARTNER_MESSAGES.createdAt],
    ['created_at (a number)', { created_at: 1611242430 }, PARTNER_MESSAGES.createdAt],
    ['created_at (missing: the README says it is required)', { created_at: undefined }, PARTNER_MESSAGES.createdAt],
  ])('rejects a bad %s with the contract message', (_case, override, message) => {
    const error = rejection(() => validateNameCohortRequest({ ...nameCohort, ...override }));
    expect(error.statusCode).toBe(400);
    expect(error.message).toBe(message);
  });

  it('accepts UTC times', () => {
    expect(() => validateNameCohortRequest({ ...nameCohort, created_at: '2021-01-21T14:20:30Z' })).not.toThrow();
  });

  it('keeps the contract messages verbatim', () => {
    expect(PARTNER_MESSAGES).toMatchObject({
      cohortId: '`cohort_id` must be a valid string',
      cohortChanges:
        '`cohort_changes` must be an array of objects each with key `user_ids` and/or `device_ids` mapping to an array of strings, or an `aliases` object',
      name: '`name` must be a non-empty string',
      createdAt: '`created_at` must be a valid time as an ISO-8601 string',
      invalidPartnerKey: 'Invalid Partner API key',
      invalidClientSecret: 'Invalid client secret',
    });
    expect(PARTNER_MESSAGES.partnerNotEnabled('abc')).toBe('Partner not enabled for client with client secret: abc');
  });
});
