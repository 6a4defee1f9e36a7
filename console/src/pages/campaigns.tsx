/**
 * Campaigns and Canvases (functions/api/campaign-routes.ts): the list, a new one targeting
 * segments (Target users by segment) with its webhook message and delivery, and one with
 * its figures (per step), launch/stop/archive, a preview rendered for one user and a test send.
 */
import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  FormProblems,
  type Campaign,
  type CampaignKind,
  campaignId,
  type Figures,
  path,
  type Preview,
  request,
  type Segment,
  segmentPage,
  type TestSend,
} from '../api.ts';
import {
  Breadcrumb,
  ConfirmButton,
  ErrorMessage,
  Choice,
  Field,
  isolated,
  LoadStatus,
  PageTitle,
  TableRegion,
  useAction,
  useInterval,
  useLoad,
  SearchTooLong,
  useSearchText,
  useWanted,
} from '../components.tsx';
import { formatDate, formatNumber, language, type MessageKey, t } from '../i18n.ts';
import { ListMore, ListStatus, listShown, SearchBox, useListSearch } from '../list-search.tsx';
import { href, navigate } from '../router.ts';
import { searchPages } from '../search.ts';
import {
  ExitEventsField,
  exitEventsOf,
  exitSummary,
  newTrigger,
  type TriggerDraft,
  TriggerFields,
  triggerOf,
  triggerProblems,
  triggerSummary,
} from './entry-trigger.tsx';

const plural = (kind: CampaignKind) => (kind === 'campaign' ? 'campaigns' : 'canvases');
const statusLabel = (status: Campaign['status']) => t(`campaigns.status_${status}` as MessageKey);
/** lib/webhooks/safe-http.ts: WEBHOOK_METHODS. */
const METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'] as const;
/** lib/campaigns/model.ts: MAX_SEGMENTS, MAX_CANVAS_STEPS. */
const MAX_SEGMENTS = 5;
const MAX_STEPS = 10;
const LIQUID_EXAMPLE = '{{ external_id }}, {{ custom_attributes.plan }}, {{ cohort.name }}';

/** The API's bounds for `rate_limit_per_minute` (lib/campaigns/pacing.ts: Braze's range). */
const RATE_LIMIT = { min: 10, max: 500_000 };

export const deliverySummary = (campaign: Campaign): string => {
  const entry = triggerSummary(campaign);
  if (campaign.steps && !campaign.message) {
    const steps = t('campaigns.canvasSummary', { count: campaign.steps.length });
    return entry ? `${entry} · ${steps}` : steps;
  }
  if (entry) return entry;
  const delivery = campaign.delivery;
  if (!delivery) return '';
  if (delivery.type === 'action_based')
    return t('campaigns.deliverySummaryAction', { minutes: Math.round((delivery.delay_seconds ?? 0) / 60) });
  if (delivery.type === 'api_triggered') return t('campaigns.deliverySummaryApi');
  if (delivery.recurring)
    return t('campaigns.deliverySummaryRecurring', {
      frequency: t(delivery.recurring.frequency === 'daily' ? 'campaigns.daily' : 'campaigns.weekly'),
      time: delivery.recurring.time,
      timezone: delivery.recurring.timezone,
    });
  return delivery.at
    ? t('campaigns.deliverySummaryAt', { time: formatDate(delivery.at) })
    : t('campaigns.deliverySummaryNow');
};

/** A campaign or Canvas that only a trigger call starts. */
export const isApiTriggered = (campaign: Campaign): boolean => campaign.delivery?.type === 'api_triggered';

/** How a targeted segment that no longer exists shows: said to be deleted, with its id (never a bare id that reads as a name). */
const deletedSegmentLabel = (segmentId: string) => t('campaigns.deletedSegment', { id: segmentId });

/** The segments a campaign targets, by name (the list answers `name: null` for a segment that is gone). */
const targetsOf = (campaign: Campaign) =>
  campaign.segments?.map((segment) => segment.name ?? deletedSegmentLabel(segment.segment_id)) ?? campaign.segment_ids;

/** The targets in a list's cell: each name in its own `<bdi>`, so one name's bidirectional controls reach no other. */
const TargetsCell = ({ campaign }: { campaign: Campaign }) => {
  const names = targetsOf(campaign);
  return (
    <td class="clip" title={names.map(isolated).join(', ')}>
      {names.map((name, index) => (
        <Fragment key={index}>
          {index > 0 && ', '}
          <bdi>{name}</bdi>
        </Fragment>
      ))}
    </td>
  );
};

/** Whether a segment lookup failed because the segment is gone (any other failure says nothing about it). */
const isGone = (error: unknown) => error instanceof ApiError && error.status === 404;

