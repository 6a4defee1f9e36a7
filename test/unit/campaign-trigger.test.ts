/**
 * The pure rules of API triggers: the body (Braze's shapes, its bounds, what this service
 * refuses), the dispatch id of an Idempotency-Key, and Braze's `${name}` Liquid spelling.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.js';
import { parseCampaignBody, parseCanvasBody } from '../../lib/campaigns/model.js';
import { brazeLiquid, renderTemplate } from '../../lib/campaigns/template.js';
import { dispatchIdOf, MAX_PROPERTIES_BYTES, parseTriggerBody } from '../../lib/campaigns/trigger.js';

const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof ValidationError) return `${error.message} ${JSON.stringify(error.errors)}`;
    throw error;
  }
  throw new Error('not refused');
};

describe('parseTriggerBody', () => {
  it('merges each recipient’s properties over the top-level ones, by external id or alias', () => {
    expect(
      parseTriggerBody('campaign', {
        campaign_id: 'c1',
        trigger_properties: { shop: 'Lisbon', order: 'top' },
        recipients: [
          { external_user_id: 'ada', trigger_properties: { order: 'A-1' }, send_to_existing_only: true },
          { user_alias: { alias_name: 'lead-7', alias_label: 'crm' } },
        ],
      }),
    ).toEqual({
      campaignId: 'c1',
      broadcast: false,
      properties: { shop: 'Lisbon', order: 'top' },
      recipients: [
        { ref: { external_id: 'ada' }, properties: { shop: 'Lisbon', order: 'A-1' } },
        { ref: { alias_name: 'lead-7', alias_label: 'crm' }, properties: { shop: 'Lisbon', order: 'top' } },
      ],
    });
    expect(
      parseTriggerBody('canvas', { canvas_id: 'v1', broadcast: true, canvas_entry_properties: { plan: 'pro' } }),
    ).toEqual({ campaignId: 'v1', broadcast: true, properties: { plan: 'pro' }, recipients: [] });
  });

  it('refuses what Braze refuses, and what this service does not do', () => {
    const ada = { external_user_id: 'ada' };
    expect(
      refusal(() => parseTriggerBody('campaign', { campaign_id: 'c', recipients: Array(51).fill(ada) })),
    ).toContain('at most 50');
    expect(
      refusal(() => parseTriggerBody('campaign', { campaign_id: 'c', broadcast: true, recipients: [ada] })),
    ).toContain('must be absent');
    expect(refusal(() => parseTriggerBody('campaign', { campaign_id: 'c' }))).toContain('required unless');
    expect(
      refusal(() =>
        parseTriggerBody('campaign', {
          campaign_id: 'c',
          recipients: [{ ...ada, send_to_existing_only: false }],
        }),
      ),
    ).toContain('never creates users');
    expect(refusal(() => parseTriggerBody('campaign', { campaign_id: 'c', recipients: [{}] }))).toContain(
      'exactly one',
    );
    expect(
      refusal(() => parseTriggerBody('canvas', { canvas_id: 'c', recipients: [{ ...ada, trigger_properties: {} }] })),
    ).toContain('trigger_properties');
    expect(
      refusal(() =>
        parseTriggerBody('campaign', {
          campaign_id: 'c',
          recipients: [{ ...ada, trigger_properties: { big: 'x'.repeat(MAX_PROPERTIES_BYTES) } }],
        }),
      ),
    ).toContain('bytes as JSON');
    // zod leaves a `__proto__` key out (JSON.parse makes it an own property): no prototype is reached.
    const parsed = parseTriggerBody('campaign', {
      campaign_id: 'c',
      recipients: [ada],
      trigger_properties: JSON.parse('{"__proto__":{"polluted":1},"a":2}'),
    });
    expect(parsed.recipients[0]!.properties).toEqual({ a: 2 });
    expect(Object.getPrototypeOf(parsed.recipients[0]!.properties)).toBe(Object.prototype);
  });
});

describe('dispatchIdOf', () => {
  it('is the same for the same key, and differs by key, campaign and workspace', () => {
    const id = dispatchIdOf('w', 'c', 'k');
    expect(dispatchIdOf('w', 'c', 'k')).toBe(id);
    expect(
      new Set([id, dispatchIdOf('w', 'c', 'k2'), dispatchIdOf('w', 'c2', 'k'), dispatchIdOf('w2', 'c', 'k')]).size,
    ).toBe(4);
  });
});

describe('API-triggered definitions', () => {
  const message = { url: 'https://example.com/hook' };
  it('parses the delivery with its re-eligibility and frequency-cap opt-out', () => {
    expect(
      parseCampaignBody({
        name: 'receipt',
        segment_ids: ['s'],
        message,
        delivery: {
          type: 'api_triggered',
          reeligible_after: { value: 5, unit: 'minutes' },
          ignore_frequency_cap: true,
        },
      }).delivery,
    ).toEqual({
      type: 'api_triggered',
      reeligibleAfterDays: 5 / 1440,
      reeligibleAfter: { value: 5, unit: 'minutes' },
      ignoreFrequencyCap: true,
    });
    expect(
      parseCanvasBody({
        name: 'trial',
        segment_ids: ['s'],
        delivery: { type: 'api_triggered' },
        steps: [{ name: 'one', delay_seconds: 0, message }],
      }).delivery,
    ).toEqual({ type: 'api_triggered', reeligibleAfterDays: null });
    expect(
      refusal(() =>
        parseCampaignBody({
          name: 'x',
          segment_ids: ['s'],
          message,
          delivery: { type: 'api_triggered', delay_seconds: 5 },
        }),
      ),
    ).toContain('delay_seconds');
  });
});

describe('brazeLiquid', () => {
  const variables = {
    braze_id: 'b',
    aliases: [],
    user_aliases: [],
    device_ids: [],
    custom_attributes: {},
    campaign: { id: 'c', name: 'n' },
    api_trigger_properties: { product: 'shoes', 'order id': 7 },
  };
  it('reads Braze’s $-name spelling inside Liquid tags only', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax, not a JS template
    const source = 'Costs ${price}: {{api_trigger_properties.${product}}} #{{ api_trigger_properties.${ order id } }}';
    expect(brazeLiquid(source)).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax, not a JS template
      'Costs ${price}: {{api_trigger_properties["product"]}} #{{ api_trigger_properties["order id"] }}',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Braze's Liquid syntax, not a JS template
    expect(await renderTemplate(source, variables)).toBe('Costs ${price}: shoes #7');
  });
});
