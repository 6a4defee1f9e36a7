/**
 * A list page's search box, as every list of the console has it (Cohorts, Segments, Campaigns,
 * Canvases): searched on the server as the user types (`q`: a name containing the text, or an id
 * starting with it; lib/paging.ts), debounced, not asked while longer than the API takes, a
 * search asking on by itself (one request at a time) until it has a page of matches, the end,
 * or ten requests (search.ts). Its states: loading, the error with a retry, "no match" once the
 * whole list was read, "Search further" while the requests so far matched nothing but more
 * remain, and "Show more" after matches; a new search clears the last one's results at once.
 */
import { useState } from 'preact/hooks';
import {
  type ListPage,
  LoadStatus,
  type Pages,
  SearchTooLong,
  ShowMore,
  usePages,
  useSearchText,
  useWanted,
} from './components.tsx';
import { t } from './i18n.ts';
import { searchPages } from './search.ts';

export interface ListSearch<T> {
  /** The box's text, as typed. */
  typed: string;
  setTyped: (typed: string) => void;
  /** What was asked of the server: trimmed and debounced ('' for no search). */
  search: string;
  tooLong: boolean;
  pages: Pages<T>;
}

/**
 * A searched list: `pageOf` asks the API for one page (`q` = `search` when it is not empty);
 * `deps` are what else the list depends on (its kind), `limit` its page's size.
 */
export const useListSearch = <T,>(
  pageOf: (query: { search: string; cursor: string | null; limit: number }) => Promise<ListPage<T>>,
  deps: readonly unknown[] = [],
  limit = 100,
): ListSearch<T> => {
  const [typed, setTyped] = useState('');
  const { search, tooLong } = useSearchText(typed);
  const wanted = useWanted(search);
  const pages = usePages(
    // A rare name may lie requests away (each reads 5,000 items at most): asked on, one at a time.
    (cursor) =>
      searchPages((at, size) => pageOf({ search, cursor: at, limit: size }), {
        search,
        limit,
        cursor: cursor ?? null,
        wanted: () => wanted(search),
      }),
    [search, ...deps],
  );
  return { typed, setTyped, search, tooLong, pages };
};

/**
 * Whether a page shows the list's items: its first page answered and something is in it. The
 * search box's `aria-controls` names the list only then (an id of nothing is invalid ARIA), so
 * the pages and the box ask this one question.
 */
export const listShown = <T,>(list: ListSearch<T>): boolean =>
  Boolean(list.pages.first.data) && list.pages.items.length > 0;

/** The search box: its label, the text, and what is wrong with it (too long: nothing asked). */
export const SearchBox = <T,>({
  id,
  label,
  list,
  controls,
}: {
  id: string;
  label: string;
  list: ListSearch<T>;
  /** The id of the list it narrows (rendered while it has items). */
  controls?: string;
}) => (
  <>
    <div class="control inline">
      <label for={id}>{label}</label>
      <input
        id={id}
        type="search"
        value={list.typed}
        // Only while the list is there: an id of nothing is invalid ARIA (axe), as when none matched.
        aria-controls={controls && listShown(list) ? controls : undefined}
        onInput={(event) => list.setTyped((event.currentTarget as HTMLInputElement).value)}
      />
    </div>
    <SearchTooLong show={list.tooLong} />
  </>
);

/**
 * Above the list: loading, or its error with a retry; once the whole list is read without an
 * item, `none` (no search) or `noMatch`. Nothing while requests so far found nothing but more
 * remain: ListMore offers "Search further" then.
 */
export const ListStatus = <T,>({ list, none, noMatch }: { list: ListSearch<T>; none: string; noMatch: string }) => {
  const { first, items, next } = list.pages;
  return (
    <>
      <LoadStatus load={first} />
      {first.data && items.length === 0 && next === null && <p>{list.search ? noMatch : none}</p>}
    </>
  );
};

/** Below the list: "Show more" after items, "Search further" while none matched yet; and their error. */
export const ListMore = <T,>({ list }: { list: ListSearch<T> }) => (
  <ShowMore pages={list.pages} label={list.pages.items.length === 0 ? t('app.searchFurther') : undefined} />
);
