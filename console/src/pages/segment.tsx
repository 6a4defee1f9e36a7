/** A segment: its filter, its size (refreshed while it is computed), a page of its members, exports, and who targets it. */
import { useState } from 'preact/hooks';
import { type AudienceUser, type ExportJob, path, request, type Segment } from '../api.ts';
import {
  Breadcrumb,
  ConfirmButton,
  ErrorMessage,
  Field,
  LoadStatus,
  Notice,
  PageTitle,
  TableRegion,
  useAction,
  useInterval,
  useLoad,
} from '../components.tsx';
import { FilterView } from '../filters.tsx';
import { formatDate, t } from '../i18n.ts';
import { href, navigate } from '../router.ts';
import { session } from '../session.ts';
import { loadNamedCohorts } from './cohorts.tsx';
import { TargetingPanel } from './campaigns.tsx';

const PAGE_SIZE = 25;

const sizeStatus = (segment: Segment): string => {
  switch (segment.size_status) {
    case 'exact':
      return t('segment.exact');
    case 'current':
      return t('segment.current', { time: formatDate(segment.size_computed_at) });
    case 'stale':
      return t('segment.stale', { time: formatDate(segment.size_computed_at) });
    default:
      return t('segment.pending');
  }
};

const Members = ({ segmentId }: { segmentId: string }) => {
  // The cursors of the pages before this one, so "first page" and "next page" need no server state.
  const [cursor, setCursor] = useState<string>();
  const page = useLoad(
    () =>
      request<{ users: AudienceUser[]; next_cursor: string | null }>(
        'GET',
        `${path`/segments/${segmentId}/users`}?limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      ),
    [segmentId, cursor],
  );
  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">{t('segment.members')}</h2>
      <LoadStatus load={page} />
      {page.data && page.data.users.length === 0 && <p>{t('segment.noMembers')}</p>}
      {page.data && page.data.users.length > 0 && (
        <TableRegion label={t('segment.membersCaption')}>
          <table>
            <caption>{t('segment.membersCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('segment.externalId')}</th>
                <th scope="col">{t('segment.brazeId')}</th>
                <th scope="col">{t('segment.aliases')}</th>
                <th scope="col">{t('segment.devices')}</th>
              </tr>
            </thead>
            <tbody>
              {page.data.users.map((user) => (
                <tr key={user.braze_id}>
                  <th scope="row">{user.external_id ?? t('app.none')}</th>
                  <td class="mono">{user.braze_id}</td>
                  <td>
                    {user.user_aliases.length === 0
                      ? t('app.none')
                      : user.user_aliases.map((alias) => `${alias.alias_label}: ${alias.alias_name}`).join(', ')}
                  </td>
                  <td>{user.device_ids.length === 0 ? t('app.none') : user.device_ids.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      <div class="actions">
        {cursor !== undefined && (
          <button type="button" class="secondary" onClick={() => setCursor(undefined)}>
            {t('segment.first')}
          </button>
        )}
        {page.data?.next_cursor && (
          <button type="button" class="secondary" onClick={() => setCursor(page.data?.next_cursor ?? undefined)}>
            {t('segment.next')}
          </button>
        )}
      </div>
    </section>
  );
};

/** The export's NDJSON, fetched with the key (a plain link could not carry it) and saved by the browser. */
const download = async (segmentId: string, job: ExportJob) => {
  const response = await fetch(path`/segments/${segmentId}/exports/${job.export_id}/download`, {
    headers: { authorization: `Bearer ${session.key() ?? ''}` },
    credentials: 'omit',
    cache: 'no-store',
  });
  if (!response.ok) {
    const answer = (await response.json().catch(() => ({}))) as { message?: string };
    throw new Error(answer.message ?? `${response.status} ${response.statusText}`);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = `segment-${segmentId}-${job.export_id}.ndjson`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
};

const Export = ({ segmentId }: { segmentId: string }) => {
  const [job, setJob] = useState<ExportJob>();
  // Starting, polling and downloading report to one error line.
  const { busy, error, setError, run } = useAction();
  useInterval(
    async () => {
      if (!job) return;
      try {
        setJob(
          (await request<{ export: ExportJob }>('GET', path`/segments/${segmentId}/exports/${job.export_id}`)).export,
        );
      } catch (caught: unknown) {
        setError(caught);
      }
    },
    job?.status === 'running' ? 1_000 : undefined,
  );
  const start = () =>
    run(async () =>
      setJob((await request<{ export: ExportJob }>('POST', path`/segments/${segmentId}/exports`)).export),
    );
  return (
    <section aria-labelledby="export-title">
      <h2 id="export-title">{t('segment.export')}</h2>
      <p class="muted">{t('segment.exportIntro')}</p>
      <button type="button" onClick={start} disabled={busy || job?.status === 'running'}>
        {t('segment.exportStart')}
      </button>
      <p role="status" data-testid="export-status">
        {job?.status === 'running' && t('segment.exportRunning', { count: job.users_written })}
        {job?.status === 'done' && t('segment.exportDone', { count: job.users_written })}
      </p>
      {job?.status === 'running' && <progress aria-label={t('segment.export')} />}
      {job?.status === 'done' && (
        <>
          <button
            type="button"
            class="secondary"
            onClick={() => download(segmentId, job).catch((caught: unknown) => setError(caught))}
          >
            {t('segment.download')}
          </button>
          <dl class="fields">
            <Field
              label={t('segment.location')}
              value={<span class="mono small">{job.manifest ?? job.location}</span>}
            />
          </dl>
        </>
      )}
      {error !== undefined && <ErrorMessage error={error} />}
    </section>
  );
};

export const SegmentPage = ({ segmentId }: { segmentId: string }) => {
  const segment = useLoad(() => request<{ segment: Segment }>('GET', path`/segments/${segmentId}`), [segmentId]);
  const cohorts = useLoad(
    async () => ({ cohorts: segment.data ? await loadNamedCohorts([segment.data.segment.filter]) : [] }),
    [segment.data?.segment.filter && JSON.stringify(segment.data.segment.filter)],
  );
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const data = segment.data?.segment;
  // The size is computed in the background: ask again until it is exact or current.
  const settled = data && (data.size_status === 'exact' || data.size_status === 'current') && !data.size_recomputing;
  useInterval(() => segment.reload(), data && !settled ? 1_500 : undefined);

  // ConfirmButton shows an error of the DELETE (onError) and keeps the question open meanwhile.
  const remove = async () => {
    if (!data) return;
    await request('DELETE', path`/segments/${segmentId}`);
    setNotice(t('segment.deleted', { name: data.name }));
    navigate(href('segments'));
  };

  const title = data?.name ?? segmentId;
  return (
    <>
      <Breadcrumb list="segments" />
      <PageTitle title={title}>{title}</PageTitle>
      <Notice message={notice} />
      <LoadStatus load={segment} />
      {data && (
        <>
          <dl class="fields">
            <Field
              label={t('segment.size')}
              value={
                <>
                  <span data-testid="segment-size" class="big">
                    {data.size === null || data.size === undefined
                      ? t('segment.sizeUnknown')
                      : t('segment.users', { count: data.size })}
                  </span>{' '}
                  <span class="muted">({sizeStatus(data)})</span>
                  {data.size_bounds && data.size_bounds.min !== data.size_bounds.max && (
                    <p class="muted small">
                      {t('segment.bounds', { min: data.size_bounds.min, max: data.size_bounds.max })}
                    </p>
                  )}
                </>
              }
            />
            <Field
              label={t('segment.filter')}
              value={<FilterView filter={data.filter} cohorts={cohorts.data?.cohorts ?? []} />}
            />
          </dl>
          <div class="actions">
            <a class="button secondary" href={href('segments', segmentId, 'edit')}>
              {t('segment.edit')}
            </a>
            <ConfirmButton
              action={remove}
              onError={setError}
              label={t('segment.deleteLabel', { name: data.name })}
              question={t('segment.deleteQuestion', { name: data.name })}
              confirm={t('segment.deleteConfirm')}
            >
              {t('segment.delete')}
            </ConfirmButton>
          </div>
          {error !== undefined && <ErrorMessage error={error} />}
          <Members segmentId={segmentId} />
          <Export segmentId={segmentId} />
          <TargetingPanel segmentId={segmentId} />
        </>
      )}
    </>
  );
};
