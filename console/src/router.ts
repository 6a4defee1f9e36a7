/**
 * Hash routes (`#/segments/…`): the server serves one page at `/`, so a reload or a
 * shared link never asks it for a path it does not have, and no route of the console can
 * shadow a route of the API.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'sign-in' }
  | { page: 'partners' }
  | { page: 'partner'; partner: string }
  | { page: 'cohorts' }
  | { page: 'cohort'; partner: string; cohortId: string }
  | { page: 'segments' }
  | { page: 'segment-new' }
  | { page: 'segment'; segmentId: string }
  | { page: 'segment-edit'; segmentId: string }
  | { page: 'campaigns' }
  | { page: 'campaign-new'; kind: 'campaign' | 'canvas'; segmentId?: string }
  | { page: 'campaign'; kind: 'campaign' | 'canvas'; campaignId: string }
  | { page: 'currents' }
  | { page: 'connector'; connectorId: string }
  | { page: 'not-found' };

const decode = (part: string | undefined): string | undefined => {
  if (part === undefined) return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
};

export const parseHash = (hash: string): Route => {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const [first, second, third] = [parts[0], decode(parts[1]), decode(parts[2])];
  if (parts.length === 0) return { page: 'partners' };
  switch (first) {
    case 'sign-in':
      return { page: 'sign-in' };
    case 'partners':
      return second ? { page: 'partner', partner: second } : { page: 'partners' };
    case 'cohorts':
      return second && third ? { page: 'cohort', partner: second, cohortId: third } : { page: 'cohorts' };
    case 'segments':
      if (!second) return { page: 'segments' };
      if (parts[1] === 'new') return { page: 'segment-new' };
      return third === 'edit' ? { page: 'segment-edit', segmentId: second } : { page: 'segment', segmentId: second };
    case 'campaigns':
    case 'canvases': {
      const kind = first === 'campaigns' ? 'campaign' : 'canvas';
      if (!second) return { page: 'campaigns' };
      if (parts[1] === 'new') return { page: 'campaign-new', kind, ...(third ? { segmentId: third } : {}) };
      return { page: 'campaign', kind, campaignId: second };
    }
    case 'currents':
      return second ? { page: 'connector', connectorId: second } : { page: 'currents' };
    default:
      return { page: 'not-found' };
  }
};

/** The href of a route: every id is percent-encoded, so any character survives the round trip. */
export const href = (...parts: string[]) => `#/${parts.map(encodeURIComponent).join('/')}`;

export const navigate = (to: string) => {
  if (location.hash === to) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = to;
};

export const useRoute = (): Route => {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
};
