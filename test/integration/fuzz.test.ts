/**
 * Property-based fuzzing of every endpoint, through the real handlers against the local
 * SQS and DynamoDB: thousands of random and mutated bodies. Never a 5xx, never a crash,
 * every rejection in the `{message, errors}` shape, and nothing invalid ever queued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { LocalStack } from '../../local/stack.js';
import { CohortMessage } from '../../lib/cohorts/messages.js';
import { startTestStack } from '../support/stack.js';
import { context, drainMessages, httpEvent } from '../support/events.js';
import { workspaceClient } from '../support/client.js';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startTestStack({ poll: false });
  // A user the fuzzed events and purchases can belong to (their Currents events get queued).
  await workspaceClient(stack).track([{ external_id: 'fuzz-user' }]);
});
afterAll(() => stack?.stop());

interface Outcome {
  status: number;
  body: Record<string, unknown>;
}

const call = async (
  handler: (
    event: ReturnType<typeof httpEvent>,
    ctx: ReturnType<typeof context>,
  ) => Promise<APIGatewayProxyStructuredResultV2>,
  routeKey: string,
  body: string,
  options: Parameters<typeof httpEvent>[2] = {},
): Promise<Outcome> => {
  const result = await handler(httpEvent(routeKey, body, options), context('fuzz'));
  return { status: result.statusCode ?? 0, body: JSON.parse(result.body ?? 'null') };
};

const expectWellFormed = (outcome: Outcome, allowed: number[]) => {
  expect(allowed).toContain(outcome.status);
  if (outcome.status >= 400) {
    expect(typeof outcome.body.message).toBe('string');
    expect(Array.isArray(outcome.body.errors)).toBe(true);
    expect((outcome.body.errors as unknown[]).every((detail) => typeof detail === 'string')).toBe(true);
  }
};

/** Strings partners might plausibly send, and some they should not. */
const identifier = fc.oneof(
  fc.string({ minLength: 0, maxLength: 12 }),
  fc.constantFrom('', ' ', 'ext-1', '\u0000', '💥', 'a'.repeat(513), '__proto__', 'constructor'),
);
const change = fc.record(
  {
    user_ids: fc.oneof(fc.array(identifier, { maxLength: 4 }), fc.anything()),
    device_ids: fc.oneof(fc.array(identifier, { maxLength: 4 }), fc.anything()),
    aliases: fc.oneof(
      fc.array(
        fc.record({ alias_name: identifier, alias_label: fc.oneof(identifier, fc.anything()) }, { requiredKeys: [] }),
        { maxLength: 3 },
      ),
      fc.anything(),
    ),
    should_remove: fc.oneof(fc.boolean(), fc.anything()),
  },
  { requiredKeys: [] },
);

