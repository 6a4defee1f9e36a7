/** Request bodies of the workspace REST API, mirroring Braze's endpoints of the same names. */
import * as z from 'zod';
import { describeIssues, Identifier, UserAlias, wellFormed } from '../contract/partner.js';
import { ValidationError } from '../errors.js';
import { isWellFormedUnicode } from '../unicode.js';
import { SORT_KEY_MAX_BYTES } from '../http/limits.js';

/** Braze: /users/track takes at most 75 attribute objects per request. */
export const MAX_TRACK_ATTRIBUTES = 75;
/** Braze: /users/identify and /users/export/ids take at most 50 identifiers of a kind. */
export const MAX_IDENTIFY = 50;
export const MAX_EXPORT_IDS = 50;
const MAX_CUSTOM_ATTRIBUTES = 100;

const RESERVED = new Set(['external_id', 'user_alias', 'device_id', 'braze_id', '_update_existing_only']);

const CustomAttributeName = z.string().min(1).max(255).refine(isWellFormedUnicode);

/** DynamoDB numbers: magnitude 1E-130 to 9.9999…E+125 (or zero). */
const MIN_MAGNITUDE = 1e-130;
const MAX_MAGNITUDE = 1e126;
/** Product decision: 5 levels (DynamoDB itself stores at most 32 levels of nested attributes). */
export const MAX_ATTRIBUTE_DEPTH = 5;
/** Keeps a profile well under DynamoDB's 400 KB item limit. */
const MAX_ATTRIBUTES_BYTES = 64 * 1024;

