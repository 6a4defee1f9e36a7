import { useState } from 'preact/hooks';
import { request, type Segment } from '../api.ts';
import { ErrorMessage, LoadStatus, PageTitle, TableRegion, useAction, useLoad } from '../components.tsx';
import { FilterView } from '../filters.tsx';
import { formatDate, t } from '../i18n.ts';
import { href } from '../router.ts';

/** One page of segments (in id order); each names its filter's cohorts (the API reads their names for the page). */
const segmentPage = async (cursor?: string) => {
  const query = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}) });
  const answer = await request<{ segments: Segment[]; next_cursor: string | null }>('GET', `/segments?${query}`);
  return { segments: answer.segments, next: answer.next_cursor };
};

/** The workspace's segments a page at a time (a workspace may hold thousands), "Show more" for the next. */
export const SegmentsPage = () => {
  const first = useLoad(() => segmentPage(), []);
  const [more, setMore] = useState<Awaited<ReturnType<typeof segmentPage>>>();
  const { busy, error, run } = useAction();
  const segments = [...(first.data?.segments ?? []), ...(more?.segments ?? [])];
  const next = more ? more.next : (first.data?.next ?? null);
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
      {first.data && next !== null && (
        <button
          type="button"
          class="secondary"
          disabled={busy}
          onClick={() =>
            run(async () => {
              const page = await segmentPage(next);
              setMore({ segments: [...(more?.segments ?? []), ...page.segments], next: page.next });
            })
          }
        >
          {t('cohorts.showMore')}
        </button>
      )}
      {error !== undefined && <ErrorMessage error={error} />}
    </>
  );
};