/** Valid keys (so the body, not auth, is what is tested), with mutated or random fields. */
const changesBody = () =>
  fc
    .record(
      {
        cohort_id: fc.oneof(identifier, fc.anything()),
        cohort_changes: fc.oneof(fc.array(change, { maxLength: 4 }), fc.anything()),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    )
    .map((fields) => ({
      partner_api_key: stack.partnerApiKey,
      client_secret: stack.workspace.dataImportKey,
      ...fields,
    }));

const rawBody = fc.oneof(
  fc.string(),
  fc.json(),
  fc.constantFrom('', 'null', '[]', '{', '{"partner_api_key":', '"\\ud800"', '{"a":1}'.repeat(3)),
);

describe('partner endpoints', () => {
  it('answer every cohort-changes body with 201 or a contract error, and queue only what they accepted', async () => {
    // Prepare
    await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    let queued = 0;

    // Act
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          changesBody().map((body) => JSON.stringify(body)),
          rawBody,
        ),
        async (body) => {
          const outcome = await call(stack.handlers.ingest, 'POST /partners/{partner}/cohorts/users', body, {
            pathParameters: { partner: 'heap' },
          });
          expectWellFormed(outcome, [201, 400, 401, 413]);
          if (outcome.status === 201 && (JSON.parse(body) as { cohort_changes: unknown[] }).cohort_changes.length > 0)
            queued += 1;
        },
      ),
      { numRuns: 1_500 },
    );

    // Assess
    const messages = await drainMessages(stack.clients.sqs, stack.queues.queueUrl);
    expect(messages).toHaveLength(queued);
    for (const message of messages) expect(CohortMessage.safeParse(JSON.parse(message)).success).toBe(true);
  });

  it('answer every cohort-name body with 201 or a contract error', async () => {
    const nameBody = fc
      .record(
        {
          cohort_id: fc.oneof(identifier, fc.anything()),
          name: fc.oneof(identifier, fc.anything()),
          created_at: fc.oneof(
            fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
            identifier,
            fc.anything(),
          ),
        },
        { requiredKeys: [] },
      )
      .map((fields) =>
        JSON.stringify({
          partner_api_key: stack.partnerApiKey,
          client_secret: stack.workspace.dataImportKey,
          ...fields,
        }),
      );
    await fc.assert(
      fc.asyncProperty(fc.oneof(nameBody, rawBody), async (body) => {
        const outcome = await call(stack.handlers.ingest, 'POST /partners/{partner}/cohorts', body, {
          pathParameters: { partner: 'heap' },
        });
        expectWellFormed(outcome, [201, 400, 401]);
      }),
      { numRuns: 500 },
    );
    for (const message of await drainMessages(stack.clients.sqs, stack.queues.queueUrl)) {
      expect(CohortMessage.safeParse(JSON.parse(message)).success).toBe(true);
    }
  });

  it('answer random keys with 401 whatever the body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything(), fc.anything(), changesBody(), async (partnerKey, secret, body) => {
        const outcome = await call(
          stack.handlers.ingest,
          'POST /partners/{partner}/cohorts/users',
          JSON.stringify({ ...body, partner_api_key: partnerKey, client_secret: secret }),
          { pathParameters: { partner: 'heap' } },
        );
        expectWellFormed(outcome, [401]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('workspace REST endpoints', () => {
  const authorization = () => ({ authorization: `Bearer ${stack.workspace.restApiKey}` });
  const alias = fc.record(
    { alias_name: fc.oneof(identifier, fc.anything()), alias_label: fc.oneof(identifier, fc.anything()) },
    { requiredKeys: [] },
  );

  it.each([
    [
      'POST /users/track',
      fc.record(
        {
          attributes: fc.oneof(
            fc.array(
              fc.record(
                {
                  external_id: fc.oneof(identifier, fc.anything()),
                  user_alias: fc.oneof(alias, fc.anything()),
                  device_id: identifier,
                  plan: fc.anything(),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 4 },
            ),
            fc.anything(),
          ),
          events: fc.oneof(
            fc.array(
              fc.record(
                {
                  external_id: fc.oneof(fc.constant('fuzz-user'), identifier),
                  braze_id: fc.oneof(identifier, fc.anything()),
                  name: fc.oneof(identifier, fc.anything()),
                  time: fc.oneof(
                    fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
                    identifier,
                  ),
                  properties: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.anything()),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 3 },
            ),
            fc.anything(),
          ),
          purchases: fc.oneof(
            fc.array(
              fc.record(
                {
                  external_id: fc.oneof(fc.constant('fuzz-user'), identifier),
                  product_id: identifier,
                  currency: fc.oneof(fc.constantFrom('USD', 'EUR'), identifier),
                  price: fc.oneof(fc.double(), fc.anything()),
                  quantity: fc.oneof(fc.integer(), fc.anything()),
                  time: fc.oneof(
                    fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
                    identifier,
                  ),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 3 },
            ),
            fc.anything(),
          ),
        },
        { requiredKeys: [] },
      ),
    ],
    [
      'POST /users/identify',
      fc.record(
        {
          aliases_to_identify: fc.oneof(
            fc.array(fc.record({ external_id: identifier, user_alias: alias }, { requiredKeys: [] }), { maxLength: 3 }),
            fc.anything(),
          ),
          devices_to_identify: fc.oneof(
            fc.array(fc.record({ external_id: identifier, device_id: identifier }, { requiredKeys: [] }), {
              maxLength: 3,
            }),
            fc.anything(),
          ),
        },
        { requiredKeys: [] },
      ),
    ],
    [
      'POST /users/export/ids',
      fc.record(
        {
          external_ids: fc.oneof(fc.array(identifier, { maxLength: 4 }), fc.anything()),
          user_aliases: fc.oneof(fc.array(alias, { maxLength: 3 }), fc.anything()),
          device_id: fc.oneof(identifier, fc.anything()),
          braze_id: fc.oneof(identifier, fc.anything()),
        },
        { requiredKeys: [] },
      ),
    ],
  ] as const)('%s never answers 5xx', async (routeKey, bodies) => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          (bodies as fc.Arbitrary<unknown>).map((body) => JSON.stringify(body)),
          rawBody,
        ),
        async (body) => {
          const outcome = await call(stack.handlers.api, routeKey, body, { headers: authorization() });
          expectWellFormed(outcome, [201, 400]);
        },
      ),
      { numRuns: 400 },
    );
  });
});
