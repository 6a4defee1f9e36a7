/**
 * The segment builder: a name, and a filter of "<Partner> cohort" → includes / does not
 * include → cohort (a dropdown of the partner's cohorts, searched on the server as the user
 * types: a workspace may hold thousands), combined with all/any in groups nested as deep as
 * the API takes.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  cohortPartners,
  cohortPath,
  FormProblems,
  path,
  request,
  searchCohorts,
  type Cohort,
  type Segment,
} from '../api.ts';
import {
  Breadcrumb,
  ErrorMessage,
  isolated,
  Loading,
  PageTitle,
  useLoad,
  useWanted,
  SearchTooLong,
  useSearchText,
} from '../components.tsx';
import {
  cohortKey,
  conditionsOf,
  estimate,
  formatEstimate,
  MAX_FILTER_DEPTH,
  newCondition,
  newGroup,
  rootOf,
  toFilter,
  type Condition,
  type Group,
  type Node,
} from '../filters.tsx';
import { t } from '../i18n.ts';
import { partnerName } from '../partners.ts';
import { href, navigate } from '../router.ts';

interface EditorContext {
  /** Partners with at least one cohort in the workspace. */
  partners: string[];
  /** Cohorts seen so far (chosen, or in a search's answer): names and counts for the estimate. */
  known: Map<string, Cohort>;
  remember: (cohorts: readonly Cohort[]) => void;
  update: (node: Node) => void;
  remove: (id: number) => void;
}

/** Options a search shows at once: the user narrows the search for others. */
const PICKER_OPTIONS = 50;

/** Replaces the node with `next.id` anywhere under `node`. */
const replace = (node: Node, next: Node): Node =>
  node.id === next.id
    ? next
    : node.kind === 'group'
      ? { ...node, children: node.children.map((child) => replace(child, next)) }
      : node;

const without = (node: Node, id: number): Node =>
  node.kind === 'group'
    ? { ...node, children: node.children.filter((child) => child.id !== id).map((child) => without(child, id)) }
    : node;

const ConditionEditor = ({
  condition,
  number,
  context,
}: {
  condition: Condition;
  number: number;
  context: EditorContext;
}) => {
  const [search, setSearch] = useState('');
  const { search: needle, tooLong } = useSearchText(search);
  // A filter with its cohort chosen asks for options only once the user turns to it: a segment
  // naming 50 cohorts opens with no request per filter (one request at a time per view).
  const [active, setActive] = useState(condition.cohortId === '');
  const query = `${condition.partner}\u0000${needle}`;
  const wanted = useWanted(query);
  // "Search further": where a search that matched nothing in its ten requests goes on from (for this query only).
  const [further, setFurther] = useState<{ query: string; cursor: string }>();
  const from = further?.query === query ? further.cursor : null;
  const found = useLoad(
    () =>
      active
        ? // A rare name may lie requests away (each reads 5,000 cohorts at most): asked on, one at a time,
          // so that typing it finds it, and its only match is chosen.
          searchCohorts({
            search: needle,
            partner: condition.partner,
            limit: PICKER_OPTIONS,
            cursor: from,
            wanted: () => wanted(query),
          })
        : Promise.resolve({ cohorts: [], next: null }),
    [needle, condition.partner, active, from],
  );
  useEffect(() => {
    if (found.data) context.remember(found.data.cohorts);
  }, [found.data]);
  const chosen = context.known.get(cohortKey(condition.partner, condition.cohortId));
  const answered = found.data?.cohorts ?? [];
  // The chosen cohort stays an option whatever the search shows.
  const matching =
    condition.cohortId === '' || answered.some((cohort) => cohort.cohort_id === condition.cohortId)
      ? answered
      : [
          chosen ?? {
            partner: condition.partner,
            cohort_id: condition.cohortId,
            name: condition.cohortId,
            member_count: 0,
            created_at: null,
            renamed_at: null,
            first_seen_at: '',
            last_synced_at: null,
          },
          ...answered,
        ];
  const id = `condition-${condition.id}`;
  const set = (change: Partial<Condition>) => context.update({ ...condition, ...change });
  // The only match of a search is chosen, so typing a name is enough.
  useEffect(() => {
    if (needle !== '' && found.data && answered.length === 1 && found.data.next === null) {
      if (answered[0]!.cohort_id !== condition.cohortId) set({ cohortId: answered[0]!.cohort_id });
    }
  }, [found.data]);
  return (
    <fieldset class="condition">
      <legend>{t('builder.condition', { n: number })}</legend>
      <div class="condition-fields">
        <div class="control">
          <label for={`${id}-type`}>{t('builder.type')}</label>
          <select
            id={`${id}-type`}
            value={condition.partner}
            onChange={(event) => {
              setActive(true);
              set({ partner: (event.currentTarget as HTMLSelectElement).value, cohortId: '' });
            }}
          >
            {context.partners.map((partner) => (
              <option key={partner} value={partner}>
                {t('builder.cohortOf', { partner: partnerName(partner) })}
              </option>
            ))}
          </select>
        </div>
        <div class="control">
          <label for={`${id}-test`}>{t('builder.test')}</label>
          <select
            id={`${id}-test`}
            value={condition.includes ? 'includes' : 'excludes'}
            onChange={(event) => set({ includes: (event.currentTarget as HTMLSelectElement).value === 'includes' })}
          >
            <option value="includes">{t('builder.includes')}</option>
            <option value="excludes">{t('builder.excludes')}</option>
          </select>
        </div>
        <div class="control">
          <label for={`${id}-search`}>{t('builder.search')}</label>
          <input
            id={`${id}-search`}
            type="search"
            value={search}
            onFocus={() => setActive(true)}
            aria-controls={`${id}-cohort`}
            onInput={(event) => setSearch((event.currentTarget as HTMLInputElement).value)}
          />
          <SearchTooLong show={tooLong} />
        </div>
        <div class="control">
          <label for={`${id}-cohort`}>{t('builder.cohort')}</label>
          <select
            id={`${id}-cohort`}
            value={condition.cohortId}
            onFocus={() => setActive(true)}
            onChange={(event) => set({ cohortId: (event.currentTarget as HTMLSelectElement).value })}
          >
            <option value="">{t('builder.chooseCohort')}</option>
            {matching.map((cohort) => (
              <option key={cohort.cohort_id} value={cohort.cohort_id}>
                {/* An option is plain text: the name isolated there, so a bidirectional control in it spares the id. */}
                {cohort.name === cohort.cohort_id ? cohort.name : `${isolated(cohort.name)} (${cohort.cohort_id})`}
              </option>
            ))}
          </select>
        </div>
      </div>
      {found.error !== undefined && <ErrorMessage error={found.error} retry={found.reload} />}
      {/* No match yet is not no match: the requests so far read part of the cohorts, more remain. */}
      {active && found.data && answered.length === 0 && found.data.next === null && (
        <p class="muted small">{t('builder.noMatch')}</p>
      )}
      {found.data?.next && answered.length > 0 && (
        <p class="muted small">{t('builder.narrow', { count: PICKER_OPTIONS })}</p>
      )}
      {found.data?.next && answered.length === 0 && (
        <button
          type="button"
          class="secondary"
          onClick={() => found.data?.next && setFurther({ query, cursor: found.data.next })}
        >
          {t('app.searchFurther')}
        </button>
      )}
      <button type="button" class="link" onClick={() => context.remove(condition.id)}>
        {t('builder.remove', { n: number })}
      </button>
    </fieldset>
  );
};

