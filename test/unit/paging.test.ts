/** List pages bounded in bytes as well as in count (lib/paging.ts, `cutToBytes`), on campaign summaries. */
import { describe, expect, it } from 'vitest';
import { type Campaign, campaignSummaryView } from '../../lib/campaigns/model.js';
import { cutToBytes } from '../../lib/paging.js';

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
const views = (ids: string[], name: string) => ids.map((id) => campaignSummaryView(campaign(id, name)));
const idOf = (view: ReturnType<typeof campaignSummaryView>) => String((view as Record<string, unknown>).canvas_id);

describe('a list page in bytes', () => {
  it('cuts a page whose names escape to six bytes a character, and continues after its last item', () => {
    // Prepare: 255 control characters store 255 bytes and answer 1,530 (\u0001), in the name and the step.
    const heavy = views(['a', 'b', 'c', 'd'], '\u0001'.repeat(255));
    const one = Buffer.byteLength(JSON.stringify(heavy[0]));

    // Act
    const page = cutToBytes(heavy, 'd', idOf, { maxBytes: 2 * one + 10 });

    // Assess
    expect(one).toBeGreaterThan(2 * 1_530);
    expect(page.items.map(idOf)).toEqual(['a', 'b']);
    expect(page.next).toBe('b');
  });

  it('keeps a whole page under the bound, with its own next, and always at least one item', () => {
    const light = views(['a', 'b'], 'n');
    expect(cutToBytes(light, undefined, idOf)).toEqual({ items: light, next: undefined });
    expect(cutToBytes(light, 'b', idOf, { maxBytes: 10 }).items.map(idOf)).toEqual(['a']);
  });
});
