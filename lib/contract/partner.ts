/**
 * The public partner cohort-import contract (../shared/reference/partner-cohort-api.md):
 * request schemas and the error messages, verbatim.
 */
import * as z from 'zod';
import { ValidationError } from '../errors.js';
import { isWellFormedUnicode } from '../unicode.js';

export const PARTNER_MESSAGES = {
  cohortId: '`cohort_id` must be a valid string',
  cohortChanges:
    '`cohort_changes` must be an array of objects each with key `user_ids` and/or `device_ids` mapping to an array of strings, or an `aliases` object',
  tooManyIdentifiers: 'Only 1,000 `user_ids`, `device_ids`, and `aliases` are allowed per request',
  name: '`name` must be a non-empty string',
  createdAt: '`created_at` must be a valid time as an ISO-8601 string',
  invalidPartnerKey: 'Invalid Partner API key',
  invalidClientSecret: 'Invalid client secret',
  partnerNotEnabled: (clientSecret: string) => `Partner not enabled for client with client secret: ${clientSecret}`,
} as const;

/** Contract: "At most 1,000 identifiers per request, counted across user_ids, device_ids and aliases together". */
export const MAX_IDENTIFIERS_PER_REQUEST = 1_000;
/** Product decision: identifiers (and cohort ids, alias fields) are non-empty strings of at most 512 characters. */
export const MAX_IDENTIFIER_LENGTH = 512;

/**
 * Identifiers and names travel in SQS bodies, SNS message attributes and DynamoDB keys,
 * none of which can carry a lone surrogate (there is no UTF-8 for it): refused here, so
 * nothing is accepted that could only fail, half-applied, later.
 */
export const wellFormed = { error: 'must be well-formed Unicode (it has a lone surrogate)' } as const;

export const Identifier = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must be a non-empty string' })
  .max(MAX_IDENTIFIER_LENGTH, { error: `must be at most ${MAX_IDENTIFIER_LENGTH} characters` })
  .refine(isWellFormedUnicode, wellFormed);

export const UserAlias = z.object(
  {
    alias_name: Identifier,
    alias_label: Identifier,
  },
  { error: 'must be an object with `alias_name` and `alias_label`' },
);
export type UserAlias = z.infer<typeof UserAlias>;

export const CohortChange = z
  .object(
    {
      user_ids: z.array(Identifier, { error: 'must be an array of strings' }).optional(),
      device_ids: z.array(Identifier, { error: 'must be an array of strings' }).optional(),
      aliases: z.array(UserAlias, { error: 'must be an array of alias objects' }).optional(),
      should_remove: z.boolean({ error: 'must be a boolean' }).optional(),
    },
    { error: 'must be an object' },
  )
  .refine(
    (change) => change.user_ids !== undefined || change.device_ids !== undefined || change.aliases !== undefined,
    {
      error: 'must have `user_ids`, `device_ids` or `aliases`',
    },
  );
export type CohortChange = z.infer<typeof CohortChange>;

/** Cohort ids end up in DynamoDB keys (sort key ≤ 1,024 bytes): 200 characters of up to 4 UTF-8 bytes each fit with room to spare. */
export const MAX_COHORT_ID_LENGTH = 200;
const CohortId = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must be a non-empty string' })
  .max(MAX_COHORT_ID_LENGTH, { error: `must be at most ${MAX_COHORT_ID_LENGTH} characters` })
  .refine(isWellFormedUnicode, wellFormed);

export const NameCohortRequest = z.object({
  partner_api_key: z.string(),
  client_secret: z.string(),
  cohort_id: CohortId,
  name: z
    .string({ error: 'must be a string' })
    .trim()
    .min(1, { error: 'must be a non-empty string' })
    .max(1_024, { error: 'must be at most 1024 characters' })
    .refine(isWellFormedUnicode, wellFormed),
  created_at: z.iso.datetime({
    offset: true,
    error: 'must be an ISO-8601 date-time with an offset, e.g. 2021-01-21T19:20:30+05:00',
  }),
});
export type NameCohortRequest = z.infer<typeof NameCohortRequest>;

export const CohortChangesRequest = z.object({
  partner_api_key: z.string(),
  client_secret: z.string(),
  cohort_id: CohortId,
  cohort_changes: z.array(CohortChange, { error: 'must be an array' }),
});
export type CohortChangesRequest = z.infer<typeof CohortChangesRequest>;

/** The public message for the first failing field, in the contract's order of fields. */
const MESSAGE_BY_FIELD: Record<string, string> = {
  cohort_id: PARTNER_MESSAGES.cohortId,
  name: PARTNER_MESSAGES.name,
  created_at: PARTNER_MESSAGES.createdAt,
  cohort_changes: PARTNER_MESSAGES.cohortChanges,
};
const FIELD_ORDER = ['cohort_id', 'name', 'created_at', 'cohort_changes'];

export const formatIssuePath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)),
    '',
  );

/** zod issues as `path: message` details for the `errors` array. */
export const describeIssues = (error: z.ZodError, limit = 20): string[] => {
  const details = error.issues
    .slice(0, limit)
    .map((issue) => `${formatIssuePath(issue.path) || 'body'}: ${issue.message}`);
  if (error.issues.length > limit) details.push(`... and ${error.issues.length - limit} more`);
  return details;
};

const toContractError = (error: z.ZodError): ValidationError => {
  const failingFields = new Set(error.issues.map((issue) => String(issue.path[0] ?? '')));
  const field = FIELD_ORDER.find((name) => failingFields.has(name)) ?? 'cohort_changes';
  const relevant = new z.ZodError(error.issues.filter((issue) => String(issue.path[0] ?? '') === field));
  return new ValidationError(MESSAGE_BY_FIELD[field] ?? PARTNER_MESSAGES.cohortChanges, describeIssues(relevant));
};

export const countIdentifiers = (changes: readonly CohortChange[]): number =>
  changes.reduce(
    (total, change) =>
      total + (change.user_ids?.length ?? 0) + (change.device_ids?.length ?? 0) + (change.aliases?.length ?? 0),
    0,
  );

export const validateNameCohortRequest = (body: unknown): NameCohortRequest => {
  const result = NameCohortRequest.safeParse(body);
  if (!result.success) throw toContractError(result.error);
  return result.data;
};

export const validateCohortChangesRequest = (body: unknown): CohortChangesRequest => {
  const result = CohortChangesRequest.safeParse(body);
  if (!result.success) throw toContractError(result.error);
  const identifiers = countIdentifiers(result.data.cohort_changes);
  if (identifiers > MAX_IDENTIFIERS_PER_REQUEST) {
    throw new ValidationError(PARTNER_MESSAGES.tooManyIdentifiers, [
      `the request has ${identifiers} identifiers; split it into requests of at most ${MAX_IDENTIFIERS_PER_REQUEST}`,
    ]);
  }
  return result.data;
};