const GroupEditor = ({
  group,
  level,
  context,
  numbering,
}: {
  group: Group;
  level: number;
  context: EditorContext;
  numbering: Map<number, number>;
}) => {
  const firstPartner = context.partners[0] ?? 'heap';
  return (
    <fieldset class={level === 1 ? 'group root' : 'group'}>
      <legend>{level === 1 ? t('builder.group') : t('builder.nestedGroup', { level })}</legend>
      <div class="control inline">
        <label for={`group-${group.id}-match`}>{t('builder.match')}</label>
        <select
          id={`group-${group.id}-match`}
          value={group.combinator}
          onChange={(event) =>
            context.update({ ...group, combinator: (event.currentTarget as HTMLSelectElement).value as 'all' | 'any' })
          }
        >
          <option value="all">{t('builder.all')}</option>
          <option value="any">{t('builder.any')}</option>
        </select>
      </div>
      {group.children.map((child) =>
        child.kind === 'cohort' ? (
          <ConditionEditor key={child.id} condition={child} number={numbering.get(child.id) ?? 0} context={context} />
        ) : (
          <GroupEditor key={child.id} group={child} level={level + 1} context={context} numbering={numbering} />
        ),
      )}
      <div class="actions">
        <button
          type="button"
          class="secondary"
          onClick={() => context.update({ ...group, children: [...group.children, newCondition(firstPartner)] })}
        >
          {t('builder.addCondition')}
        </button>
        {/* A nested group holds cohort tests one level further down: at most MAX_FILTER_DEPTH levels in all. */}
        {level + 2 <= MAX_FILTER_DEPTH && (
          <button
            type="button"
            class="secondary"
            onClick={() =>
              context.update({ ...group, children: [...group.children, newGroup([newCondition(firstPartner)])] })
            }
          >
            {t('builder.addGroup')}
          </button>
        )}
        {level > 1 && (
          <button type="button" class="link" onClick={() => context.remove(group.id)}>
            {t('builder.removeGroup')}
          </button>
        )}
      </div>
    </fieldset>
  );
};

