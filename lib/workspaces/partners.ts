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
/**
 * Longest partner name accepted where one is named in a body (segment filters): a cohort's
 * sort key is <partner>#<cohort_id>, and 50 + 1 + 200 (MAX_COHORT_ID_LENGTH) characters of
 * up to 4 UTF-8 bytes fit DynamoDB's 1,024 bytes. Known partners are far shorter.
 */
export const MAX_PARTNER_NAME_LENGTH = 50;

export type PartnerName = (typeof KNOWN_PARTNERS)[number];

export const isKnownPartner = (name: string): name is PartnerName =>
  (KNOWN_PARTNERS as readonly string[]).includes(name);
