/** How partners are named on the page (the API names them by their lowercase id). */
const NAMES: Record<string, string> = {
  heap: 'Heap',
  segment: 'Segment',
  amplitude: 'Amplitude',
  mixpanel: 'Mixpanel',
  census: 'Census',
  hightouch: 'Hightouch',
  kubit: 'Kubit',
  treasuredata: 'Treasure Data',
};

export const partnerName = (partner: string): string => NAMES[partner] ?? partner;

/** Every partner the API knows, in the order the console lists them. */
export const PARTNERS: readonly string[] = Object.keys(NAMES);
