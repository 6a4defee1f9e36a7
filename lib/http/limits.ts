/**
 * Bounds on what a client can make the service carry, checked before any code walks a
 * request recursively or builds a key from it: how deep its JSON nests, and what each
 * path parameter may be given the DynamoDB keys it ends up in (well-formed Unicode,
 * lib/unicode.ts, and a number of bytes).
 */
import { isWellFormedUnicode } from '../unicode.js';

/**
 * Product decision: request bodies nest at most 64 levels. The deepest valid body is far
 * shallower (a segment filter of MAX_FILTER_DEPTH levels is 12 JSON levels under its
 * body, a custom attribute 5 under its object); recursive validators (zod) and
 * serializers (JSON.stringify, the SDK's marshaller) overflow the stack at a few thousand.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `value` nests deeper than `limit` levels of arrays and objects (the body itself
 * is level 1). Iterative, and stops at the first branch past the limit: it never
 * overflows whatever it is given.
 */
export const nestsDeeperThan = (value: unknown, limit: number): boolean => {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth > limit) return true;
    for (const child of Object.values(next.value)) {
      if (typeof child === 'object' && child !== null) pending.push({ value: child, depth: next.depth + 1 });
    }
  }
  return false;
};

/** AWS: DynamoDB partition keys are at most 2,048 bytes of UTF-8, sort keys at most 1,024. */
export const PARTITION_KEY_MAX_BYTES = 2_048;
export const SORT_KEY_MAX_BYTES = 1_024;
/** Workspace ids are ours (lib/workspaces/keys.ts generateId: 24 hex; the local demo's `demo-<8 hex>`); keys reserve this much for one. */
export const WORKSPACE_ID_MAX_BYTES = 64;

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * How many bytes each path parameter may have: what the tightest DynamoDB key that embeds
 * it can carry, minus the other parts of that key (layouts: lib/dynamodb/*-store.ts).
 */
const PATH_PARAMETER_MAX_BYTES: Record<
  string,
  (parameters: Record<string, string | undefined>) => { maxBytes: number; key: string }
> = {
  // sk <partner>#<cohortId> (cohorts list), with a cohort id of at least one byte; pk PARTNER#<partner> is looser.
  partner: () => ({ maxBytes: SORT_KEY_MAX_BYTES - bytes('#') - 1, key: 'the sort key <partner>#<cohort_id>' }),
  // sk <partner>#<cohortId>; pk <ws>#M<shard>#<partner>#<cohortId> is looser.
  cohort_id: (parameters) => ({
    maxBytes: Math.min(
      SORT_KEY_MAX_BYTES - bytes(`${parameters.partner ?? ''}#`),
      PARTITION_KEY_MAX_BYTES - WORKSPACE_ID_MAX_BYTES - bytes(`#M00#${parameters.partner ?? ''}#`),
    ),
    key: 'the sort key <partner>#<cohort_id>',
  }),
  // Each is the sort key of its item under <ws>#SEGMENTS, <ws>#EXPORTS, <ws>#CURRENTS.
  segment_id: () => ({ maxBytes: SORT_KEY_MAX_BYTES, key: 'a sort key' }),
  export_id: () => ({ maxBytes: SORT_KEY_MAX_BYTES, key: 'a sort key' }),
  // Also in the dead letters' pk <ws>#CURRENTS-DEAD#<connectorId>, which is looser.
  connector_id: () => ({ maxBytes: SORT_KEY_MAX_BYTES, key: 'a sort key' }),
};
/** A path parameter not in the table above is held to the tightest key there is. */
const DEFAULT_PATH_PARAMETER = () => ({ maxBytes: SORT_KEY_MAX_BYTES, key: 'a sort key' });

/** What is wrong with each path parameter (well-formed Unicode, fits its keys), one detail per problem. */
export const pathParameterProblems = (parameters: Record<string, string | undefined>): string[] =>
  Object.entries(parameters).flatMap(([name, value]) => {
    if (value === undefined) return [];
    if (value === '') return [`\`${name}\` must be a non-empty string`];
    if (!isWellFormedUnicode(value)) return [`\`${name}\` must be well-formed Unicode (it has a lone surrogate)`];
    const { maxBytes, key } = (PATH_PARAMETER_MAX_BYTES[name] ?? DEFAULT_PATH_PARAMETER)(parameters);
    const size = bytes(value);
    return size > maxBytes
      ? [
          `\`${name}\` is ${size} bytes of UTF-8; at most ${maxBytes} fit in ${key} (DynamoDB: sort keys ≤ ${SORT_KEY_MAX_BYTES} bytes)`,
        ]
      : [];
  });
