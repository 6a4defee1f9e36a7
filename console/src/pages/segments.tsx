import { request, type Segment } from '../api.ts';
import { LoadStatus, PageTitle, ShowMore, TableRegion, usePages } from '../components.tsx';
import { FilterView } from '../filters.tsx';
import { formatDate, t } from '../i18n.ts';
import { href } from '../router.ts';

/** One page of segments (in id order); each names its filter's cohorts (the API reads their names for the page). */
const segmentPage = async (cursor?: string | null) => {
  const query = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}) });
  const answer = await request<{ segments: Segment[]; next_cursor: string | null }>('GET', `/segments?${query}`);
  return { segments: answer.segments, next: answer.next_cursor };
};

/** The workspace's segments a page at a time (a workspace may hold thousands), "Show more" for the next. */
export const SegmentsPage = () => {
  const pages = usePages(async (cursor) => {
    const page = await segmentPage(cursor);
    return { items: page.segments, next: page.next };
  }, []);
  const { first, items: segments, next } = pages;
  return (
    <>
      <PageTitle title={t('segments.title')}>{t('segments.title')}</PageTitle>
      <p>{t('segments.intro')}</p>
      <p>
        <a class="button" href={href('segments', 'new')}>
          {t('segments.new')}
        </a>
      </p>
      <LoadStatus load={first} />
      {first.data && segments.length === 0 && next === null && <p>{t('segments.none')}</p>}
      {segments.length > 0 && (
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
              {segments.map((segment) => (
                <tr key={segment.segment_id}>
                  <th scope="row" class="clip">
                    <a href={href('segments', segment.segment_id)} title={segment.name}>
                      {segment.name}
                    </a>
                  </th>
                  <td>
                    <FilterView filter={segment.filter} cohorts={segment.cohorts ?? []} />
                  </td>
                  <td>{formatDate(segment.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      <ShowMore pages={pages} />
    </>
  );
};
