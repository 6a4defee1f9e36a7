/** The first-sync forecast (local/first-sync-forecast.ts) against hand arithmetic from AWS's documented rules. */
import { describe, expect, it } from 'vitest';
import { forecastFirstSync, NEW_TABLE_WRITE_UNITS, TABLE_QUOTA_WRITE_UNITS } from '../../local/first-sync-forecast.js';

const FIVE_MILLION = { changes: 5_000_000, writeUnitsPerChange: 2.02, shards: 32, utilisation: 1 };

describe('the first-sync forecast', () => {
  it('holds a new table to 4,000 WRU/s for 30 minutes, then doubles it (a 5M sync: ~36 minutes)', () => {
    // 10.1M units: 4,000 × 1,800 = 7.2M in the first window, the other 2.9M at 8,000/s (362.5 s).
    const forecast = forecastFirstSync({ ...FIVE_MILLION, warmWriteUnits: NEW_TABLE_WRITE_UNITS });
    expect(forecast.windows).toEqual([4_000, 8_000]);
    expect(forecast.seconds).toBeCloseTo(1_800 + 2_900_000 / 8_000, 6);
  });

  it('on a table warmed to the quota, is bound by the quota with 64 register shards (40,000 of 64,000 WCU/s): ~4.2 minutes', () => {
    const forecast = forecastFirstSync({ ...FIVE_MILLION, shards: 64, warmWriteUnits: TABLE_QUOTA_WRITE_UNITS });
    expect(forecast.windows).toEqual([40_000]);
    expect(forecast.seconds).toBeCloseTo(10_100_000 / 40_000, 6);
  });

  it('for a cohort first seen with 32 register shards, is bound by them (32,000 WCU/s): ~5.3 minutes', () => {
    const forecast = forecastFirstSync({ ...FIVE_MILLION, warmWriteUnits: TABLE_QUOTA_WRITE_UNITS });
    expect(forecast.windows).toEqual([32_000]);
    expect(forecast.seconds).toBeCloseTo(10_100_000 / 32_000, 6);
  });

  it('scales with the measured utilisation, never grows past the quota, and refuses a utilisation outside (0, 1]', () => {
    const half = forecastFirstSync({ ...FIVE_MILLION, warmWriteUnits: TABLE_QUOTA_WRITE_UNITS, utilisation: 0.5 });
    expect(half.seconds).toBeCloseTo(10_100_000 / 16_000, 6);
    const long = forecastFirstSync({
      ...FIVE_MILLION,
      changes: 200_000_000,
      shards: 64,
      warmWriteUnits: NEW_TABLE_WRITE_UNITS,
    });
    expect(Math.max(...long.windows)).toBe(TABLE_QUOTA_WRITE_UNITS);
    expect(() => forecastFirstSync({ ...FIVE_MILLION, warmWriteUnits: 1, utilisation: 0 })).toThrow(RangeError);
  });
});
