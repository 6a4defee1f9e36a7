import { segmentPage, type Segment } from '../api.ts';
import { PageTitle, TableRegion } from '../components.tsx';
import { FilterView } from '../filters.tsx';
import { formatDate, t } from '../i18n.ts';
import { ListMore, ListStatus, listShown, SearchBox, useListSearch } from '../list-search.tsx';
import { href } from '../router.ts';

/**
 * The workspace's segments a page at a time (a workspace may hold thousands), searched on the
 * server as the user types (list-search.tsx), "Show more" (or "Search further") for the next.
 */
export const SegmentsPage = () => {
  const list = useListSearch<Segment>(segmentPage);
  const { items: segments } = list.pages;
  return (
    <>
      <PageTitle title={t('segments.title')}>{t('segments.title')}</PageTitle>
      <p>{t('segments.intro')}</p>
      <p>
        <a class="button" href={href('segments', 'new')}>
          {t('segments.new')}
        </a>
      </p>
      <SearchBox id="segment-list-search" label={t('segments.search')} list={list} controls="segment-list" />
      <ListStatus list={list} none={t('segments.none')} noMatch={t('segments.noMatch')} />
      {listShown(list) && (
        <TableRegion label={t('segments.tableCaption')}>
          <table id="segment-list">
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
      <ListMore list={list} />
    </>
  );
};
