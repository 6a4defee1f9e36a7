import { useState } from 'preact/hooks';
import { type Connector, type DeadLetter, path, request } from '../api.ts';
import {
  ActionButton,
  Breadcrumb,
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
import { formatDate, formatNumber, t } from '../i18n.ts';
import { ListMore, ListStatus, SearchBox, useListSearch } from '../list-search.tsx';
import { href } from '../router.ts';

const lastError = (connector: Connector) =>
  connector.last_error
    ? t('currents.errorValue', {
        status: connector.last_error.status,
        time: formatDate(connector.last_error.at),
        reason: connector.last_error.reason,
      })
    : t('app.none');

const PauseButton = ({
  connector,
  onChanged,
  onError,
}: {
  connector: Connector;
  onChanged: (connector: Connector) => void;
  onError: (error: unknown) => void;
}) => {
  const verb = connector.paused ? 'resume' : 'pause';
  return (
    <ActionButton
      action={async () =>
        onChanged(
          (await request<{ connector: Connector }>('POST', path`/currents/${connector.connector_id}/${verb}`))
            .connector,
        )
      }
      onError={onError}
      label={t(connector.paused ? 'currents.resumeLabel' : 'currents.pauseLabel', { id: connector.connector_id })}
    >
      {connector.paused ? t('currents.resume') : t('currents.pause')}
    </ActionButton>
  );
};

export const CurrentsPage = () => {
  const connectors = useLoad(() => request<{ connectors: Connector[] }>('GET', '/currents'), []);
  const [error, setError] = useState<unknown>();
  useInterval(() => connectors.reload(), 5_000);
  const changed = (connector: Connector) =>
    connectors.setData({
      connectors: (connectors.data?.connectors ?? []).map((item) =>
        item.connector_id === connector.connector_id ? connector : item,
      ),
    });
  return (
    <>
      <PageTitle title={t('currents.title')}>{t('currents.title')}</PageTitle>
      <p>{t('currents.intro')}</p>
      <LoadStatus load={connectors} />
      {error !== undefined && <ErrorMessage error={error} />}
      {connectors.data && connectors.data.connectors.length === 0 && <p>{t('currents.none')}</p>}
      {connectors.data && connectors.data.connectors.length > 0 && (
        <TableRegion label={t('currents.tableCaption')}>
          <table>
            <caption>{t('currents.tableCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('currents.connector')}</th>
                <th scope="col">{t('currents.state')}</th>
                <th scope="col" class="number">
                  {t('currents.delivered')}
                </th>
                <th scope="col" class="number">
                  {t('currents.retrying')}
                </th>
                <th scope="col" class="number">
                  {t('currents.dropped')}
                </th>
                <th scope="col">{t('currents.lastSuccess')}</th>
                <th scope="col">{t('currents.lastError')}</th>
                <th scope="col">{t('partners.action')}</th>
              </tr>
            </thead>
            <tbody>
              {connectors.data.connectors.map((connector) => (
                <tr key={connector.connector_id}>
                  <th scope="row">
                    <a href={href('currents', connector.connector_id)} class="mono">
                      {connector.connector_id}
                    </a>
                    <div class="muted small">{connector.url}</div>
                  </th>
                  <td>
                    <span class={connector.paused ? 'badge off' : 'badge on'}>
                      {connector.paused ? t('currents.paused') : t('currents.active')}
                    </span>
                  </td>
                  <td class="number">{formatNumber(connector.delivered)}</td>
                  <td class="number">{formatNumber(connector.retrying)}</td>
                  <td class="number">{formatNumber(connector.dropped)}</td>
                  <td>{formatDate(connector.last_success_at)}</td>
                  <td>{lastError(connector)}</td>
                  <td>
                    <PauseButton connector={connector} onChanged={changed} onError={setError} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
    </>
  );
};

export const ConnectorPage = ({ connectorId }: { connectorId: string }) => {
  const connector = useLoad(
    () => request<{ connector: Connector }>('GET', path`/currents/${connectorId}`),
    [connectorId],
  );
  // The newest first, 100 at a time: a connector down for days may hold thousands; searched on the
  // server (an event type or reason containing the text, an event id starting with it).
  const search = useListSearch<DeadLetter>(
    async ({ search, cursor, limit }) => {
      const query = new URLSearchParams({
        limit: String(limit),
        order: 'desc',
        ...(search ? { q: search } : {}),
        ...(cursor ? { cursor } : {}),
      });
      const page = await request<{ dead_letters: DeadLetter[]; next_cursor: string | null }>(
        'GET',
        `${path`/currents/${connectorId}/dead-letters`}?${query}`,
      );
      return { items: page.dead_letters, next: page.next_cursor };
    },
    [connectorId],
  );
  const letters = search.pages;
  const shownLetters = letters.items;
  // One error line for the page's actions: the replay and the pause button.
  const { busy, error, setError, run } = useAction();
  const [notice, setNotice] = useState<string>();
  const data = connector.data?.connector;
  const replay = () =>
    run(async () => {
      const answer = await request<{ requeued: number; remaining: boolean }>(
        'POST',
        path`/currents/${connectorId}/replay`,
      );
      setNotice(
        `${t('currents.replayed', { count: answer.requeued })}${answer.remaining ? ` ${t('currents.replayRemaining')}` : ''}`,
      );
      await Promise.all([letters.first.reload(), connector.reload()]);
    });
  return (
    <>
      <Breadcrumb list="currents" />
      <PageTitle title={t('currents.connector')}>
        {t('currents.connector')} <span class="mono">{connectorId}</span>
      </PageTitle>
      <LoadStatus load={connector} />
      {data && (
        <>
          <dl class="fields">
            <Field label={t('currents.url')} value={<span class="mono">{data.url}</span>} />
            <Field label={t('currents.events')} value={data.events.join(', ')} />
            <Field label={t('currents.state')} value={data.paused ? t('currents.paused') : t('currents.active')} />
            <Field label={t('currents.delivered')} value={formatNumber(data.delivered)} />
            <Field label={t('currents.retrying')} value={formatNumber(data.retrying)} />
            <Field label={t('currents.dropped')} value={formatNumber(data.dropped)} />
            <Field label={t('currents.lastSuccess')} value={formatDate(data.last_success_at)} />
            <Field label={t('currents.lastError')} value={lastError(data)} />
          </dl>
          <PauseButton
            connector={data}
            onChanged={(changed) => connector.setData({ connector: changed })}
            onError={setError}
          />
        </>
      )}
      <h2>{t('currents.deadLetters')}</h2>
      <p class="muted">{t('currents.deadLettersIntro')}</p>
      <Notice message={notice} />
      {error !== undefined && <ErrorMessage error={error} />}
      <SearchBox id="dead-letter-search" label={t('currents.searchDeadLetters')} list={search} />
      <ListStatus list={search} none={t('currents.noDeadLetters')} noMatch={t('currents.noDeadLetterMatch')} />
      {letters.first.data && shownLetters.length > 0 && (
        <>
          <TableRegion label={t('currents.deadLetters')}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('currents.droppedAt')}</th>
                  <th scope="col">{t('currents.eventType')}</th>
                  <th scope="col">{t('currents.eventId')}</th>
                  <th scope="col" class="number">
                    {t('currents.status')}
                  </th>
                  <th scope="col">{t('currents.reason')}</th>
                </tr>
              </thead>
              <tbody>
                {shownLetters.map((letter) => (
                  <tr key={`${letter.event_id}-${letter.dropped_at}`}>
                    <th scope="row">{formatDate(letter.dropped_at)}</th>
                    <td>{letter.event_type}</td>
                    <td class="mono">{letter.event_id}</td>
                    <td class="number">{letter.status}</td>
                    <td>{letter.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableRegion>
          <ListMore list={search} />
          <button type="button" onClick={replay} disabled={busy}>
            {t('currents.replay')}
          </button>
        </>
      )}
    </>
  );
};
