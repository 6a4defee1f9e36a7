/**
 * The pure rules of event-triggered entry: the definition (trigger and exit events, what is
 * refused), which events trigger which definitions, the index keys, and the entry stamp a
 * replayed /users/track call shares with its original.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.js';
import { parseCampaignBody, parseCanvasBody } from '../../lib/campaigns/model.js';
import {
  customEventKey,
  eventEntryStamp,
  eventKeysOf,
  PURCHASE_KEY,
  trackedEventMessage,
  triggeredBy,
} from '../../lib/campaigns/event-entries.js';
import { MAX_PROPERTIES_BYTES } from '../../lib/campaigns/trigger.js';

const message = { url: 'https://example.com/hook' };
const campaign = (delivery: Record<string, unknown>, more: Record<string, unknown> = {}) =>
  parseCampaignBody({ name: 'c', segment_ids: ['s'], message, delivery, ...more });

describe('event-triggered definitions', () => {
  it('keeps a custom event or purchase trigger and the exit events; entered_segment is the default', () => {
    // Act
    const onEvent = campaign(
      { type: 'action_based', trigger: { type: 'custom_event', name: 'Started Trial' } },
      { exit_on_events: ['Converted'] },
    );
    const onPurchase = campaign({ type: 'action_based', trigger: { type: 'purchase' } });
    const onSegment = campaign({ type: 'action_based', trigger: { type: 'entered_segment' } });
    const canvas = parseCanvasBody({
      name: 'v',
      segment_ids: ['s'],
      delivery: { type: 'action_based', trigger: { type: 'purchase', product_id: 'p1' } },
      exit_on_events: ['Churned'],
      steps: [{ name: 'one', delay_seconds: 0, message }],
    });

    // Assess
    expect(onEvent.delivery).toMatchObject({
      type: 'action_based',
      trigger: { type: 'custom_event', name: 'Started Trial' },
    });
    expect(onEvent.exitOnEvents).toEqual(['Converted']);
    expect(onPurchase.delivery).toMatchObject({ trigger: { type: 'purchase' } });
    expect(onSegment.delivery).not.toHaveProperty('trigger');
    expect(canvas.delivery).toMatchObject({ trigger: { type: 'purchase', productId: 'p1' } });
    expect(canvas.exitOnEvents).toEqual(['Churned']);
  });

  it.each([
    [{ type: 'action_based', trigger: { type: 'custom_event' } }, {}],
    [{ type: 'action_based', trigger: { type: 'custom_event', name: 'x'.repeat(256) } }, {}],
    [{ type: 'action_based', trigger: { type: 'session_start' } }, {}],
    [{ type: 'scheduled' }, { exit_on_events: ['Converted'] }],
    [{ type: 'api_triggered' }, { exit_on_events: ['Converted'] }],
    [{ type: 'action_based' }, { exit_on_events: Array.from({ length: 11 }, (_, index) => `e${index}`) }],
    [{ type: 'action_based', trigger: { type: 'custom_event', name: 'A' } }, { exit_on_events: ['A'] }],
  ])('refuses %j %j with a ValidationError', (delivery, more) => {
    expect(() => campaign(delivery, more)).toThrow(ValidationError);
  });
});

describe('triggers and index keys', () => {
  const onTrial = campaign(
    { type: 'action_based', trigger: { type: 'custom_event', name: 'Started Trial' } },
    {
      exit_on_events: ['Converted', 'Churned'],
    },
  );
  const onPack = campaign({ type: 'action_based', trigger: { type: 'purchase', product_id: 'pack' } });
  const onAnyPurchase = campaign({ type: 'action_based', trigger: { type: 'purchase' } });

  it('matches an event by its exact name, a purchase by its product (or any)', () => {
    expect(triggeredBy(onTrial, { type: 'custom_event', name: 'Started Trial' })).toBe(true);
    expect(triggeredBy(onTrial, { type: 'custom_event', name: 'started trial' })).toBe(false);
    expect(triggeredBy(onTrial, { type: 'purchase', productId: 'Started Trial' })).toBe(false);
    expect(triggeredBy(onPack, { type: 'purchase', productId: 'pack' })).toBe(true);
    expect(triggeredBy(onPack, { type: 'purchase', productId: 'other' })).toBe(false);
    expect(triggeredBy(onAnyPurchase, { type: 'purchase', productId: 'other' })).toBe(true);
    expect(triggeredBy(campaign({ type: 'action_based' }), { type: 'custom_event', name: 'x' })).toBe(false);
  });

  it('indexes a definition under its trigger and its exit events', () => {
    expect(eventKeysOf(onTrial)).toEqual([
      customEventKey('Started Trial'),
      customEventKey('Converted'),
      customEventKey('Churned'),
    ]);
    expect(eventKeysOf(onPack)).toEqual([PURCHASE_KEY]);
    expect(eventKeysOf(campaign({ type: 'action_based' }))).toEqual([]);
  });
});

describe('the entry stamp and the work message', () => {
  it('is the same for a replay of the event, and differs by user, name or time', () => {
    const event = { type: 'custom_event' as const, name: 'Started Trial' };
    const stamp = eventEntryStamp('w', 'u1', event, '2026-03-01T10:00:00.000Z');

    expect(eventEntryStamp('w', 'u1', event, '2026-03-01T10:00:00.000Z')).toBe(stamp);
    expect(eventEntryStamp('w', 'u2', event, '2026-03-01T10:00:00.000Z')).not.toBe(stamp);
    expect(eventEntryStamp('w', 'u1', { ...event, name: 'Other' }, '2026-03-01T10:00:00.000Z')).not.toBe(stamp);
    expect(eventEntryStamp('w', 'u1', event, '2026-03-01T10:00:01.000Z')).not.toBe(stamp);
  });

  it('carries the time as one instant however it was written, and properties up to the bound', () => {
    const event = { type: 'custom_event' as const, name: 'e' };
    const big = { text: 'x'.repeat(MAX_PROPERTIES_BYTES) };

    expect(trackedEventMessage('w', 'u', event, '2026-03-01T12:00:00+02:00', { a: 1 })).toEqual({
      v: 1,
      type: 'campaign.event',
      workspaceId: 'w',
      brazeId: 'u',
      event,
      time: '2026-03-01T10:00:00.000Z',
      properties: { a: 1 },
    });
    expect(trackedEventMessage('w', 'u', event, '2026-03-01T10:00:00Z', big)).not.toHaveProperty('properties');
  });
});