const CampaignTable = ({ kind, list }: { kind: CampaignKind; list: Campaign[] }) => {
  const caption = kind === 'campaign' ? t('campaigns.campaigns') : t('campaigns.canvases');
  if (list.length === 0)
    return <p>{kind === 'campaign' ? t('campaigns.noneCampaigns') : t('campaigns.noneCanvases')}</p>;
  return (
    <TableRegion label={caption}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t('campaigns.name')}</th>
            <th scope="col">{t('campaigns.status')}</th>
            <th scope="col">{t('campaigns.targets')}</th>
            <th scope="col">{t('campaigns.delivery')}</th>
            <th scope="col">{t('campaigns.updated')}</th>
          </tr>
        </thead>
        <tbody>
          {list.map((campaign) => (
            <tr key={campaignId(campaign)}>
              <th scope="row">
                <a href={href(plural(kind), campaignId(campaign))}>{campaign.name}</a>
              </th>
              <td>{statusLabel(campaign.status)}</td>
              <TargetsCell campaign={campaign} />
              <td>{deliverySummary(campaign)}</td>
              <td>{formatDate(campaign.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
};

/** One page of campaigns or Canvases (summaries), optionally only those targeting a segment, or searched (`q`). */
const pageOf = async (kind: CampaignKind, cursor?: string | null, segmentId?: string, search?: string, limit = 100) => {
  const query = new URLSearchParams({
    limit: String(limit),
    ...(cursor ? { cursor } : {}),
    ...(segmentId ? { segment_id: segmentId } : {}),
    ...(search ? { q: search } : {}),
  });
  const answer = await request<Record<string, unknown>>('GET', `/${plural(kind)}?${query}`);
  return { list: answer[plural(kind)] as Campaign[], next: (answer.next_cursor as string | null) ?? null };
};

/** A list page by page, searched on the server as the user types (list-search.tsx): never the whole workspace at once. */
const PagedCampaigns = ({ kind }: { kind: CampaignKind }) => {
  const list = useListSearch<Campaign>(
    async ({ search, cursor, limit }) => {
      const page = await pageOf(kind, cursor, undefined, search, limit);
      return { items: page.list, next: page.next };
    },
    [kind],
  );
  const campaign = kind === 'campaign';
  return (
    <>
      <SearchBox
        id={`${plural(kind)}-search`}
        label={campaign ? t('campaigns.searchCampaigns') : t('campaigns.searchCanvases')}
        list={list}
      />
      <ListStatus
        list={list}
        none={campaign ? t('campaigns.noneCampaigns') : t('campaigns.noneCanvases')}
        noMatch={campaign ? t('campaigns.noCampaignMatch') : t('campaigns.noCanvasMatch')}
      />
      {listShown(list) && <CampaignTable kind={kind} list={list.pages.items} />}
      <ListMore list={list} />
    </>
  );
};

/** What targets a segment (both kinds), at most 10 pages of each. */
const loadTargeting = async (segmentId: string) => {
  const found: { kind: CampaignKind; campaign: Campaign }[] = [];
  for (const kind of ['campaign', 'canvas'] as const) {
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages += 1) {
      const page = await pageOf(kind, cursor, segmentId);
      found.push(...page.list.map((campaign) => ({ kind, campaign })));
      if (!page.next) break;
      cursor = page.next;
    }
  }
  return found;
};

export const CampaignsPage = () => {
  return (
    <>
      <PageTitle title={t('campaigns.title')}>{t('campaigns.title')}</PageTitle>
      <p>{t('campaigns.intro')}</p>
      <div class="actions">
        <a class="button" href={href('campaigns', 'new')}>
          {t('campaigns.newCampaign')}
        </a>
        <a class="button secondary" href={href('canvases', 'new')}>
          {t('campaigns.newCanvas')}
        </a>
      </div>
      <h2>{t('campaigns.campaigns')}</h2>
      <PagedCampaigns kind="campaign" />
      <h2>{t('campaigns.canvases')}</h2>
      <PagedCampaigns kind="canvas" />
    </>
  );
};

interface MessageDraft {
  url: string;
  method: string;
  headers: string;
  body: string;
}
interface StepDraft extends MessageDraft {
  id: number;
  name: string;
  delayMinutes: string;
}
/** A new message: a JSON POST, its URL and body still to fill in. */
const newMessage = (): MessageDraft => ({
  url: '',
  method: 'POST',
  headers: 'content-type: application/json',
  body: '',
});
let nextStep = 1;
const newStep = (n: number): StepDraft => ({
  id: nextStep++,
  name: t('campaigns.step', { n }),
  delayMinutes: '0',
  ...newMessage(),
});

/** "Name: value" lines as the API's header map. */
const parseHeaders = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const colon = line.indexOf(':');
        return colon < 0 ? [line, ''] : [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
      }),
  );

const messageOf = (draft: MessageDraft) => ({
  url: draft.url.trim(),
  method: draft.method,
  headers: parseHeaders(draft.headers),
  body: draft.body,
});

const MessageFields = ({
  id,
  draft,
  onChange,
}: {
  id: string;
  draft: MessageDraft;
  onChange: (draft: MessageDraft) => void;
}) => (
  <fieldset>
    <legend>{t('campaigns.message')}</legend>
    <div class="control">
      <label for={`${id}-url`}>{t('campaigns.url')}</label>
      <input
        id={`${id}-url`}
        type="url"
        value={draft.url}
        onInput={(event) => onChange({ ...draft, url: (event.currentTarget as HTMLInputElement).value })}
      />
    </div>
    <div class="control">
      <label for={`${id}-method`}>{t('campaigns.method')}</label>
      <select
        id={`${id}-method`}
        value={draft.method}
        onChange={(event) => onChange({ ...draft, method: (event.currentTarget as HTMLSelectElement).value })}
      >
        {METHODS.map((method) => (
          <option key={method} value={method}>
            {method}
          </option>
        ))}
      </select>
    </div>
    <div class="control">
      <label for={`${id}-headers`}>{t('campaigns.headers')}</label>
      <textarea
        id={`${id}-headers`}
        rows={2}
        value={draft.headers}
        onInput={(event) => onChange({ ...draft, headers: (event.currentTarget as HTMLTextAreaElement).value })}
      />
    </div>
    <div class="control">
      <label for={`${id}-body`}>{t('campaigns.body', { example: LIQUID_EXAMPLE })}</label>
      <textarea
        id={`${id}-body`}
        rows={4}
        class="mono"
        value={draft.body}
        onInput={(event) => onChange({ ...draft, body: (event.currentTarget as HTMLTextAreaElement).value })}
      />
    </div>
  </fieldset>
);

/** 0 = Sunday … 6 = Saturday (as the API numbers them), named in the page's language. */
const WEEKDAYS = [1, 2, 3, 4, 5, 6, 0];
const weekdayName = (day: number) =>
  new Intl.DateTimeFormat(language(), { weekday: 'long', timeZone: 'UTC' }).format(
    new Date(Date.UTC(2023, 0, 1 + day)),
  );

const minutesToSeconds = (minutes: string) => Math.max(0, Math.round(Number(minutes || '0') * 60));

/** Segments to target, searched on the server as the user types (a workspace may hold a thousand): 50 at a time, the chosen ones always shown. */
const SegmentPicker = ({
  chosen,
  setChosen,
}: {
  chosen: string[];
  setChosen: (update: (current: string[]) => string[]) => void;
}) => {
  const [typed, setTyped] = useState('');
  const { search, tooLong } = useSearchText(typed);
  const wanted = useWanted(search);
  const found = useLoad(async () => {
    // A rare name may lie requests away (each reads 5,000 segments at most): asked on, one at a time.
    const page = await searchPages((cursor, limit) => segmentPage({ search, cursor, limit }), {
      search,
      limit: 50,
      wanted: () => wanted(search),
    });
    return { segments: page.items, next_cursor: page.next };
  }, [search]);
  // Names of chosen segments the search does not show (one asked at a time, the few chosen).
  const [names, setNames] = useState(new Map<string, string>());
  const foundNames = new Map((found.data?.segments ?? []).map((segment) => [segment.segment_id, segment.name]));
  const nameOf = (segmentId: string) => foundNames.get(segmentId) ?? names.get(segmentId) ?? segmentId;
  const missing = found.data
    ? chosen.filter((segmentId) => !foundNames.has(segmentId) && !names.has(segmentId)).join('\u0000')
    : '';
  // One lookup at a time: a new search while one runs waits for it (its names then count).
  const looking = useRef(false);
  const [looked, setLooked] = useState(0);
  useEffect(() => {
    if (!missing || looking.current) return;
    looking.current = true;
    void (async () => {
      const next = new Map<string, string>();
      for (const segmentId of missing.split('\u0000'))
        try {
          next.set(segmentId, (await request<{ segment: Segment }>('GET', path`/segments/${segmentId}`)).segment.name);
        } catch (error: unknown) {
          next.set(segmentId, isGone(error) ? deletedSegmentLabel(segmentId) : segmentId);
        }
      looking.current = false;
      setNames((current) => new Map([...current, ...next]));
      setLooked((count) => count + 1);
    })();
  }, [missing, looked]);
  // The size from the search's answer (nothing asked or started for it): the counts' when they decide it,
  // else what the size job last counted; a chosen segment the search does not show has none to say.
  const sizes = new Map((found.data?.segments ?? []).map((segment) => [segment.segment_id, segment]));
  const sizeOf = (segmentId: string) => {
    const segment = sizes.get(segmentId);
    if (!segment) return undefined;
    if (typeof segment.size_from_counts === 'number')
      return t('campaigns.pickerCount', { count: segment.size_from_counts });
    const last = segment.last_computed_size;
    return last ? t('campaigns.pickerSize', { count: last.size }) : t('campaigns.pickerSizeUnknown');
  };
  const shown = [
    ...chosen.map((segmentId) => ({ segment_id: segmentId, name: nameOf(segmentId) })),
    ...(found.data?.segments ?? []).filter((segment) => !chosen.includes(segment.segment_id)),
  ];
  return (
    <>
      <div class="control">
        <label for="segment-search">{t('campaigns.searchSegments')}</label>
        <input
          id="segment-search"
          type="search"
          value={typed}
          onInput={(event) => setTyped((event.currentTarget as HTMLInputElement).value)}
        />
      </div>
      <SearchTooLong show={tooLong} />
      {found.error !== undefined && <ErrorMessage error={found.error} retry={found.reload} />}
      {found.data && shown.length === 0 && !found.data.next_cursor && (
        <p>{search ? t('campaigns.noSegmentMatch') : t('campaigns.noSegments')}</p>
      )}
      {shown.map((segment) => (
        <label key={segment.segment_id} class="choice">
          <input
            type="checkbox"
            checked={chosen.includes(segment.segment_id)}
            disabled={!chosen.includes(segment.segment_id) && chosen.length >= MAX_SEGMENTS}
            onChange={(event) =>
              setChosen((current) =>
                (event.currentTarget as HTMLInputElement).checked
                  ? [...current, segment.segment_id]
                  : current.filter((id) => id !== segment.segment_id),
              )
            }
          />
          <span class="clip" title={segment.name}>
            {segment.name}
          </span>
          {sizeOf(segment.segment_id) !== undefined && (
            <span class="muted small" data-testid="picker-size">
              {' '}
              · {sizeOf(segment.segment_id)}
            </span>
          )}
        </label>
      ))}
      {found.data?.next_cursor && <p class="muted small">{t('campaigns.narrowSegments', { count: 50 })}</p>}
    </>
  );
};

type ReeligibleUnit = 'minutes' | 'hours' | 'days' | 'weeks';
const REELIGIBLE_SHOWN = {
  minutes: 'campaigns.reeligibleMinutes',
  hours: 'campaigns.reeligibleHours',
  days: 'campaigns.reeligibleDays',
  weeks: 'campaigns.reeligibleWeeks',
} as const;
/** When a user may enter again, in words; undefined for a scheduled campaign (no entries). */
const reeligibilityOf = (campaign: Campaign): string | undefined => {
  const delivery = campaign.delivery;
  if (delivery && delivery.type === 'scheduled') return undefined;
  const after = delivery ? delivery.reeligible_after : campaign.reeligible_after;
  if (after === undefined) return undefined;
  return after === null ? t('campaigns.reeligibleNever') : t(REELIGIBLE_SHOWN[after.unit], { count: after.value });
};
const REELIGIBLE_UNITS: readonly ReeligibleUnit[] = ['minutes', 'hours', 'days', 'weeks'];
const UNIT_LABELS = {
  minutes: 'campaigns.unitMinutes',
  hours: 'campaigns.unitHours',
  days: 'campaigns.unitDays',
  weeks: 'campaigns.unitWeeks',
} as const;

/** After how long a user may enter again: a number and its unit (empty: never). */
const ReeligibleField = (props: {
  id: string;
  value: string;
  unit: ReeligibleUnit;
  onValue: (value: string) => void;
  onUnit: (unit: ReeligibleUnit) => void;
}) => (
  <div class="condition-fields">
    <div class="control">
      <label for={props.id}>{t('campaigns.reeligible')}</label>
      <input
        id={props.id}
        type="number"
        min={0}
        value={props.value}
        onInput={(event) => props.onValue((event.currentTarget as HTMLInputElement).value)}
      />
    </div>
    <div class="control">
      <label for={`${props.id}-unit`}>{t('campaigns.reeligibleUnit')}</label>
      <select
        id={`${props.id}-unit`}
        value={props.unit}
        onChange={(event) => props.onUnit((event.currentTarget as HTMLSelectElement).value as ReeligibleUnit)}
      >
        {REELIGIBLE_UNITS.map((unit) => (
          <option key={unit} value={unit}>
            {t(UNIT_LABELS[unit])}
          </option>
        ))}
      </select>
    </div>
  </div>
);

/** An API-triggered campaign or Canvas may opt out of the frequency cap (transactional messages). */
const IgnoreCapField = (props: { checked: boolean; onChange: (checked: boolean) => void }) => (
  <label class="choice">
    <input
      type="checkbox"
      checked={props.checked}
      onChange={(event) => props.onChange((event.currentTarget as HTMLInputElement).checked)}
    />
    {t('campaigns.ignoreFrequencyCap')}
  </label>
);

/** The trigger call of an API-triggered campaign or Canvas, as curl (the console's origin is the API's). */
export const triggerCurl = (campaign: Campaign, origin: string): string => {
  const canvas = campaign.canvas_id !== undefined;
  const properties = canvas ? 'canvas_entry_properties' : 'trigger_properties';
  const body = {
    [canvas ? 'canvas_id' : 'campaign_id']: campaignId(campaign),
    recipients: [{ external_user_id: 'user-1', [properties]: { order_id: '8812' } }],
  };
  return [
    `curl -s -XPOST ${origin}/${canvas ? 'canvas' : 'campaigns'}/trigger/send \\`,
    `  -H "Authorization: Bearer $REST" -H 'content-type: application/json' \\`,
    `  -H 'Idempotency-Key: order-8812' \\`,
    `  -d '${JSON.stringify(body)}'`,
  ].join('\n');
};

export const CampaignEditor = ({ kind, segmentId }: { kind: CampaignKind; segmentId?: string }) => {
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<string[]>(segmentId ? [segmentId] : []);
  const [message, setMessage] = useState<MessageDraft>(newMessage);
  const [deliveryType, setDeliveryType] = useState<'scheduled' | 'action_based' | 'api_triggered'>(
    kind === 'canvas' ? 'action_based' : 'scheduled',
  );
  const [ignoreCap, setIgnoreCap] = useState(false);
  const [trigger, setTrigger] = useState<TriggerDraft>(newTrigger);
  const [when, setWhen] = useState<'now' | 'at' | 'recurring'>('now');
  const [at, setAt] = useState('');
  const [frequency, setFrequency] = useState<'daily' | 'weekly'>('daily');
  const [time, setTime] = useState('09:00');
  const [timezone, setTimezone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const [weekday, setWeekday] = useState(1);
  const [delayMinutes, setDelayMinutes] = useState('0');
  const [reeligible, setReeligible] = useState('');
  const [reeligibleUnit, setReeligibleUnit] = useState<ReeligibleUnit>('days');
  const [rateLimit, setRateLimit] = useState('');
  const [steps, setSteps] = useState<StepDraft[]>(() => [newStep(1)]);
  const updateStep = (id: number, change: Partial<StepDraft>) =>
    setSteps((current) => current.map((item) => (item.id === id ? { ...item, ...change } : item)));
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const title = kind === 'campaign' ? t('campaigns.titleNewCampaign') : t('campaigns.titleNewCanvas');

  // Empty: never again; 0: at once (whole days, the original field); otherwise the wait in its unit.
  const reeligibleValue = reeligible.trim() === '' ? null : Number(reeligible);
  const reeligibility =
    reeligibleValue === null || reeligibleValue === 0
      ? { reeligible_after_days: reeligibleValue }
      : { reeligible_after: { value: reeligibleValue, unit: reeligibleUnit } };
  const ratePerMinute =
    rateLimit.trim() === '' ? null : /^\d+$/.test(rateLimit.trim()) ? Number(rateLimit) : Number.NaN;
  const body = () =>
    kind === 'campaign'
      ? {
          name: name.trim(),
          segment_ids: chosen,
          rate_limit_per_minute: ratePerMinute,
          message: messageOf(message),
          delivery:
            deliveryType === 'api_triggered'
              ? { type: 'api_triggered', ...reeligibility, ignore_frequency_cap: ignoreCap }
              : deliveryType === 'action_based'
                ? {
                    type: 'action_based',
                    ...triggerOf(trigger),
                    delay_seconds: minutesToSeconds(delayMinutes),
                    ...reeligibility,
                  }
                : {
                    type: 'scheduled',
                    ...(when === 'at' && at ? { at: new Date(at).toISOString() } : {}),
                    ...(when === 'recurring'
                      ? {
                          recurring: {
                            frequency,
                            time,
                            timezone,
                            ...(frequency === 'weekly' ? { weekdays: [weekday] } : {}),
                          },
                        }
                      : {}),
                  },
          ...(deliveryType === 'action_based' ? exitEventsOf(trigger) : {}),
        }
      : {
          name: name.trim(),
          segment_ids: chosen,
          ...reeligibility,
          ...(deliveryType === 'api_triggered'
            ? { delivery: { type: 'api_triggered', ignore_frequency_cap: ignoreCap } }
            : trigger.type !== 'entered_segment'
              ? { delivery: { type: 'action_based', ...triggerOf(trigger) } }
              : {}),
          ...exitEventsOf(trigger),
          rate_limit_per_minute: ratePerMinute,
          steps: steps.map((step) => ({
            name: step.name.trim(),
            delay_seconds: minutesToSeconds(step.delayMinutes),
            message: messageOf(step),
          })),
        };

  const save = async (event: Event) => {
    event.preventDefault();
    const problems = [
      ...(chosen.length === 0 ? [t('campaigns.missingSegment')] : []),
      ...(deliveryType === 'action_based' ? triggerProblems(trigger) : []),
      ...(ratePerMinute !== null &&
      !(Number.isInteger(ratePerMinute) && ratePerMinute >= RATE_LIMIT.min && ratePerMinute <= RATE_LIMIT.max)
        ? [t('campaigns.rateLimitProblem', RATE_LIMIT)]
        : []),
    ];
    if (problems.length > 0) return setError(new FormProblems(problems));
    setBusy(true);
    setError(undefined);
    try {
      const answer = await request<Record<string, Campaign>>('POST', `/${plural(kind)}`, body());
      navigate(href(plural(kind), campaignId(answer[kind]!)));
    } catch (caught: unknown) {
      setError(caught);
      setBusy(false);
    }
  };

  return (
    <>
      <Breadcrumb list="campaigns" />
      <PageTitle title={title}>{title}</PageTitle>
      {
        <form onSubmit={save} noValidate>
          <label for="campaign-name">{t('campaigns.name')}</label>
          <input
            id="campaign-name"
            value={name}
            maxLength={255}
            onInput={(event) => setName((event.currentTarget as HTMLInputElement).value)}
          />
          <fieldset>
            <legend>{t('campaigns.targeting')}</legend>
            <p class="muted small">{t('campaigns.targetingHelp')}</p>
            <SegmentPicker chosen={chosen} setChosen={setChosen} />
          </fieldset>
          <div class="control">
            <label for="rate-limit">{t('campaigns.rateLimit')}</label>
            <input
              id="rate-limit"
              // Text, not a number field: a number field reports "6e" or "--5" as empty, which
              // would be sent as "no limit"; the text is checked here instead (every problem shown).
              type="text"
              inputMode="numeric"
              autoComplete="off"
              value={rateLimit}
              aria-describedby="rate-limit-help"
              onInput={(event) => setRateLimit((event.currentTarget as HTMLInputElement).value)}
            />
            <p id="rate-limit-help" class="muted small">
              {t('campaigns.rateLimitHelp', RATE_LIMIT)}
            </p>
          </div>
          {kind === 'campaign' ? (
            <>
              <MessageFields id="message" draft={message} onChange={setMessage} />
              <fieldset>
                <legend>{t('campaigns.delivery')}</legend>
                <Choice
                  name="delivery"
                  checked={deliveryType === 'scheduled'}
                  onChange={() => setDeliveryType('scheduled')}
                  label={t('campaigns.scheduled')}
                />
                <Choice
                  name="delivery"
                  checked={deliveryType === 'action_based'}
                  onChange={() => setDeliveryType('action_based')}
                  label={t('campaigns.actionBased')}
                />
                <Choice
                  name="delivery"
                  checked={deliveryType === 'api_triggered'}
                  onChange={() => setDeliveryType('api_triggered')}
                  label={t('campaigns.apiTriggered')}
                />
                {deliveryType === 'api_triggered' ? (
                  <div class="condition-fields">
                    <ReeligibleField
                      id="delivery-reeligible"
                      value={reeligible}
                      unit={reeligibleUnit}
                      onValue={setReeligible}
                      onUnit={setReeligibleUnit}
                    />
                    <IgnoreCapField checked={ignoreCap} onChange={setIgnoreCap} />
                    <p class="muted small">{t('campaigns.apiNote')}</p>
                  </div>
                ) : deliveryType === 'scheduled' ? (
                  <fieldset>
                    <legend>{t('campaigns.when')}</legend>
                    {(['now', 'at', 'recurring'] as const).map((option) => (
                      <label key={option} class="choice">
                        <input type="radio" name="when" checked={when === option} onChange={() => setWhen(option)} />
                        {t(`campaigns.${option}`)}
                      </label>
                    ))}
                    {when === 'at' && (
                      <div class="control">
                        <label for="delivery-at">{t('campaigns.atTime')}</label>
                        <input
                          id="delivery-at"
                          type="datetime-local"
                          value={at}
                          onInput={(event) => setAt((event.currentTarget as HTMLInputElement).value)}
                        />
                      </div>
                    )}
                    {when === 'recurring' && (
                      <div class="condition-fields">
                        <div class="control">
                          <label for="delivery-frequency">{t('campaigns.frequency')}</label>
                          <select
                            id="delivery-frequency"
                            value={frequency}
                            onChange={(event) =>
                              setFrequency((event.currentTarget as HTMLSelectElement).value as 'daily' | 'weekly')
                            }
                          >
                            <option value="daily">{t('campaigns.daily')}</option>
                            <option value="weekly">{t('campaigns.weekly')}</option>
                          </select>
                        </div>
                        {frequency === 'weekly' && (
                          <div class="control">
                            <label for="delivery-weekday">{t('campaigns.weekdays')}</label>
                            <select
                              id="delivery-weekday"
                              value={String(weekday)}
                              onChange={(event) => setWeekday(Number((event.currentTarget as HTMLSelectElement).value))}
                            >
                              {WEEKDAYS.map((day) => (
                                <option key={day} value={String(day)}>
                                  {weekdayName(day)}
                                </option>
                              ))}
                            </select>
                          </div>
                        )}
                        <div class="control">
                          <label for="delivery-time">{t('campaigns.time')}</label>
                          <input
                            id="delivery-time"
                            value={time}
                            onInput={(event) => setTime((event.currentTarget as HTMLInputElement).value)}
                          />
                        </div>
                        <div class="control">
                          <label for="delivery-timezone">{t('campaigns.timezone')}</label>
                          <input
                            id="delivery-timezone"
                            value={timezone}
                            onInput={(event) => setTimezone((event.currentTarget as HTMLInputElement).value)}
                          />
                        </div>
                      </div>
                    )}
                  </fieldset>
                ) : (
                  <div class="condition-fields">
                    <TriggerFields id="delivery" draft={trigger} onChange={setTrigger} />
                    <div class="control">
                      <label for="delivery-delay">{t('campaigns.delay')}</label>
                      <input
                        id="delivery-delay"
                        type="number"
                        min={0}
                        value={delayMinutes}
                        onInput={(event) => setDelayMinutes((event.currentTarget as HTMLInputElement).value)}
                      />
                    </div>
                    <ReeligibleField
                      id="delivery-reeligible"
                      value={reeligible}
                      unit={reeligibleUnit}
                      onValue={setReeligible}
                      onUnit={setReeligibleUnit}
                    />
                    <p class="muted small">{t('campaigns.exitNote')}</p>
                  </div>
                )}
              </fieldset>
            </>
          ) : (
            <>
              <fieldset>
                <legend>{t('campaigns.canvasEntry')}</legend>
                <Choice
                  name="canvas-entry"
                  checked={deliveryType !== 'api_triggered'}
                  onChange={() => setDeliveryType('action_based')}
                  label={t('campaigns.actionBased')}
                />
                <Choice
                  name="canvas-entry"
                  checked={deliveryType === 'api_triggered'}
                  onChange={() => setDeliveryType('api_triggered')}
                  label={t('campaigns.apiTriggered')}
                />
                {deliveryType === 'api_triggered' ? (
                  <>
                    <IgnoreCapField checked={ignoreCap} onChange={setIgnoreCap} />
                    <p class="muted small">{t('campaigns.apiNote')}</p>
                    <ExitEventsField id="canvas" draft={trigger} onChange={setTrigger} />
                  </>
                ) : (
                  <TriggerFields id="canvas" draft={trigger} onChange={setTrigger} />
                )}
              </fieldset>
              <ReeligibleField
                id="canvas-reeligible"
                value={reeligible}
                unit={reeligibleUnit}
                onValue={setReeligible}
                onUnit={setReeligibleUnit}
              />
              <p class="muted small">{t('campaigns.canvasExitNote')}</p>
              <h2>{t('campaigns.steps')}</h2>
              {steps.map((step, index) => (
                <fieldset key={step.id}>
                  <legend>{t('campaigns.step', { n: index + 1 })}</legend>
                  <div class="condition-fields">
                    <div class="control">
                      <label for={`step-${step.id}-name`}>{t('campaigns.stepName')}</label>
                      <input
                        id={`step-${step.id}-name`}
                        value={step.name}
                        onInput={(event) =>
                          updateStep(step.id, { name: (event.currentTarget as HTMLInputElement).value })
                        }
                      />
                    </div>
                    <div class="control">
                      <label for={`step-${step.id}-delay`}>{t('campaigns.stepDelay')}</label>
                      <input
                        id={`step-${step.id}-delay`}
                        type="number"
                        min={0}
                        value={step.delayMinutes}
                        onInput={(event) =>
                          updateStep(step.id, { delayMinutes: (event.currentTarget as HTMLInputElement).value })
                        }
                      />
                    </div>
                  </div>
                  <MessageFields id={`step-${step.id}`} draft={step} onChange={(draft) => updateStep(step.id, draft)} />
                  {steps.length > 1 && (
                    <button
                      type="button"
                      class="link"
                      onClick={() => setSteps((current) => current.filter((item) => item.id !== step.id))}
                    >
                      {t('campaigns.removeStep', { n: index + 1 })}
                    </button>
                  )}
                </fieldset>
              ))}
              {steps.length < MAX_STEPS && (
                <button
                  type="button"
                  class="secondary"
                  onClick={() => setSteps((current) => [...current, newStep(current.length + 1)])}
                >
                  {t('campaigns.addStep')}
                </button>
              )}
            </>
          )}
          {error !== undefined && <ErrorMessage error={error} />}
          <div class="actions">
            <button type="submit" disabled={busy}>
              {t('campaigns.create')}
            </button>
          </div>
        </form>
      }
    </>
  );
};

const skippedTotal = (figures: Figures) => Object.values(figures.skipped ?? {}).reduce((sum, count) => sum + count, 0);
const lastErrorText = (figures: Figures): string => {
  const error = figures.last_error;
  if (!error) return t('app.none');
  if (typeof error === 'string') return error;
  return [error.status, error.reason, error.at && formatDate(error.at)].filter(Boolean).join(' · ');
};

const FiguresTable = ({ campaign }: { campaign: Campaign }) => {
  const rows: { name: string; figures: Figures }[] = campaign.figures
    ? [{ name: campaign.name, figures: campaign.figures }]
    : (campaign.steps ?? []).flatMap((step) => (step.figures ? [{ name: step.name, figures: step.figures }] : []));
  return (
    <TableRegion label={t('campaigns.figuresCaption')}>
      <table data-testid="figures">
        <caption>{t('campaigns.figuresCaption')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('campaigns.stepColumn')}</th>
            {(['targeted', 'sent', 'delivered', 'failed', 'skipped'] as const).map((column) => (
              <th scope="col" class="number" key={column}>
                {t(`campaigns.${column}`)}
              </th>
            ))}
            <th scope="col">{t('campaigns.lastError')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <tr key={`${index}-${row.name}`}>
              <th scope="row">{row.name}</th>
              <td class="number">{formatNumber(row.figures.targeted)}</td>
              <td class="number">{formatNumber(row.figures.sent)}</td>
              <td class="number" data-testid="delivered">
                {formatNumber(row.figures.delivered)}
              </td>
              <td class="number">{formatNumber(row.figures.failed)}</td>
              <td class="number" title={JSON.stringify(row.figures.skipped)}>
                {formatNumber(skippedTotal(row.figures))}
              </td>
              <td>{lastErrorText(row.figures)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
};

const PreviewPanel = ({ kind, campaign }: { kind: CampaignKind; campaign: Campaign }) => {
  const [externalId, setExternalId] = useState('');
  const [step, setStep] = useState(0);
  const [preview, setPreview] = useState<Preview>();
  const [test, setTest] = useState<TestSend>();
  const { busy, error, run: runAction } = useAction();
  const base = path`/${plural(kind)}/${campaignId(campaign)}`;
  const run = (what: 'preview' | 'test-send') =>
    runAction(async () => {
      // What was shown was for the last user asked: gone before the next answer (or error), never left under it.
      if (what === 'preview') setPreview(undefined);
      else setTest(undefined);
      const answer = await request<{ preview?: Preview; test_send?: TestSend }>('POST', `${base}/${what}`, {
        external_id: externalId.trim(),
        step,
      });
      if (answer.preview) setPreview(answer.preview);
      if (answer.test_send) setTest(answer.test_send);
    });
  return (
    <section aria-labelledby="preview-title">
      <h2 id="preview-title">{t('campaigns.preview')}</h2>
      <div class="condition-fields">
        <div class="control">
          <label for="preview-user">{t('campaigns.previewUser')}</label>
          <input
            id="preview-user"
            value={externalId}
            onInput={(event) => setExternalId((event.currentTarget as HTMLInputElement).value)}
          />
        </div>
        {campaign.steps && campaign.steps.length > 1 && (
          <div class="control">
            <label for="preview-step">{t('campaigns.previewStep')}</label>
            <select
              id="preview-step"
              value={String(step)}
              onChange={(event) => setStep(Number((event.currentTarget as HTMLSelectElement).value))}
            >
              {campaign.steps.map((item, index) => (
                <option key={`${index}-${item.name}`} value={String(index)}>
                  {item.name}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      <div class="actions">
        <button type="button" class="secondary" disabled={busy} onClick={() => run('preview')}>
          {t('campaigns.render')}
        </button>
        <button type="button" class="secondary" disabled={busy} onClick={() => run('test-send')}>
          {t('campaigns.testSend')}
        </button>
      </div>
      {error !== undefined && <ErrorMessage error={error} />}
      {preview?.outcome === 'template_error' && (
        <p class="warning">{t('campaigns.templateError', { reason: preview.reason ?? '' })}</p>
      )}
      {preview?.request && (
        <>
          <p>{t('campaigns.rendered')}</p>
          <pre class="preview" data-testid="preview">
            {`${preview.request.method} ${preview.request.url}\n${Object.entries(preview.request.headers)
              .map(([name, value]) => `${name}: ${value}`)
              .join('\n')}\n\n${preview.request.body ?? ''}`}
          </pre>
        </>
      )}
      {test && (
        <div role="status">
          <p>
            {t('campaigns.testResult', { outcome: test.outcome, status: test.status ?? '—' })}
            {test.reason ? ` (${test.reason})` : ''}
          </p>
          {test.response_body && (
            <>
              <p>{t('campaigns.responseBody')}</p>
              <pre class="preview">{test.response_body}</pre>
            </>
          )}
        </div>
      )}
    </section>
  );
};

export const CampaignPage = ({ kind, id }: { kind: CampaignKind; id: string }) => {
  const base = path`/${plural(kind)}/${id}`;
  const campaign = useLoad(
    () => request<Record<string, Campaign>>('GET', base).then((answer) => answer[kind]!),
    [base],
  );
  const { busy, error, setError, run } = useAction();
  const data = campaign.data;
  // Figures move while it sends.
  useInterval(() => campaign.reload(), data?.status === 'active' ? 2_000 : undefined);
  const perform = async (action: 'launch' | 'stop' | 'archive') => {
    campaign.setData((await request<Record<string, Campaign>>('POST', `${base}/${action}`))[kind]!);
    await campaign.reload();
  };
  // One at a time: a double click on Launch sends one launch, not a second that answers 409.
  const act = (action: 'launch' | 'archive') => run(() => perform(action));
  const title = data?.name ?? id;
  // A campaign's message, or each step's (a GET of one has them all; only list summaries leave them out).
  const messages = data
    ? data.message
      ? [{ name: data.name, message: data.message }]
      : (data.steps ?? []).flatMap((step) => (step.message ? [{ name: step.name, message: step.message }] : []))
    : [];
  return (
    <>
      <Breadcrumb list="campaigns" />
      <PageTitle title={title}>{title}</PageTitle>
      <LoadStatus load={campaign} />
      {data && (
        <>
          <dl class="fields">
            <Field
              label={t('campaigns.status')}
              value={
                <>
                  <span data-testid="campaign-status">{statusLabel(data.status)}</span>
                  {data.launched_at && (
                    <span class="muted"> · {t('campaigns.launched', { time: formatDate(data.launched_at) })}</span>
                  )}
                </>
              }
            />
            <Field
              label={t('campaigns.targeting')}
              value={
                <ul class="filter-list">
                  {/* The answer names its segments (null: deleted since, said so, no link to a 404); an action's answer does not. */}
                  {(
                    data.segments ?? data.segment_ids.map((segmentId) => ({ segment_id: segmentId, name: segmentId }))
                  ).map((segment) => (
                    <li key={segment.segment_id}>
                      {segment.name === null ? (
                        <span class="muted" data-testid="deleted-segment">
                          {deletedSegmentLabel(segment.segment_id)}
                        </span>
                      ) : (
                        <a href={href('segments', segment.segment_id)}>{segment.name}</a>
                      )}
                    </li>
                  ))}
                </ul>
              }
            />
            <Field
              label={t('campaigns.delivery')}
              value={
                <>
                  {deliverySummary(data)}
                  {data.delivery?.type === 'scheduled' && data.delivery.next_run_at && (
                    <span class="muted">
                      {' '}
                      · {t('campaigns.nextRun', { time: formatDate(data.delivery.next_run_at) })}
                    </span>
                  )}
                </>
              }
            />
            <Field label={t('campaigns.id')} value={<code data-testid="campaign-id">{campaignId(data)}</code>} />
            {exitSummary(data) !== undefined && (
              <Field
                label={t('campaigns.exitEvents')}
                value={<span data-testid="campaign-exit-events">{exitSummary(data)}</span>}
              />
            )}
            {isApiTriggered(data) && (
              <Field
                label={t('campaigns.triggerCall')}
                value={
                  <>
                    <pre class="preview" data-testid="campaign-trigger-curl">
                      {triggerCurl(data, location.origin)}
                    </pre>
                    <p class="muted small">{t('campaigns.apiNote')}</p>
                  </>
                }
              />
            )}
            {reeligibilityOf(data) !== undefined && (
              <Field
                label={t('campaigns.reeligibleShort')}
                value={<span data-testid="campaign-reeligibility">{reeligibilityOf(data)}</span>}
              />
            )}
            <Field
              label={t('campaigns.rateLimitShort')}
              value={
                <span data-testid="campaign-rate-limit">
                  {data.rate_limit_per_minute
                    ? t('campaigns.rateLimitValue', { count: data.rate_limit_per_minute })
                    : t('campaigns.rateLimitNone')}
                </span>
              }
            />
          </dl>
          <div class="actions">
            {data.status === 'draft' && (
              <button type="button" disabled={busy} onClick={() => act('launch')}>
                {t('campaigns.launch')}
              </button>
            )}
            {data.status === 'active' && (
              <ConfirmButton
                action={() => perform('stop')}
                onError={setError}
                question={t('campaigns.stopQuestion')}
                confirm={t('campaigns.stopConfirm')}
              >
                {t('campaigns.stop')}
              </ConfirmButton>
            )}
            {data.status !== 'archived' && data.status !== 'draft' && (
              <button type="button" class="secondary" disabled={busy} onClick={() => act('archive')}>
                {t('campaigns.archive')}
              </button>
            )}
          </div>
          {error !== undefined && <ErrorMessage error={error} />}
          <h2>{t('campaigns.figures')}</h2>
          <FiguresTable campaign={data} />
          <h2>{t('campaigns.message')}</h2>
          {messages.map((item, index) => (
            <div key={`${index}-${item.name}`}>
              {data.steps && data.steps.length > 1 && <h3>{item.name}</h3>}
              <pre class="preview">{`${item.message.method} ${item.message.url}\n${Object.entries(item.message.headers)
                .map(([name, value]) => `${name}: ${value}`)
                .join('\n')}\n\n${item.message.body}`}</pre>
            </div>
          ))}
          <PreviewPanel kind={kind} campaign={data} />
        </>
      )}
    </>
  );
};

/** On a segment's page: what targets it, and where to start a campaign or Canvas for it. */
export const TargetingPanel = ({ segmentId }: { segmentId: string }) => {
  const campaigns = useLoad(() => loadTargeting(segmentId), [segmentId]);
  const targeting = campaigns.data ?? [];
  return (
    <section aria-labelledby="targeting-title">
      <h2 id="targeting-title">{t('segment.targeting')}</h2>
      {campaigns.error !== undefined && <ErrorMessage error={campaigns.error} retry={campaigns.reload} />}
      {campaigns.data &&
        (targeting.length === 0 ? (
          <p>{t('campaigns.targetingNone')}</p>
        ) : (
          <>
            <p>{t('campaigns.targetingThis')}</p>
            <ul>
              {targeting.map(({ kind, campaign }) => (
                <li key={campaignId(campaign)}>
                  <a href={href(plural(kind), campaignId(campaign))}>{campaign.name}</a> ({statusLabel(campaign.status)}
                  )
                </li>
              ))}
            </ul>
          </>
        ))}
      <div class="actions">
        <a class="button secondary" href={href('campaigns', 'new', segmentId)}>
          {t('campaigns.newForSegment')}
        </a>
        <a class="button secondary" href={href('canvases', 'new', segmentId)}>
          {t('campaigns.newCanvasForSegment')}
        </a>
      </div>
    </section>
  );
};
