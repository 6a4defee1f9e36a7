import { requestAll, type Segment } from '../api.ts';
import { LoadStatus, PageTitle, TableRegion, useLoad } from '../components.tsx';
import { FilterView } from '../filters.tsx';
import { formatDate, t } from '../i18n.ts';
import { href } from '../router.ts';
import { loadCohorts } from './cohorts.tsx';

export const SegmentsPage = () => {
  const segments = useLoad(async () => ({ segments: await requestAll<Segment>('/segments', 'segments') }), []);
  const cohorts = useLoad(loadCohorts, []);
  return (
    <>
      <PageTitle title={t('segments.title')}>{t('segments.title')}</PageTitle>
      <p>{t('segments.intro')}</p>
      <p>
        <a class="button" href={href('segments', 'new')}>
          {t('segments.new')}
        </a>
      </p>
      <LoadStatus load={segments} />
      {segments.data && segments.data.segments.length === 0 && <p>{t('segments.none')}</p>}
      {segments.data && segments.data.segments.length > 0 && (
        <TableRegion label={t('segments.tableCaption')}>
          <table>
            <caption>{t('segments.tableCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('segments.name')}</th>
                <th scope="col">{t('segments.filter')}</th>
                <th scope="col">{t('segments.updated')}</th>
              </tr>
            </thead>
            <tbody>
              {[...segments.data.segments]
                .sort((a, b) => a.name.localeCompare(b.name))
                .map((segment) => (
                  <tr key={segment.segment_id}>
                    <th scope="row">
                      <a href={href('segments', segment.segment_id)}>{segment.name}</a>
                    </th>
                    <td>
                      <FilterView filter={segment.filter} cohorts={cohorts.data?.cohorts ?? []} />
                    </td>
                    <td>{formatDate(segment.updated_at)}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </TableRegion>
      )}
    </>
  );
};
