import { useRef, useState } from 'preact/hooks';
import { path, request, type KeyInfo, type NewKey, type PartnerStatus } from '../api.ts';
import {
  ActionButton,
  Breadcrumb,
  ConfirmButton,
  ErrorMessage,
  Field,
  type Load,
  LoadStatus,
  Notice,
  PageTitle,
  TableRegion,
  useAction,
  useLoad,
} from '../components.tsx';
import { formatDate, t } from '../i18n.ts';
import { partnerName } from '../partners.ts';
import { href } from '../router.ts';

const loadPartners = () => request<{ partners: PartnerStatus[] }>('GET', '/workspace/partners');

const setEnabled = (partner: string, enabled: boolean) =>
  request<{ partner: PartnerStatus }>('PUT', path`/workspace/partners/${partner}`, { enabled });

/** Shows a partner's new status (as the API answered the change) in place of its old one. */
const showStatus = (partners: Load<{ partners: PartnerStatus[] }>, status: PartnerStatus) =>
  partners.setData({
    partners: (partners.data?.partners ?? []).map((item) => (item.partner === status.partner ? status : item)),
  });

const StatusBadge = ({ status }: { status: PartnerStatus }) => (
  <span class={status.enabled ? 'badge on' : 'badge off'}>
    {status.enabled ? t('partners.enabled') : t('partners.disabled')}
  </span>
);

const ToggleButton = ({
  status,
  onChanged,
  onError,
}: {
  status: PartnerStatus;
  onChanged: (status: PartnerStatus) => void;
  onError: (error: unknown) => void;
}) => {
  const name = partnerName(status.partner);
  // A partner this deployment does not offer cannot be enabled (the API answers 409): no button, the note says why.
  if (!status.enabled && !status.available) return null;
  // Disabling cuts off every sync of the partner: asked first. Enabling is not.
  if (status.enabled)
    return (
      <ConfirmButton
        action={async () => onChanged((await setEnabled(status.partner, false)).partner)}
        onError={onError}
        label={t('partners.disableLabel', { partner: name })}
        question={t('partners.disableQuestion', { partner: name })}
        confirm={t('partners.disableConfirm', { partner: name })}
      >
        {t('partners.disable')}
      </ConfirmButton>
    );
  return (
    <ActionButton
      action={async () => onChanged((await setEnabled(status.partner, !status.enabled)).partner)}
      onError={onError}
      label={
        status.enabled ? t('partners.disableLabel', { partner: name }) : t('partners.enableLabel', { partner: name })
      }
    >
      {status.enabled ? t('partners.disable') : t('partners.enable')}
    </ActionButton>
  );
};

