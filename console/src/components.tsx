/** Pieces every page uses: loading, actions, errors (the API's message, as sent), titles that take focus, tables that scroll. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError, FormProblems } from './api.ts';
import { t } from './i18n.ts';
import { href } from './router.ts';
import { SEARCH_MAX_CHARACTERS, searchLength } from '../../lib/contract/search.ts';

export interface Load<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (data: T) => void;
}

/** Loads once per change of `deps`; `reload` asks again (polling keeps the data shown meanwhile). */
export const useLoad = <T,>(load: () => Promise<T>, deps: readonly unknown[]): Load<T> => {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const current = useRef(0);
  const reload = useCallback(async () => {
    const call = ++current.current;
    try {
      const value = await load();
      if (call !== current.current) return;
      setData(value);
      setError(undefined);
    } catch (caught: unknown) {
      if (call === current.current) setError(caught);
    } finally {
      if (call === current.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    setLoading(true);
    setData(undefined);
    void reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
};

/**
 * A request the user started (a toggle, a save, a replay): `busy` while it runs, so its button
 * cannot start it twice, and what it threw in `error` (or handed to `onError`, where the caller
 * shows it). `run` clears the last error first.
 */
export const useAction = (onError?: (error: unknown) => void) => {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (caught: unknown) {
      (onError ?? setError)(caught);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
};

/** A secondary button that runs one request: disabled while it runs, its failure handed to `onError`. */
export const ActionButton = ({
  action,
  onError,
  label,
  children,
}: {
  action: () => Promise<void>;
  onError: (error: unknown) => void;
  /** Its accessible name, where the visible text alone would not say which row it acts on. */
  label: string;
  children: ComponentChildren;
}) => {
  const { busy, run } = useAction(onError);
  return (
    <button type="button" class="secondary" disabled={busy} onClick={() => run(action)} aria-label={label}>
      {children}
    </button>
  );
};

/**
 * A destructive action asks first, in the page (no browser dialog): the first click shows the
 * question with "Yes, …" and Cancel (focused, so Enter does not confirm by accident); only
 * "Yes" runs it, once (disabled while it runs).
 */
export const ConfirmButton = ({
  action,
  onError,
  question,
  confirm,
  label,
  children,
}: {
  action: () => Promise<void>;
  onError: (error: unknown) => void;
  question: string;
  confirm: string;
  /** The first button's accessible name, where its text alone would not say what it acts on. */
  label?: string;
  children: ComponentChildren;
}) => {
  const [asking, setAsking] = useState(false);
  const { busy, run } = useAction(onError);
  const cancel = useRef<HTMLButtonElement>(null);
  // Before the question is painted: an effect runs a frame or more later (on a busy machine, the
  // tour at size saw the question shown with the focus on the page's body), when Enter or a
  // screen reader would not be on Cancel.
  useLayoutEffect(() => {
    if (asking) cancel.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" class="danger" aria-label={label} onClick={() => setAsking(true)}>
        {children}
      </button>
    );
  return (
    <fieldset class="confirm">
      <legend>{question}</legend>
      <button
        type="button"
        class="danger"
        disabled={busy}
        onClick={() =>
          run(async () => {
            await action();
            setAsking(false);
          })
        }
      >
        {confirm}
      </button>
      <button type="button" class="secondary" ref={cancel} disabled={busy} onClick={() => setAsking(false)}>
        {t('app.cancel')}
      </button>
    </fieldset>
  );
};

/**
 * Polls: calls `tick` `ms` after the last call ended, never while one is running, and not at
 * all in a background tab. A slow answer slows the polling down (the next call waits at least
 * twice as long as the last one took), so a busy API is never asked more the slower it gets.
 */
export const useInterval = (tick: () => void | Promise<void>, ms: number | undefined) => {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (ms === undefined) return;
    let stopped = false;
    let timer: number | undefined;
    const schedule = (delay: number) => {
      if (!stopped) timer = window.setTimeout(run, delay);
    };
    const run = async () => {
      if (document.visibilityState !== 'visible') return schedule(ms);
      const started = performance.now();
      try {
        await saved.current();
      } catch {
        // The page shows a load's error itself; polling goes on.
      }
      schedule(Math.max(ms, 2 * (performance.now() - started)));
    };
    schedule(ms);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [ms]);
};

/** A page of a list as the API answers it: items, and the cursor of the next page (null at the end). */
export interface ListPage<T> {
  items: T[];
  next: string | null;
}

export interface Pages<T> {
  /** The first page: loading, its error, and `reload` (which also drops the pages after it). */
  first: Load<ListPage<T>>;
  /** Every item shown: the first page's, then those "Show more" added. */
  items: T[];
  next: string | null;
  /** More than the first page is shown: refreshing the first alone could skip or repeat an item at the seam. */
  extended: boolean;
  more: () => Promise<void>;
  busy: boolean;
  error: unknown;
}

/**
 * A list a page at a time (a workspace may hold thousands): the first page whenever `deps`
 * change, then each next one on "Show more". A page that answers after `deps` changed (the
 * user searched again) is dropped; one request at a time.
 */
export const usePages = <T,>(load: (cursor?: string) => Promise<ListPage<T>>, deps: readonly unknown[]): Pages<T> => {
  const first = useLoad(() => load(), deps);
  // Every new query and every reload starts a new generation: a "Show more" answered for an
  // older one is dropped, and the pages it added are gone (coming back to a search reads afresh).
  const generation = useRef(0);
  const key = JSON.stringify(deps);
  const keyOf = useRef(key);
  if (keyOf.current !== key) {
    keyOf.current = key;
    generation.current += 1;
  }
  const [extra, setExtra] = useState<ListPage<T> & { generation: number }>();
  const { busy, error, run } = useAction();
  const shown = extra?.generation === generation.current ? extra : undefined;
  const next = shown ? shown.next : (first.data?.next ?? null);
  const more = () =>
    run(async () => {
      if (next === null) return;
      const asked = generation.current;
      const page = await load(next);
      if (generation.current !== asked) return;
      setExtra((current) => ({
        generation: asked,
        items: [...(current?.generation === asked ? current.items : []), ...page.items],
        next: page.next,
      }));
    });
  const reload = async () => {
    generation.current += 1;
    setExtra(undefined);
    await first.reload();
  };
  return {
    first: { ...first, reload },
    items: [...(first.data?.items ?? []), ...(shown?.items ?? [])],
    next,
    // A "Show more" in flight counts: a refresh of the first page meanwhile could skip a row.
    extended: shown !== undefined || busy,
    more,
    busy,
    error,
  };
};

/** "Show more" under a paged list (while there is a next page), and what it failed with. */
export const ShowMore = <T,>({ pages, label }: { pages: Pages<T>; label?: string }) => (
  <>
    {pages.first.data && pages.next !== null && (
      <button type="button" class="secondary" disabled={pages.busy} onClick={() => void pages.more()}>
        {label ?? t('app.showMore')}
      </button>
    )}
    {pages.error !== undefined && <ErrorMessage error={pages.error} />}
  </>
);

/**
 * Whether a value is still the one shown: `wanted(asked)` turns false once the value changed
 * (the user typed on) or the view was left, so a load that chains requests stops asking.
 */
export const useWanted = <T,>(value: T): ((asked: T) => boolean) => {
  const shown = useRef<{ value: T } | undefined>(undefined);
  shown.current = { value };
  useEffect(
    () => () => {
      shown.current = undefined;
    },
    [],
  );
  return (asked) => shown.current !== undefined && Object.is(shown.current.value, asked);
};

/** `value` once it has stood still for `ms` (a search box's text, asked of the server as the user pauses). */
export const useDebounced = <T,>(value: T, ms: number): T => {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
};

/**
 * A search box's text as the list asks for it: trimmed and debounced, and not asked at all
 * while it is longer than the API takes (200 characters as typed, counted as the API counts
 * them: an emoji is one, not two UTF-16 units), which `tooLong` says so the box can.
 */
export const useSearchText = (typed: string, ms = 300): { search: string; tooLong: boolean } => {
  const trimmed = typed.trim();
  const tooLong = searchLength(trimmed) > SEARCH_MAX_CHARACTERS;
  return { search: useDebounced(tooLong ? '' : trimmed, ms), tooLong };
};

/** Said under a search box whose text is too long (the browser's own check: nothing was asked). */
export const SearchTooLong = ({ show }: { show: boolean }) =>
  show ? (
    <div class="error" role="alert">
      <p class="error-message">{t('app.searchTooLong', { count: SEARCH_MAX_CHARACTERS })}</p>
    </div>
  ) : null;

export const Loading = () => (
  <p class="muted" role="status">
    {t('app.loading')}
  </p>
);

/** What a load shows until its data is there: that it is loading, or its error with a retry. */
export const LoadStatus = ({ load }: { load: Pick<Load<unknown>, 'loading' | 'error' | 'reload'> }) => (
  <>
    {load.loading && <Loading />}
    {load.error !== undefined && <ErrorMessage error={load.error} retry={load.reload} />}
  </>
);

/** An error from the API, shown with its message and details as the API sent them (as text). */
export const ErrorMessage = ({ error, retry }: { error: unknown; retry?: () => void }) => {
  if (error instanceof FormProblems)
    return (
      <div class="error" role="alert">
        <p class="error-title">{t('app.formTitle')}</p>
        <ul>
          {error.problems.map((problem) => (
            <li key={problem}>{problem}</li>
          ))}
        </ul>
      </div>
    );
  const api = error instanceof ApiError ? error : undefined;
  const message =
    api?.status === 0
      ? t('app.networkError', { message: api.message })
      : (api?.message ?? (error instanceof Error ? error.message : String(error)));
  return (
    <div class="error" role="alert">
      <p class="error-title">{t('app.errorTitle')}</p>
      <p class="error-message">{message}</p>
      {api && api.status > 0 && <p class="muted">{t('app.errorStatus', { status: api.status })}</p>}
      {api && api.details.length > 0 && (
        <ul>
          {api.details.slice(0, 10).map((detail) => (
            <li key={detail}>{detail}</li>
          ))}
        </ul>
      )}
      {retry && (
        <button type="button" class="secondary" onClick={retry}>
          {t('app.retry')}
        </button>
      )}
    </div>
  );
};

/** The page's heading: it takes the focus when the page opens, so a screen reader announces where we are. */
/**
 * A user's text (a name) set apart in plain text, where no element can isolate it (the
 * document's title, a tooltip): between U+2068 FIRST STRONG ISOLATE and U+2069 POP DIRECTIONAL
 * ISOLATE, a bidirectional control in it (U+202E RIGHT-TO-LEFT OVERRIDE) ends with it and
 * reverses nothing around it. In the page, names sit in `<bdi>` or an isolating element (styles.css).
 */
export const isolated = (text: string) => `\u2068${text}\u2069`;

export const PageTitle = ({ children, title }: { children: ComponentChildren; title: string }) => {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${isolated(title)} · ${t('app.title')}`;
    heading.current?.focus();
  }, [title]);
  return (
    <h1 ref={heading} tabIndex={-1} id="page-title">
      <bdi>{children}</bdi>
    </h1>
  );
};

/** Above the page of one item (a campaign, a cohort, …): the way back to the list it belongs to. */
export const Breadcrumb = ({ list }: { list: 'campaigns' | 'cohorts' | 'currents' | 'partners' | 'segments' }) => (
  <p class="breadcrumb">
    <a href={href(list)}>{t(`${list}.title`)}</a>
  </p>
);

/** A wide table on a narrow screen scrolls sideways; the region can take the focus so the keyboard scrolls it too. */
export const TableRegion = ({ label, children }: { label: string; children: ComponentChildren }) => (
  // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1)
  <section class="table-wrap" aria-label={t('app.scrollRegion', { name: label })} tabIndex={0}>
    {children}
  </section>
);

/** Announced politely when it changes (a saved form, a copied key). */
export const Notice = ({ message }: { message: string | undefined }) => (
  <p class="notice" role="status">
    {message ?? ''}
  </p>
);

/** One radio button of a group, inside its label. */
export const Choice = ({
  name,
  checked,
  onChange,
  label,
}: {
  name: string;
  checked: boolean;
  onChange: () => void;
  label: ComponentChildren;
}) => (
  <label class="choice">
    <input type="radio" name={name} checked={checked} onChange={onChange} />
    {label}
  </label>
);

export const Field = ({ label, value }: { label: string; value: ComponentChildren }) => (
  <div class="field">
    <dt>{label}</dt>
    <dd>{value}</dd>
  </div>
);
