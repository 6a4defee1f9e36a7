import { path, request, requestAll, type Cohort, type SyncReport } from '../api.ts';
import { Breadcrumb, Field, LoadStatus, PageTitle, TableRegion, useInterval, useLoad } from '../components.tsx';
import { formatDate, formatNumber, t } from '../i18n.ts';
import { partnerName } from '../partners.ts';
import { href } from '../router.ts';

export const loadCohorts = async () => ({ cohorts: await requestAll<Cohort>('/cohorts', 'cohorts') });

/** Cohorts by partner, each partner's by name. */
export const byPartner = (cohorts: readonly Cohort[]): [string, Cohort[]][] => {
  const groups = new Map<string, Cohort[]>();
  for (const cohort of cohorts) groups.set(cohort.partner, [...(groups.get(cohort.partner) ?? []), cohort]);
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([partner, list]) => [partner, list.sort((a, b) => a.name.localeCompare(b.name))]);
};

export const CohortsPage = () => {
  const cohorts = useLoad(loadCohorts, []);
  // New cohorts and counts arrive while the page is open.
  useInterval(() => cohorts.reload(), 5_000);
  return (
    <>
      <PageTitle title={t('cohorts.title')}>{t('cohorts.title')}</PageTitle>
      <p>{t('cohorts.intro')}</p>
      <LoadStatus load={cohorts} />
      {cohorts.data && cohorts.data.cohorts.length === 0 && <p>{t('cohorts.none')}</p>}
      {cohorts.data &&
        byPartner(cohorts.data.cohorts).map(([partner, list]) => {
          const heading = t('cohorts.partnerHeading', { partner: partnerName(partner) });
          return (
            <section key={partner} aria-label={heading}>
              <h2>{heading}</h2>
              <TableRegion label={heading}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t('cohorts.name')}</th>
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
                      <tr key={cohort.cohort_id}>
                        <th scope="row">
                          <a href={href('cohorts', cohort.partner, cohort.cohort_id)}>{cohort.name}</a>
                        </th>
                        <td class="mono">{cohort.cohort_id}</td>
                        <td class="number">{formatNumber(cohort.member_count)}</td>
                        <td>{formatDate(cohort.created_at ?? cohort.first_seen_at)}</td>
                        <td>{formatDate(cohort.last_synced_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableRegion>
            </section>
          );
        })}
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
    () => request<{ cohort: Cohort & { sync_reports: SyncReport[] } }>('GET', path`/cohorts/${partner}/${cohortId}`),
    [partner, cohortId],
  );
  // Reports arrive as syncs are applied: refresh while the page is open.
  useInterval(() => cohort.reload(), 3_000);
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