const Editor = ({ segment, start }: { segment: Segment | undefined; start: EditorStart }) => {
  const [name, setName] = useState(segment?.name ?? '');
  const [root, setRoot] = useState<Group>(() => rootOf(segment?.filter, start.partners[0] ?? 'heap'));
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [known, setKnown] = useState(
    () => new Map(start.known.map((cohort) => [cohortKey(cohort.partner, cohort.cohort_id), cohort])),
  );
  const counts = useMemo(() => new Map([...known].map(([key, cohort]) => [key, cohort.member_count])), [known]);
  const conditions = conditionsOf(root);
  const numbering = new Map(conditions.map((condition, index) => [condition.id, index + 1]));
  const complete = conditions.length > 0 && conditions.every((condition) => condition.cohortId !== '');
  const context: EditorContext = {
    partners: start.partners,
    known,
    remember: (cohorts) =>
      setKnown((current) => {
        const next = new Map(current);
        for (const cohort of cohorts) next.set(cohortKey(cohort.partner, cohort.cohort_id), cohort);
        return next;
      }),
    update: (node) => setRoot((current) => replace(current, node) as Group),
    remove: (id) => setRoot((current) => without(current, id) as Group),
  };

  const save = async (event: Event) => {
    event.preventDefault();
    const problems = [
      ...(name.trim() === '' ? [t('builder.missingName')] : []),
      ...(complete ? [] : [t('builder.missingCohort')]),
    ];
    if (problems.length > 0) return setError(new FormProblems(problems));
    setBusy(true);
    setError(undefined);
    try {
      const body = { name: name.trim(), filter: toFilter(root) };
      const answer = segment
        ? // Over the version this form was opened on: a change made meanwhile (another tab) is a 409, not undone.
          await request<{ segment: Segment }>('PUT', path`/segments/${segment.segment_id}`, body, undefined, {
            'if-match': `"${segment.updated_at}"`,
          })
        : await request<{ segment: Segment }>('POST', '/segments', body);
      navigate(href('segments', answer.segment.segment_id));
    } catch (caught: unknown) {
      setError(caught);
      setBusy(false);
    }
  };

  if (start.partners.length === 0) return <p>{t('builder.noCohorts')}</p>;
  return (
    <form onSubmit={save} noValidate>
      <label for="segment-name">{t('builder.name')}</label>
      <input
        id="segment-name"
        value={name}
        maxLength={255}
        onInput={(event) => setName((event.currentTarget as HTMLInputElement).value)}
      />
      <h2>{t('builder.filter')}</h2>
      <GroupEditor group={root} level={1} context={context} numbering={numbering} />
      <p class="estimate" role="status" data-testid="estimate">
        {complete ? formatEstimate(estimate(root, counts)) : ''}
      </p>
      {error !== undefined && <ErrorMessage error={error} />}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {t('builder.save')}
        </button>
        <a class="button secondary" href={segment ? href('segments', segment.segment_id) : href('segments')}>
          {t('builder.cancel')}
        </a>
      </div>
    </form>
  );
};

interface EditorStart {
  partners: string[];
  /** The cohorts an existing segment names (their names and counts), read one by one. */
  known: Cohort[];
}

/**
 * What the builder needs before it opens, in a few small requests whatever the workspace's
 * size: which partners have cohorts (one request), and the cohorts the segment already
 * names. Cohorts to choose from are searched as the user types.
 */
const loadStart = async (segment: Segment | undefined): Promise<EditorStart> => {
  // One request at a time (a view never has more in flight).
  const partners = await cohortPartners();
  const named = segment ? conditionsOf(rootOf(segment.filter, 'heap')) : [];
  const refs = [
    ...new Map(named.map((condition) => [cohortKey(condition.partner, condition.cohortId), condition])).values(),
  ];
  const known: Cohort[] = [];
  for (const condition of refs) {
    try {
      known.push((await request<{ cohort: Cohort }>('GET', cohortPath(condition.partner, condition.cohortId))).cohort);
    } catch {
      // A cohort the segment names may be gone: it shows by its id.
    }
  }
  return { partners, known };
};

export const SegmentEditor = ({ segmentId }: { segmentId?: string }) => {
  const segment = useLoad(
    () =>
      segmentId === undefined
        ? Promise.resolve(undefined)
        : request<{ segment: Segment }>('GET', path`/segments/${segmentId}`).then((answer) => answer.segment),
    [segmentId],
  );
  const start = useLoad(
    () => (segment.data || segmentId === undefined ? loadStart(segment.data) : Promise.resolve(undefined)),
    [segment.data],
  );
  const title = segmentId ? t('builder.titleEdit') : t('builder.titleNew');
  const loading = segment.loading || start.loading || (start.data === undefined && start.error === undefined);
  return (
    <>
      <Breadcrumb list="segments" />
      <PageTitle title={title}>{title}</PageTitle>
      {loading && segment.error === undefined && <Loading />}
      {segment.error !== undefined && <ErrorMessage error={segment.error} retry={segment.reload} />}
      {start.error !== undefined && <ErrorMessage error={start.error} retry={start.reload} />}
      {!loading && start.data && segment.error === undefined && <Editor segment={segment.data} start={start.data} />}
    </>
  );
};
