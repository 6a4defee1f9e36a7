/** A list page of campaigns bounded in bytes as well as in count (lib/campaigns/service.ts, `cutToBytes`). */
import { describe, expect, it } from 'vitest';
import type { Campaign } from '../../lib/campaigns/model.js';
import { cutToBytes } from '../../lib/campaigns/service.js';

const campaign = (id: string, name: string): Campaign => ({
  workspaceId: 'w',
  campaignId: id,
  kind: 'canvas',
  name,
  status: 'draft',
  segmentIds: ['s'],
  delivery: { type: 'action_based', reeligibleAfterDays: null },
  steps: [{ name, delaySeconds: 0, message: { url: 'https://example.com', method: 'POST', headers: {}, body: '' } }],
  createdAt: '2031-01-01T00:00:00.000Z',
  updatedAt: '2031-01-01T00:00:00.000Z',
});

describe('a list page in bytes', () => {
  it('cuts a page whose names escape to six bytes a character, and continues after its last item', () => {
    // Prepare: 255 control characters store 255 bytes and answer 1,530 (\u0001), in the name and the step.
    const heavy = ['a', 'b', 'c', 'd'].map((id) => campaign(id, '\u0001'.repeat(255)));
    const one = Buffer.byteLength(JSON.stringify(JSON.parse(JSON.stringify({ name: heavy[0]!.name }))));

    // Act
    const page = cutToBytes(heavy, 'd', 2 * 3_400);

    // Assess
    expect(one).toBeGreaterThan(1_530);
    expect(page.kept.map((item) => item.campaignId)).toEqual(['a', 'b']);
    expect(page.next).toBe('b');
  });

  it('keeps a whole page under the bound, with its own next, and always at least one item', () => {
    const light = ['a', 'b'].map((id) => campaign(id, 'n'));
    expect(cutToBytes(light, undefined, 1_000_000)).toEqual({ kept: light, next: undefined });
    expect(cutToBytes(light, 'b', 10).kept.map((item) => item.campaignId)).toEqual(['a']);
  });
});