/** Why a custom attribute value cannot be stored, or undefined if it can. */
export const attributeValueProblem = (value: unknown, depth = 0): string | undefined => {
  if (typeof value === 'string')
    return isWellFormedUnicode(value)
      ? undefined
      : 'strings must be well-formed Unicode (this one has a lone surrogate)';
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    const magnitude = Math.abs(value);
    if (!Number.isFinite(value) || (magnitude !== 0 && (magnitude < MIN_MAGNITUDE || magnitude >= MAX_MAGNITUDE))) {
      return `number ${value} is out of range (magnitude 1e-130 to 1e126, or 0)`;
    }
    // The SDK refuses to marshal integers it cannot represent exactly.
    return Number.isInteger(value) && !Number.isSafeInteger(value)
      ? `integer ${value} is beyond 2^53 and would lose precision: send it as a string`
      : undefined;
  }
  if (depth >= MAX_ATTRIBUTE_DEPTH) return `nested deeper than ${MAX_ATTRIBUTE_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = attributeValueProblem(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    for (const [name, item] of Object.entries(value)) {
      if (name === '') return 'nested attribute names must be non-empty';
      if (!isWellFormedUnicode(name))
        return 'nested attribute names must be well-formed Unicode (this one has a lone surrogate)';
      const problem = attributeValueProblem(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  return `unsupported value of type ${typeof value}`;
};

export const TrackAttributes = z
  .looseObject({
    external_id: Identifier.optional(),
    user_alias: UserAlias.optional(),
    device_id: Identifier.optional(),
    braze_id: z.never({ error: '`braze_id` cannot be set' }).optional(),
  })
  .check((ctx) => {
    const value = ctx.value;
    if (value.external_id === undefined && value.user_alias === undefined && value.device_id === undefined) {
      ctx.issues.push({ code: 'custom', input: value, message: 'needs `external_id`, `user_alias` or `device_id`' });
    }
    if (value.device_id !== undefined && value.external_id === undefined && value.user_alias !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: '`device_id` goes alone (an anonymous profile) or with `external_id`',
      });
    }
    const custom = Object.keys(value).filter((name) => !RESERVED.has(name));
    if (custom.length > MAX_CUSTOM_ATTRIBUTES) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `at most ${MAX_CUSTOM_ATTRIBUTES} custom attributes per object`,
      });
    }
    for (const name of custom) {
      if (!CustomAttributeName.safeParse(name).success) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: 'custom attribute names are 1 to 255 characters of well-formed Unicode',
        });
        return;
      }
      const problem = attributeValueProblem((value as Record<string, unknown>)[name]);
      if (problem) {
        ctx.issues.push({ code: 'custom', input: value, path: [name], message: problem });
        // The size below serializes the values: only once each is known to be bounded in depth.
        return;
      }
    }
    if (
      Buffer.byteLength(
        JSON.stringify(Object.fromEntries(custom.map((name) => [name, (value as Record<string, unknown>)[name]]))),
      ) > MAX_ATTRIBUTES_BYTES
    ) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `custom attributes of one object are at most ${MAX_ATTRIBUTES_BYTES} bytes of JSON`,
      });
    }
  });
export type TrackAttributes = z.infer<typeof TrackAttributes>;

/**
 * A braze_id is looked up as it is (pk <ws>#U#<brazeId>, and the sort key of the users
 * index): ours are 24 hex characters; one sent must at least fit a sort key (1,024 bytes;
 * 512 characters of Identifier can be 2,048).
 */
export const BrazeId = Identifier.refine((brazeId) => Buffer.byteLength(brazeId, 'utf8') <= SORT_KEY_MAX_BYTES, {
  error: `must be at most ${SORT_KEY_MAX_BYTES} bytes of UTF-8`,
});

/** Whose event it is: exactly one of external_id, user_alias, braze_id (Braze's /users/track). */
const EventOwner = {
  external_id: Identifier.optional(),
  user_alias: UserAlias.optional(),
  braze_id: BrazeId.optional(),
};
const hasOneOwner = (value: { external_id?: unknown; user_alias?: unknown; braze_id?: unknown }) =>
  [value.external_id, value.user_alias, value.braze_id].filter((owner) => owner !== undefined).length === 1;
const EventTime = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time, e.g. 2026-01-21T19:20:30Z' });
const EventProperties = z.record(z.string(), z.unknown(), { error: 'must be an object' }).check((ctx) => {
  const problem = attributeValueProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem });
});

export const TrackEvent = z
  .looseObject({
    ...EventOwner,
    name: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must be a non-empty string' })
      .max(255, { error: 'must be at most 255 characters' })
      .refine(isWellFormedUnicode, wellFormed),
    time: EventTime,
    properties: EventProperties.optional(),
    app_id: z.string().max(255).refine(isWellFormedUnicode, wellFormed).optional(),
  })
  .refine(hasOneOwner, { error: 'needs exactly one of `external_id`, `user_alias`, `braze_id`' });
export type TrackEvent = z.infer<typeof TrackEvent>;

export const TrackPurchase = z
  .looseObject({
    ...EventOwner,
    product_id: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must be a non-empty string' })
      .max(255, { error: 'must be at most 255 characters' })
      .refine(isWellFormedUnicode, wellFormed),
    currency: z.string().regex(/^[A-Z]{3}$/, { error: 'must be a three-letter ISO 4217 code, e.g. USD' }),
    price: z.number({ error: 'must be a number' }).finite(),
    quantity: z.number().int().min(1).max(100).optional(),
    time: EventTime,
    properties: EventProperties.optional(),
    app_id: z.string().max(255).refine(isWellFormedUnicode, wellFormed).optional(),
  })
  .refine(hasOneOwner, { error: 'needs exactly one of `external_id`, `user_alias`, `braze_id`' });
export type TrackPurchase = z.infer<typeof TrackPurchase>;

const upTo = (what: string) => ({ error: `at most ${MAX_TRACK_ATTRIBUTES} ${what} per request` });

export const TrackRequest = z
  .object({
    attributes: z.array(TrackAttributes).max(MAX_TRACK_ATTRIBUTES, upTo('attribute objects')).optional(),
    events: z.array(TrackEvent).max(MAX_TRACK_ATTRIBUTES, upTo('events')).optional(),
    purchases: z.array(TrackPurchase).max(MAX_TRACK_ATTRIBUTES, upTo('purchases')).optional(),
  })
  .refine((body) => (body.attributes?.length ?? 0) + (body.events?.length ?? 0) + (body.purchases?.length ?? 0) > 0, {
    error: 'give `attributes`, `events` and/or `purchases` with at least one object',
  });
export type TrackRequest = z.infer<typeof TrackRequest>;

export const customAttributesOf = (attributes: TrackAttributes): Record<string, unknown> =>
  Object.fromEntries(Object.entries(attributes).filter(([name]) => !RESERVED.has(name)));

export const IdentifyRequest = z
  .object({
    aliases_to_identify: z
      .array(z.object({ external_id: Identifier, user_alias: UserAlias }))
      .max(MAX_IDENTIFY, { error: `at most ${MAX_IDENTIFY} per request` })
      .optional(),
    devices_to_identify: z
      .array(z.object({ external_id: Identifier, device_id: Identifier }))
      .max(MAX_IDENTIFY, { error: `at most ${MAX_IDENTIFY} per request` })
      .optional(),
  })
  .refine((body) => (body.aliases_to_identify?.length ?? 0) + (body.devices_to_identify?.length ?? 0) > 0, {
    error: 'give `aliases_to_identify` and/or `devices_to_identify` with at least one entry',
  });
export type IdentifyRequest = z.infer<typeof IdentifyRequest>;

export const ExportIdsRequest = z
  .object({
    external_ids: z
      .array(Identifier)
      .max(MAX_EXPORT_IDS, { error: `at most ${MAX_EXPORT_IDS} per request` })
      .optional(),
    user_aliases: z
      .array(UserAlias)
      .max(MAX_EXPORT_IDS, { error: `at most ${MAX_EXPORT_IDS} per request` })
      .optional(),
    device_id: Identifier.optional(),
    braze_id: BrazeId.optional(),
  })
  .refine(
    (body) =>
      (body.external_ids?.length ?? 0) + (body.user_aliases?.length ?? 0) > 0 ||
      body.device_id !== undefined ||
      body.braze_id !== undefined,
    { error: 'give at least one of `external_ids`, `user_aliases`, `device_id`, `braze_id`' },
  );
export type ExportIdsRequest = z.infer<typeof ExportIdsRequest>;

/** Parses a REST API body, or a 400 whose message names what is wrong. */
export const parseBody = <T extends z.ZodType>(schema: T, body: unknown, what: string): z.infer<T> => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError(`The body of ${what} must be a JSON object`);
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const details = describeIssues(result.error);
    throw new ValidationError(`Invalid ${what} request: ${details[0] ?? 'invalid body'}`, details);
  }
  return result.data;
};
