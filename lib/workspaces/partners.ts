/**
 * Cohort sources that speak the partner cohort-import contract. Heap is enabled out of
 * the box; the others can be enabled by an operator (`admin partner enable`).
 */
export const KNOWN_PARTNERS = [
  'heap',
  'segment',
  'amplitude',
  'mixpanel',
  'census',
  'hightouch',
  'kubit',
  'treasuredata',
] as const;
export type PartnerName = (typeof KNOWN_PARTNERS)[number];

export const isKnownPartner = (name: string): name is PartnerName => (KNOWN_PARTNERS as readonly string[]).includes(name);
