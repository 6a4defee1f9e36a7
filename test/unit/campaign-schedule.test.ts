import { describe, expect, it } from 'vitest';
import { canonicalTimeZone, instantOf, nextOccurrence } from '../../lib/campaigns/schedule.js';
import { parseCampaignBody } from '../../lib/campaigns/model.js';
import { membershipKey, transition } from '../../lib/campaigns/audience.js';
import type { Filter } from '../../lib/segments/filter.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('recurring schedules', () => {
  it('runs daily at the local time of the zone, the next one strictly after', () => {
    // Act + Assess
    const daily = { frequency: 'daily' as const, time: '09:30', timezone: 'Europe/Paris' };
    expect(iso(nextOccurrence(daily, at('2026-11-25T07:00:00Z')))).toBe('2026-11-25T08:30:00.000Z');
    expect(iso(nextOccurrence(daily, at('2026-11-25T08:30:00Z')))).toBe('2026-11-26T08:30:00.000Z');
    expect(iso(nextOccurrence(daily, at('2026-07-01T00:00:00Z')))).toBe('2026-07-01T07:30:00.000Z');
  });

  it('runs weekly on the chosen weekdays only', () => {
    // Prepare: Mondays and Thursdays, 2026-11-25 is a Wednesday
    const weekly = { frequency: 'weekly' as const, time: '08:00', timezone: 'America/New_York', weekdays: [1, 4] };

    // Act
    const first = nextOccurrence(weekly, at('2026-11-25T12:00:00Z'));
    const second = nextOccurrence(weekly, first);

    // Assess
    expect(iso(first)).toBe('2026-11-26T13:00:00.000Z');
    expect(iso(second)).toBe('2026-11-30T13:00:00.000Z');
  });

  it('takes a time a DST change skips an hour later, and one it repeats at the first', () => {
    // Act + Assess: Paris springs forward at 02:00 on 2026-03-29 and falls back at 03:00 on 2026-10-25
    expect(iso(instantOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Paris'))).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    expect(iso(instantOf({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, 'Europe/Paris'))).toBe(
      '2026-10-25T00:30:00.000Z',
    );
    // The gap's last minute too (croner 11 answers 03:00 here: lib/campaigns/schedule.ts says why it is not used).
    const daily = { frequency: 'daily', time: '02:59', timezone: 'Europe/Paris' } as const;
    expect(iso(nextOccurrence(daily, Date.parse('2026-03-28T12:00:00Z')))).toBe('2026-03-29T01:59:00.000Z');
  });
});

describe('entering a target', () => {
  const includes = (cohortId: string): Filter => ({ cohort: { partner: 'heap', cohort_id: cohortId, includes: true } });
  const excludes = (cohortId: string): Filter => ({
    cohort: { partner: 'heap', cohort_id: cohortId, includes: false },
  });
  const members = (...cohorts: string[]) => new Set(cohorts.map((cohort) => membershipKey('heap', cohort)));

  it('enters a user whom the flip moved into the target, and only then', () => {
    // Prepare
    const abandonedNotConverted: Filter = { all: [includes('abandoned'), excludes('converted')] };

    // Act + Assess
    expect(
      transition(abandonedNotConverted, members('abandoned'), { partner: 'heap', cohortId: 'abandoned', added: true }),
    ).toEqual({ entered: true, inNow: true });
    // Leaving the excluded cohort is an entry too.
    expect(
      transition(abandonedNotConverted, members('abandoned'), { partner: 'heap', cohortId: 'converted', added: false }),
    ).toEqual({ entered: true, inNow: true });
    // Added while already converted: not in the target.
    expect(
      transition(abandonedNotConverted, members('abandoned', 'converted'), {
        partner: 'heap',
        cohortId: 'abandoned',
        added: true,
      }),
    ).toEqual({ entered: false, inNow: false });
  });

  it('does not re-enter a user already in an `any` target through another cohort', () => {
    // Act
    const result = transition({ any: [includes('a'), includes('b')] }, members('a', 'b'), {
      partner: 'heap',
      cohortId: 'b',
      added: true,
    });

    // Assess
    expect(result).toEqual({ entered: false, inNow: true });
  });

  it('does not enter a user who is out again by the time the event is read', () => {
    // Act: the add of `a` is handled after its removal was applied
    const result = transition(includes('a'), members(), { partner: 'heap', cohortId: 'a', added: true });

    // Assess
    expect(result).toEqual({ entered: false, inNow: false });
  });
});

describe('a recurring schedule as the API takes it', () => {
  const body = (recurring: object) => ({
    name: 'weekly',
    segment_ids: ['s1'],
    message: { url: 'https://example.com/hook' },
    delivery: { type: 'scheduled', recurring },
  });
  const recurringOf = (input: ReturnType<typeof parseCampaignBody>) =>
    input.delivery.type === 'scheduled' ? input.delivery.recurring : undefined;

  it('stores a time zone in its canonical spelling, whatever the case it came in', () => {
    const input = parseCampaignBody(body({ frequency: 'daily', time: '09:00', timezone: 'europe/paris' }));
    expect(recurringOf(input)?.timezone).toBe('Europe/Paris');
  });

  it.each([
    ['an offset instead of a zone', { frequency: 'daily', time: '09:00', timezone: '+05:45' }, /IANA time zone/],
    ['a zone that does not exist', { frequency: 'daily', time: '09:00', timezone: 'Mars/Olympus' }, /IANA time zone/],
    [
      'a weekday twice',
      { frequency: 'weekly', time: '09:00', timezone: 'UTC', weekdays: [1, 1, 1] },
      /must not name a day twice/,
    ],
  ])('refuses %s with a 400 that says why', (_case, recurring, message) => {
    expect(() => parseCampaignBody(body(recurring))).toThrow(message);
  });
});

describe('time zone spelling', () => {
  it('keeps a current name as given, never its old alias (Asia/Kolkata stays, not Asia/Calcutta)', () => {
    for (const zone of ['Asia/Kolkata', 'Europe/Kyiv', 'Asia/Kathmandu', 'UTC'])
      expect(canonicalTimeZone(zone)).toBe(zone);
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
  });
});
