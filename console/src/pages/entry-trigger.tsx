/**
 * What enters a user of an action-based campaign or Canvas (docs/campaigns.md,
 * "Event-triggered campaigns and Canvases"): entering the segment, a custom event, or a
 * purchase; and the custom events that end the journey. The form's fields, the body's
 * `trigger` and `exit_on_events`, and the detail's summary.
 */
import type { Campaign } from '../api.ts';
import { Choice } from '../components.tsx';
import { t } from '../i18n.ts';

export type TriggerType = 'entered_segment' | 'custom_event' | 'purchase';
export interface TriggerDraft {
  type: TriggerType;
  eventName: string;
  productId: string;
  /** One custom event name per line. */
  exitEvents: string;
}
export const newTrigger = (): TriggerDraft => ({
  type: 'entered_segment',
  eventName: '',
  productId: '',
  exitEvents: '',
});

const EVENT_PROPERTIES_EXAMPLE = '{{ event_properties.plan }}';

/** The body's `trigger` (absent for entering the segment, the default). */
export const triggerOf = (draft: TriggerDraft) =>
  draft.type === 'custom_event'
    ? { trigger: { type: 'custom_event', name: draft.eventName.trim() } }
    : draft.type === 'purchase'
      ? { trigger: { type: 'purchase', ...(draft.productId.trim() ? { product_id: draft.productId.trim() } : {}) } }
      : {};

/** The body's `exit_on_events` (absent when none: the API answers the same). */
export const exitEventsOf = (draft: TriggerDraft) => {
  const names = draft.exitEvents
    .split('\n')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  return names.length > 0 ? { exit_on_events: names } : {};
};

/** What the form checks before it sends (the API checks the rest, and the form shows its 400). */
export const triggerProblems = (draft: TriggerDraft): string[] =>
  draft.type === 'custom_event' && draft.eventName.trim() === '' ? [t('campaigns.missingEventName')] : [];

/** How a definition's entry reads in a list and on its page: undefined for entering the segment. */
export const triggerSummary = (campaign: Campaign): string | undefined => {
  const delivery = campaign.delivery;
  const trigger = delivery?.type === 'action_based' ? delivery.trigger : undefined;
  if (!trigger || trigger.type === 'entered_segment') return undefined;
  const when =
    trigger.type === 'custom_event'
      ? t('campaigns.triggerSummaryEvent', { name: trigger.name })
      : trigger.product_id !== null
        ? t('campaigns.triggerSummaryPurchase', { product: trigger.product_id })
        : t('campaigns.triggerSummaryAnyPurchase');
  const minutes =
    delivery?.type === 'action_based' && delivery.delay_seconds !== undefined
      ? Math.round(delivery.delay_seconds / 60)
      : undefined;
  return minutes === undefined ? when : `${when}${t('campaigns.triggerSummaryDelay', { minutes })}`;
};

export const exitSummary = (campaign: Campaign): string | undefined =>
  campaign.exit_on_events && campaign.exit_on_events.length > 0
    ? t('campaigns.exitSummary', { events: campaign.exit_on_events.join(', ') })
    : undefined;

export const TriggerFields = ({
  id,
  draft,
  onChange,
}: {
  id: string;
  draft: TriggerDraft;
  onChange: (draft: TriggerDraft) => void;
}) => {
  const set = (change: Partial<TriggerDraft>) => onChange({ ...draft, ...change });
  return (
    <>
      <fieldset>
        <legend>{t('campaigns.triggerLegend')}</legend>
        {(
          [
            ['entered_segment', 'campaigns.triggerSegment'],
            ['custom_event', 'campaigns.triggerEvent'],
            ['purchase', 'campaigns.triggerPurchase'],
          ] as const
        ).map(([type, label]) => (
          <Choice
            key={type}
            name={`${id}-trigger`}
            checked={draft.type === type}
            onChange={() => set({ type })}
            label={t(label)}
          />
        ))}
        {draft.type === 'custom_event' && (
          <div class="control">
            <label for={`${id}-event`}>{t('campaigns.eventName')}</label>
            <input
              id={`${id}-event`}
              value={draft.eventName}
              maxLength={255}
              onInput={(event) => set({ eventName: (event.currentTarget as HTMLInputElement).value })}
            />
          </div>
        )}
        {draft.type === 'purchase' && (
          <div class="control">
            <label for={`${id}-product`}>{t('campaigns.productId')}</label>
            <input
              id={`${id}-product`}
              value={draft.productId}
              maxLength={255}
              onInput={(event) => set({ productId: (event.currentTarget as HTMLInputElement).value })}
            />
          </div>
        )}
        {draft.type !== 'entered_segment' && (
          <p class="muted small">{t('campaigns.eventNote', { example: EVENT_PROPERTIES_EXAMPLE })}</p>
        )}
      </fieldset>
      <ExitEventsField id={id} draft={draft} onChange={onChange} />
    </>
  );
};

export const ExitEventsField = ({
  id,
  draft,
  onChange,
}: {
  id: string;
  draft: TriggerDraft;
  onChange: (draft: TriggerDraft) => void;
}) => (
  <div class="control">
    <label for={`${id}-exit`}>{t('campaigns.exitEvents')}</label>
    <textarea
      id={`${id}-exit`}
      rows={2}
      value={draft.exitEvents}
      aria-describedby={`${id}-exit-help`}
      onInput={(event) => onChange({ ...draft, exitEvents: (event.currentTarget as HTMLTextAreaElement).value })}
    />
    <p id={`${id}-exit-help`} class="muted small">
      {t('campaigns.exitEventsNote')}
    </p>
  </div>
);
