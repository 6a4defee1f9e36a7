/**
 * The send-rate limit held at send time (docs/campaigns.md, "Send-rate limit"): which of a
 * batch's claimed paced messages go now, wait for their slot, or take a new slot and are
 * queued again for it. Part of the sender (lib/campaigns/sender.ts).
 */
import type { SendMessage } from './messages.js';
import type { Campaign } from './model.js';
import type { Decision, SenderPorts } from './sender-ports.js';

/**
 * How late after its send-rate slot a paced message may still go: a little more than the
 * slot's rounding to SQS's whole seconds, a batching window and a busy sender's queue. Later,
 * it takes a new slot, so any minute holds at most R × (60 + 5) ÷ 60 of a campaign's
 * messages (≈ 1.08 R): the backlog of a paused destination, a restart or a retry storm is
 * spread again instead of sent at once.
 */
export const LATE_TOLERANCE_MS = 5_000;
/** How early a paced message may go (clocks and rounding): earlier, it waits for its slot. */
const EARLY_TOLERANCE_MS = 1_000;
const SQS_MAX_DELAY_SECONDS = 900;
/** ChangeMessageVisibility's bound: 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * The send-rate limit held at send time (docs/campaigns.md, "Send-rate limit"): a paced
 * message more than LATE_TOLERANCE_MS after its slot (its destination was paused, it was
 * retried, the sender fell behind or was down) takes a new slot from its campaign's pacer,
 * one reservation per campaign per batch, and goes now only if that slot is now; otherwise
 * it is queued again for the slot. One that came early (a slot past SQS's 15-minute delay)
 * is handed back until its slot. Decisions by position in `claimed`; the rest are decided
 * as usual.
 */
export const holdRateLimits = async (
  ports: Pick<SenderPorts, 'campaigns' | 'sends'>,
  definitions: (key: string, load: () => Promise<Campaign | undefined>) => Promise<Campaign | undefined>,
  claimed: readonly SendMessage[],
  now: Date,
): Promise<Map<number, Decision>> => {
  const held = new Map<number, Decision>();
  if (!ports.sends) return held;
  const late = new Map<string, { perMinute: number; positions: number[] }>();
  for (const [position, message] of claimed.entries()) {
    if (!message.paced) continue;
    const campaign = await definitions(`${message.workspaceId}\u0000${message.campaignId}`, () =>
      ports.campaigns.get(message.workspaceId, message.campaignId),
    );
    const perMinute = campaign?.status === 'active' ? campaign.rateLimitPerMinute : undefined;
    if (perMinute === undefined) continue;
    const behind = now.getTime() - Date.parse(message.dueAt);
    if (behind < -EARLY_TOLERANCE_MS)
      held.set(position, {
        kind: 'defer',
        delaySeconds: Math.min(MAX_VISIBILITY_SECONDS, Math.ceil(-behind / 1000)),
        reason: 'before its send-rate slot',
      });
    else if (behind > LATE_TOLERANCE_MS) {
      const key = `${message.workspaceId}\u0000${message.campaignId}`;
      const group = late.get(key) ?? { perMinute, positions: [] };
      group.positions.push(position);
      late.set(key, group);
    }
  }
  for (const { perMinute, positions } of late.values()) {
    const { workspaceId, campaignId } = claimed[positions[0]!]!;
    const slots = await ports.campaigns.reserveSlots(
      workspaceId,
      campaignId,
      positions.map(() => now.getTime()),
      perMinute,
    );
    positions.forEach((position, order) => {
      const slot = Math.ceil(slots[order]!);
      // The slot is now (the pacer had room): the message goes, holding it.
      if (slot < now.getTime() + EARLY_TOLERANCE_MS) return;
      held.set(position, {
        kind: 'repace',
        message: { ...claimed[position]!, dueAt: new Date(slot).toISOString(), paced: true },
        delaySeconds: Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil((slot - now.getTime()) / 1000)),
      });
    });
  }
  return held;
};
