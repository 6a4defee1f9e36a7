/**
 * Re-eligibility in minutes, hours, days or weeks (lib/campaigns/model.ts): what the API takes,
 * what it answers, and the wait the journeys use; definitions stored before units (whole
 * days) read as they did.
 */
import { describe, expect, it } from 'vitest';
import {
  campaignView,
  parseCampaignBody,
  parseCanvasBody,
  reeligibleAfterMs,
  type Campaign,
  type Delivery,
} from '../../lib/campaigns/model.js';

const message = { url: 'https://hooks.example.com/x', body: '{}' };
const campaign = (delivery: Record<string, unknown>) =>
  parseCampaignBody({ name: 'n', segment_ids: ['s1'], message, delivery: { type: 'action_based', ...delivery } });
const actionBased = (delivery: Delivery) => delivery as Extract<Delivery, { type: 'action_based' }>;

describe('re-eligibility', () => {
  it.each([
    [{ value: 30, unit: 'minutes' }, 30 * 60_000],
    [{ value: 2, unit: 'hours' }, 2 * 3_600_000],
    [{ value: 3, unit: 'days' }, 3 * 86_400_000],
    [{ value: 1, unit: 'weeks' }, 7 * 86_400_000],
  ])('takes %o as %i ms', (after, ms) => {
    expect(reeligibleAfterMs(actionBased(campaign({ reeligible_after: after }).delivery))).toBe(ms);
  });

  it('keeps whole days, never again (null or absent), and a Canvas the same', () => {
    expect(reeligibleAfterMs(actionBased(campaign({ reeligible_after_days: 2 }).delivery))).toBe(2 * 86_400_000);
    expect(reeligibleAfterMs(actionBased(campaign({ reeligible_after_days: null }).delivery))).toBeNull();
    expect(reeligibleAfterMs(actionBased(campaign({}).delivery))).toBeNull();
    expect(reeligibleAfterMs(actionBased(campaign({ reeligible_after: null }).delivery))).toBeNull();
    const canvas = parseCanvasBody({
      name: 'c',
      segment_ids: ['s1'],
      reeligible_after: { value: 90, unit: 'minutes' },
      steps: [{ name: 'one', delay_seconds: 0, message }],
    });
    expect(reeligibleAfterMs(actionBased(canvas.delivery))).toBe(90 * 60_000);
  });

  it.each([
    [{ reeligible_after_days: 1, reeligible_after: { value: 1, unit: 'hours' } }, /not both/],
    [{ reeligible_after: { value: 0, unit: 'hours' } }, /reeligible_after/],
    [{ reeligible_after: { value: 1.5, unit: 'hours' } }, /whole number/],
    [{ reeligible_after: { value: 1, unit: 'fortnights' } }, /minutes, hours, days or weeks/],
    [{ reeligible_after: { value: 522, unit: 'weeks' } }, /at most 3,650 days/],
    [{ reeligible_after: { value: 1, unit: 'hours', extra: 1 } }, /reeligible_after/],
  ])('refuses %o with a message that says why', (delivery, message) => {
    expect(() => campaign(delivery)).toThrow(message);
  });

  it('answers the wait as given, and in days; a definition stored before units as whole days', () => {
    const base = {
      workspaceId: 'w',
      campaignId: 'c',
      kind: 'campaign',
      name: 'n',
      status: 'draft',
      segmentIds: ['s1'],
      steps: [
        { name: 'n', delaySeconds: 0, message: { url: 'https://x.example', method: 'POST', headers: {}, body: '' } },
      ],
      createdAt: '2026-12-07T00:00:00.000Z',
      updatedAt: '2026-12-07T00:00:00.000Z',
    };
    const hours = {
      ...base,
      delivery: campaign({ reeligible_after: { value: 6, unit: 'hours' } }).delivery,
    } as Campaign;
    const stored = { ...base, delivery: { type: 'action_based', reeligibleAfterDays: 3 } } as Campaign;

    expect(campaignView(hours).delivery).toMatchObject({
      reeligible_after_days: 0.25,
      reeligible_after: { value: 6, unit: 'hours' },
    });
    expect(campaignView(stored).delivery).toMatchObject({
      reeligible_after_days: 3,
      reeligible_after: { value: 3, unit: 'days' },
    });
  });
});
