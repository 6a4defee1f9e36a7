import { ApiError, cohortPage, cohortPath, request, type Cohort, type Filter, type SyncReport } from '../api.ts';
import { Breadcrumb, Field, LoadStatus, PageTitle, TableRegion, useInterval, useLoad } from '../components.tsx';
import { ListMore, ListStatus, listShown, SearchBox, useListSearch } from '../list-search.tsx';
import { cohortKey, conditionsOf, rootOf } from '../filters.tsx';
import { formatDate, formatNumber, t } from '../i18n.ts';
import { partnerName } from '../partners.ts';
import { href } from '../router.ts';

/**
 * The cohorts a segment's filter names (for their names), each asked once, one at a time: a
 * filter names a few, where the workspace may hold thousands. A cohort that is gone is left
 * out (the filter shows its id).
 */
export const loadNamedCohorts = async (filters: readonly Filter[]): Promise<Cohort[]> => {
  const refs = new Map<string, { partner: string; cohortId: string }>();
  for (const filter of filters)
    for (const condition of conditionsOf(rootOf(filter, 'heap')))
      refs.set(cohortKey(condition.partner, condition.cohortId), condition);
  const found: Cohort[] = [];
  // One at a time: a view never has more than one request in flight.
  for (const ref of refs.values()) {
    try {
      found.push((await request<{ cohort: Cohort }>('GET', cohortPath(ref.partner, ref.cohortId))).cohort);
    } catch {
      // Gone, or not answered: the filter shows the cohort's id.
    }
  }
  return found;
};

/**
 * The workspace's cohorts, a page at a time (a workspace may hold thousands): searched on the
 * server as the user types (a name containing the text, or an id starting with it; a search
 * asks on by itself until it has a page of matches, the end, or ten requests), "Show more"
 * (or "Search further") for the next page. The first page refreshes by itself (one request at a time, slower
 * when the API is), so new cohorts and counts appear while the page is open.
 */
export const CohortsPage = () => {
  const cohorts = useListSearch<Cohort>(async ({ search, cursor, limit }) => {
    const page = await cohortPage({ search, cursor, limit });
    return { items: page.cohorts, next: page.next };
  });
  const { pages } = cohorts;
  const { first, items: list } = pages;
  // Only the first page refreshes, and only while it is the only one shown (see Pages.extended);
  // not while the page is loading: a search's requests follow one another for a second or more at
  // 10,000 cohorts, and a poll among them would be a second request in flight.
  useInterval(() => (first.loading ? undefined : first.reload()), pages.extended ? undefined : 5_000);
  const label = t('cohorts.tableCaption');
  return (
    <>
      <PageTitle title={t('cohorts.title')}>{t('cohorts.title')}</PageTitle>
      <p>{t('cohorts.intro')}</p>
      <SearchBox id="cohort-search" label={t('cohorts.search')} list={cohorts} controls="cohort-list" />
      <ListStatus list={cohorts} none={t('cohorts.none')} noMatch={t('cohorts.noMatch')} />
      {listShown(cohorts) && (
        <TableRegion label={label}>
          <table id="cohort-list">
            <caption>{label}</caption>
            <thead>
              <tr>
                <th scope="col">{t('cohorts.name')}</th>
                <th scope="col">{t('cohorts.partner')}</th>
                <th scope="col">{t('cohorts.id')}</th>
                <th scope="col" class="number">
                  {t('cohorts.members')}
                </th>
                <th scope="col">{t('cohorts.created')}</th>
                <th scope="col">{t('cohorts.lastSynced')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((cohort) => (
                <tr key={`${cohort.partner}#${cohort.cohort_id}`}>
                  <th scope="row" class="clip">
                    <a href={href('cohorts', cohort.partner, cohort.cohort_id)} title={cohort.name}>
                      {cohort.name}
                    </a>
                  </th>
                  <td>{partnerName(cohort.partner)}</td>
                  <td class="mono clip" title={cohort.cohort_id}>
                    {cohort.cohort_id}
                  </td>
                  <td class="number">{formatNumber(cohort.member_count)}</td>
                  <td>{formatDate(cohort.created_at ?? cohort.first_seen_at)}</td>
                  <td>{formatDate(cohort.last_synced_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      <ListMore list={cohorts} />
    </>
  );
};

const REPORT_COLUMNS = [
  ['received', 'cohort.received'],
  ['matched', 'cohort.matched'],
  ['unmatched', 'cohort.unmatched'],
  ['added', 'cohort.added'],
  ['removed', 'cohort.removed'],
  ['already_in_state', 'cohort.alreadyInState'],
  ['superseded', 'cohort.superseded'],
] as const;

export const CohortPage = ({ partner, cohortId }: { partner: string; cohortId: string }) => {
  const cohort = useLoad(
    () => request<{ cohort: Cohort & { sync_reports: SyncReport[] } }>('GET', cohortPath(partner, cohortId)),
    [partner, cohortId],
  );
  // Reports arrive as syncs are applied: refresh while the page is open, unless there is no such
  // cohort (a 404 does not go away by asking every 3 s).
  const missing = cohort.error instanceof ApiError && cohort.error.status === 404;
  useInterval(() => cohort.reload(), missing ? undefined : 3_000);
  const data = cohort.data?.cohort;
  const title = data?.name ?? cohortId;
  return (
    <>
      <Breadcrumb list="cohorts" />
      <PageTitle title={title}>{title}</PageTitle>
      <LoadStatus load={cohort} />
      {data && (
        <>
          <dl class="fields">
            <Field label={t('cohort.partner')} value={partnerName(data.partner)} />
            <Field label={t('cohort.id')} value={<span class="mono">{data.cohort_id}</span>} />
            <Field
              label={t('cohort.members')}
              value={<span data-testid="member-count">{formatNumber(data.member_count)}</span>}
            />
            <Field label={t('cohort.created')} value={formatDate(data.created_at)} />
            {data.renamed_at && <Field label={t('cohort.renamed')} value={formatDate(data.renamed_at)} />}
            <Field label={t('cohort.firstSeen')} value={formatDate(data.first_seen_at)} />
            <Field label={t('cohort.lastSynced')} value={formatDate(data.last_synced_at)} />
          </dl>
          <h2>{t('cohort.reports')}</h2>
          <p class="muted">{t('cohort.reportsIntro')}</p>
          {data.sync_reports.length === 0 ? (
            <p>{t('cohort.noReports')}</p>
          ) : (
            <TableRegion label={t('cohort.reports')}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t('cohort.processed')}</th>
                    {REPORT_COLUMNS.map(([field, key]) => (
                      <th scope="col" class="number" key={field}>
                        {t(key)}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {data.sync_reports.map((report) => (
                    <tr key={report.request_id}>
                      <th scope="row">{formatDate(report.processed_at)}</th>
                      {REPORT_COLUMNS.map(([field]) => (
                        <td class="number" key={field}>
                          {formatNumber(report[field])}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableRegion>
          )}
        </>
      )}
    </>
  );
};