export const PartnersPage = () => {
  const partners = useLoad(loadPartners, []);
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<unknown>();
  const changed = (status: PartnerStatus) => {
    setError(undefined);
    showStatus(partners, status);
    const name = partnerName(status.partner);
    setNotice(
      status.enabled ? t('partners.nowEnabled', { partner: name }) : t('partners.nowDisabled', { partner: name }),
    );
  };
  return (
    <>
      <PageTitle title={t('partners.title')}>{t('partners.title')}</PageTitle>
      <p>{t('partners.intro')}</p>
      <Notice message={notice} />
      {error !== undefined && <ErrorMessage error={error} />}
      <LoadStatus load={partners} />
      {partners.data && (
        <TableRegion label={t('partners.tableCaption')}>
          <table>
            <caption>{t('partners.tableCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('partners.partner')}</th>
                <th scope="col">{t('partners.status')}</th>
                <th scope="col">{t('partners.action')}</th>
              </tr>
            </thead>
            <tbody>
              {partners.data.partners.map((status) => (
                <tr key={status.partner}>
                  <th scope="row">
                    <a href={href('partners', status.partner)}>{partnerName(status.partner)}</a>
                  </th>
                  <td>
                    <StatusBadge status={status} />
                    {!status.available && <span class="muted small"> {t('partners.unavailable')}</span>}
                  </td>
                  <td>
                    <ToggleButton status={status} onChanged={changed} onError={setError} />
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

const GRACE_OPTIONS = [
  { seconds: 3600, key: 'partner.graceHour' },
  { seconds: 86_400, key: 'partner.graceDay' },
  { seconds: 604_800, key: 'partner.graceWeek' },
  { seconds: 0, key: 'partner.graceNone' },
] as const;

const KeyField = ({ partner, info }: { partner: string; info: Load<{ key: KeyInfo }> }) => (
  <Field
    label={t('partner.dataImportKey')}
    value={
      <>
        <LoadStatus load={info} />
        {info.data &&
          (info.data.key.hint ? (
            <span data-testid="key-hint">
              {t('partner.keyHint', { hint: info.data.key.hint, created: formatDate(info.data.key.created_at) })}
            </span>
          ) : (
            <span>{t('partner.keyUnknown')}</span>
          ))}
        <p class="muted">{t('partner.keyHashed', { partner: partnerName(partner) })}</p>
      </>
    }
  />
);

const GenerateKey = ({ partner, onCreated }: { partner: string; onCreated: (key: NewKey) => void }) => {
  const name = partnerName(partner);
  const [grace, setGrace] = useState(3600);
  const { busy, error, run } = useAction();
  const [created, setCreated] = useState<NewKey>();
  const [confirmError, setConfirmError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const keyField = useRef<HTMLInputElement>(null);

  const issue = async () => {
    const answer = await request<{ key: NewKey }>('POST', '/workspace/keys/data_import', { grace_seconds: grace });
    setCreated(answer.key);
    onCreated(answer.key);
  };
  // With a grace, one click; with none (the partner is cut off at once), only after the confirmation below.
  const generate = async (event: Event) => {
    event.preventDefault();
    if (grace === 0) return;
    setNotice(undefined);
    await run(issue);
  };
  const copy = async () => {
    if (!created) return;
    try {
      await navigator.clipboard.writeText(created.key);
      setNotice(t('partner.copied'));
    } catch {
      keyField.current?.select();
      setNotice(t('partner.copyFailed'));
    }
  };

  return (
    <section aria-labelledby="generate-title" class="panel">
      <h2 id="generate-title">{t('partner.generateTitle')}</h2>
      <form onSubmit={generate}>
        <fieldset>
          <legend>{t('partner.grace')}</legend>
          {GRACE_OPTIONS.map((option) => (
            <label key={option.seconds} class="choice">
              <input
                type="radio"
                name="grace"
                value={option.seconds}
                checked={grace === option.seconds}
                onChange={() => setGrace(option.seconds)}
              />
              {t(option.key)}
            </label>
          ))}
        </fieldset>
        {grace === 0 && <p class="warning">{t('partner.graceNoneWarning', { partner: name })}</p>}
        {grace === 0 ? (
          <ConfirmButton
            action={async () => {
              setNotice(undefined);
              await issue();
            }}
            onError={setConfirmError}
            question={t('partner.graceNoneQuestion', { partner: name })}
            confirm={t('partner.graceNoneConfirm', { partner: name })}
          >
            {t('partner.generate')}
          </ConfirmButton>
        ) : (
          <button type="submit" disabled={busy}>
            {t('partner.generate')}
          </button>
        )}
      </form>
      {(error ?? confirmError) !== undefined && <ErrorMessage error={error ?? confirmError} />}
      {created && (
        <div class="new-key">
          <label for="new-key">{t('partner.newKey')}</label>
          <div class="row">
            <input id="new-key" ref={keyField} readOnly value={created.key} spellcheck={false} class="mono" />
            <button type="button" onClick={copy}>
              {t('partner.copy')}
            </button>
          </div>
          <p class="warning">{t('partner.newKeyOnce')}</p>
          <p>
            {created.previous_key_expires_at
              ? t('partner.oldKeyUntil', { time: formatDate(created.previous_key_expires_at) })
              : t('partner.oldKeyStopped')}
          </p>
        </div>
      )}
      <Notice message={notice} />
    </section>
  );
};

export const PartnerPage = ({ partner }: { partner: string }) => {
  const name = partnerName(partner);
  const partners = useLoad(loadPartners, []);
  const keyInfo = useLoad(() => request<{ key: KeyInfo }>('GET', '/workspace/keys/data_import'), []);
  const [error, setError] = useState<unknown>();
  const status = partners.data?.partners.find((item) => item.partner === partner);
  const endpoint = location.origin;
  return (
    <>
      <Breadcrumb list="partners" />
      <PageTitle title={name}>{name}</PageTitle>
      <LoadStatus load={partners} />
      {partners.data && !status && <ErrorMessage error={new Error(t('app.notFoundBody'))} />}
      {status && (
        <>
          <p class="status-line">
            <StatusBadge status={status} />{' '}
            <ToggleButton status={status} onChanged={(changed) => showStatus(partners, changed)} onError={setError} />
          </p>
          {!status.enabled && <p class="warning">{t('partner.disabledNote', { partner: name })}</p>}
          {!status.available && <p class="warning">{t('partners.unavailable')}</p>}
          {error !== undefined && <ErrorMessage error={error} />}
          <p>{t('partner.handOver', { partner: name })}</p>
          <dl class="fields">
            <Field
              label={t('partner.endpoint')}
              value={
                <>
                  <code data-testid="rest-endpoint">{endpoint}</code>
                  <p class="muted small">
                    {t('partner.endpointHelp', {
                      partner: name,
                      url: `${endpoint}${path`/partners/${partner}/cohorts`}`,
                    })}
                  </p>
                </>
              }
            />
            <KeyField partner={partner} info={keyInfo} />
          </dl>
          <GenerateKey partner={partner} onCreated={(key) => keyInfo.setData({ key })} />
          <p>
            <a href={href('cohorts')}>{t('partner.cohortsLink', { partner: name })}</a>
          </p>
        </>
      )}
    </>
  );
};
