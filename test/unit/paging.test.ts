/** List pages bounded in bytes as well as in count (lib/paging.ts, `cutToBytes`), on campaign summaries. */
import { describe, expect, it } from 'vitest';
import { type Campaign, campaignSummaryView } from '../../lib/campaigns/model.js';
import { cutToBytes, LIST_PAGE, parseListRequest, searchLength, searchMatcher } from '../../lib/paging.js';

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

describe('parseListRequest and searchMatcher', () => {
  it('reads a search and an order, ignoring a blank search', () => {
    expect(parseListRequest({ q: '  Funnel ', order: 'desc' }, LIST_PAGE, 'cohorts')).toEqual({
      limit: 100,
      search: 'Funnel',
      order: 'desc',
      scope: expect.stringMatching(/^[\w-]{16}$/),
    });
    // A query's cursors are bound to it and to its list.
    expect(parseListRequest({ q: 'Funnel' }, LIST_PAGE, 'cohorts').scope).not.toBe(
      parseListRequest({ q: 'funnel' }, LIST_PAGE, 'cohorts').scope,
    );
    expect(parseListRequest({}, LIST_PAGE, 'cohorts').scope).not.toBe(
      parseListRequest({}, LIST_PAGE, 'segments').scope,
    );
    expect(parseListRequest({}, LIST_PAGE, 'cohorts', { partner: undefined }).scope).toBe(
      parseListRequest({}, LIST_PAGE, 'cohorts').scope,
    );
    expect(parseListRequest({ q: '   ' }, LIST_PAGE, 'cohorts')).toEqual({
      limit: 100,
      order: 'asc',
      scope: expect.any(String),
    });
    expect(() => parseListRequest({ q: 'x'.repeat(201) }, LIST_PAGE, 'cohorts')).toThrow(/`q`/);
    expect(() => parseListRequest({ order: 'DESC' }, LIST_PAGE, 'cohorts')).toThrow(/`order`/);
    // 200 characters, not bytes: a search of emoji is not cut short.
    expect(parseListRequest({ q: '😀'.repeat(200) }, LIST_PAGE, 'cohorts').search).toHaveLength(400);
  });

  it('counts a search as typed, in characters whether its accents come composed or apart', () => {
    // Prepare: 200 "é" sent decomposed (e + U+0301, 400 code points) and precomposed; 200 of a
    // character NFC takes apart (U+FB2C is three code points in NFC); an "e" under 300 accents.
    const decomposed = 'e\u0301'.repeat(200);
    const composed = decomposed.normalize('NFC');
    const exclusions = '\uFB2C'.repeat(200);
    const stacked = `e${'\u0301'.repeat(300)}`;

    // Act
    const read = (q: string) => () => parseListRequest({ q }, LIST_PAGE, 'cohorts');

    // Assess: the limit is 200 of what was typed, however the client's input method encoded it
    expect(searchLength(decomposed)).toBe(200);
    expect(searchLength(composed)).toBe(200);
    expect(searchLength(exclusions)).toBe(200);
    expect(read(decomposed)().search).toBe(decomposed);
    expect(read(exclusions)().search).toBe(exclusions);
    expect(read(`${decomposed}e\u0301`)).toThrow(/`q` must be at most 200 characters/);
    expect(read(`${composed}é`)).toThrow(/`q` must be at most 200 characters/);
    expect(read(`${exclusions}\uFB2C`)).toThrow(/`q` must be at most 200 characters/);
    // Composing shortens nothing else: stacked accents count, and folding (which drops them) comes after
    expect(searchLength(stacked)).toBe(300);
    expect(read(stacked)).toThrow(/`q`/);
    // Either form finds the same names
    const matches = searchMatcher(decomposed.slice(0, 6))!;
    expect(matches({ name: 'ééé and more' })).toBe(true);
    expect(searchMatcher(composed.slice(0, 3))!({ name: 'e\u0301e\u0301e\u0301' })).toBe(true);
  });

  it('matches a name containing the text in any case or compatibility form, or an id starting with it', () => {
    const matches = searchMatcher('ﬁnal ABAN')!;
    expect(matches({ name: 'The Final abandoners', id: 'x' })).toBe(true);
    expect(matches({ name: 'abandoners', id: 'x' })).toBe(false);
    const byId = searchMatcher('C29')!;
    expect(byId({ name: 'other', id: 'c2999' })).toBe(true);
    expect(byId({ name: 'other', id: 'xc29' })).toBe(false);
    expect(byId({ name: undefined, id: undefined })).toBe(false);
    expect(searchMatcher(undefined)).toBeUndefined();
    // Accents and the case pairs lower-casing leaves apart.
    expect(searchMatcher('istanbul')!({ name: 'İstanbul users' })).toBe(true);
    expect(searchMatcher('Σ')!({ name: 'ΟΔΟΣ street' })).toBe(true);
    expect(searchMatcher('STRASSE')!({ name: 'Hauptstraße' })).toBe(true);
    expect(searchMatcher('cafe')!({ name: 'Cafe\u0301 regulars' })).toBe(true);
  });
});
