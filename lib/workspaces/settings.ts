/**
 * A workspace's own settings, as its REST API key holder (the console) changes them: which
 * partners may send it cohorts, and its data import key (a new one shown once, the old one
 * kept for a grace period). Operators do the same with the admin CLI.
 */
import type { KeyInfoView, PartnerStatusView, WorkspaceView } from '../contract/views.js';
import * as z from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { describeIssues } from '../contract/partner.js';
import { DEFAULT_CREDENTIAL_CACHE_TTL_MS } from './credential-cache.js';
import { effectiveGraceSeconds, keyHint, oldKeyWorksUntil } from './keys.js';
import { isKnownPartner, KNOWN_PARTNERS } from './partners.js';
import type { KeyKind, PartnerRegistration, Workspace } from './types.js';

/** What may be shown of a current key: never the key or its hash. Both absent for keys issued before hints were kept. */
export interface KeyInfo {
  kind: KeyKind;
  hint?: string;
  createdAt?: string;
}

export interface WorkspaceSettingsStore {
  getWorkspace(workspaceId: string): Promise<Workspace | undefined>;
  /** The partner registry (operator-registered partners and whether each is enabled at all). */
  listPartners(): Promise<PartnerRegistration[]>;
  /**
   * Changes the workspace's partners by `change` of the list as it is, atomically (a
   * conditional write; concurrent changes are applied one after another, or the loser
   * gets a ConflictError): no change is lost.
   */
  changeWorkspacePartners(workspaceId: string, change: (partners: readonly string[]) => string[]): Promise<Workspace>;
  getKeyInfo(workspaceId: string, kind: KeyKind): Promise<KeyInfo | undefined>;
  /** Issues a new key; the old one keeps working `graceSeconds` (0: stops at once). */
  rotateKey(workspaceId: string, kind: KeyKind, graceSeconds: number, now: Date): Promise<string>;
}

/**
 * The longest grace a rotated-out key gets (as the admin CLI's): a week is ample to
 * re-configure a partner, and a key that leaked is what gets rotated, so it should not
 * live on for long.
 */
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

export interface PartnerStatus {
  partner: string;
  /** The workspace accepts this partner's requests. */
  enabled: boolean;
  /** The operator registered the partner and it is enabled in the registry (else it cannot send, enabled or not). */
  available: boolean;
}

/** A workspace as the API's `GET /workspace` answers it and the admin CLI prints it (never its keys). */
export const workspaceView = (workspace: Workspace): WorkspaceView => ({
  workspace_id: workspace.workspaceId,
  name: workspace.name,
  partners: workspace.partners,
  created_at: workspace.createdAt,
});

export const partnerStatusView = (status: PartnerStatus): PartnerStatusView => ({
  partner: status.partner,
  enabled: status.enabled,
  available: status.available,
});

export const requireWorkspace = async (store: WorkspaceSettingsStore, workspaceId: string): Promise<Workspace> => {
  const workspace = await store.getWorkspace(workspaceId);
  // The key was just found for it: a workspace gone since is a 404, not a defect.
  if (!workspace) throw new NotFoundError(`No workspace ${workspaceId}`);
  return workspace;
};

/** Every known partner, with its status for the workspace. */
export const partnerStatuses = async (store: WorkspaceSettingsStore, workspaceId: string): Promise<PartnerStatus[]> => {
  const [workspace, registry] = await Promise.all([requireWorkspace(store, workspaceId), store.listPartners()]);
  return KNOWN_PARTNERS.map((partner) => ({
    partner,
    enabled: workspace.partners.includes(partner),
    available: registry.some((registration) => registration.partner === partner && registration.enabled),
  }));
};

const parse = <T>(schema: z.ZodType<T>, body: unknown, what: string): T => {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const details = describeIssues(result.error);
    throw new ValidationError(`Invalid ${what}: ${details[0] ?? 'not an object'}`, details);
  }
  return result.data;
};

const PartnerChange = z.strictObject({ enabled: z.boolean({ error: 'must be true or false' }) });

/** Enables or disables one partner for the workspace (its requests are refused at once; ingest caches keys up to 30 s). */
export const setPartnerEnabled = async (
  store: WorkspaceSettingsStore,
  workspaceId: string,
  partner: string,
  body: unknown,
): Promise<PartnerStatus> => {
  if (!isKnownPartner(partner))
    throw new NotFoundError(`No partner ${partner}: known are ${KNOWN_PARTNERS.join(', ')}`);
  const { enabled } = parse(PartnerChange, body, 'partner change');
  await requireWorkspace(store, workspaceId);
  const registry = await store.listPartners();
  const available = registry.some((registration) => registration.partner === partner && registration.enabled);
  // Enabling a partner this deployment does not offer would promise syncs it refuses: a 409 that says why.
  // Disabling is always allowed.
  if (enabled && !available)
    throw new ConflictError(
      `${partner} is not offered by this deployment: an operator must register it first (npm run admin -- partner register ${partner})`,
    );
  const updated = await store.changeWorkspacePartners(workspaceId, (partners) =>
    enabled ? [...new Set([...partners, partner])] : partners.filter((name) => name !== partner),
  );
  return { partner, enabled: updated.partners.includes(partner), available };
};

export const parseKeyKind = (kind: string | undefined): KeyKind => {
  if (kind === 'data_import' || kind === 'rest') return kind;
  throw new NotFoundError(`No key kind ${kind}: data_import or rest`);
};

export const keyInfoView = (info: KeyInfo): KeyInfoView => ({
  kind: info.kind,
  hint: info.hint ?? null,
  created_at: info.createdAt ?? null,
});

const Rotation = z.strictObject({
  grace_seconds: z
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(0, { error: 'must be 0 (cut the old key off now) or more' })
    .max(MAX_GRACE_SECONDS, { error: `must be at most ${MAX_GRACE_SECONDS} (7 days)` })
    .optional(),
});

/**
 * A new data import key, answered once (only its hash is kept). The REST API key is not
 * rotated here: a console holding it would cut itself off; operators rotate it (admin CLI).
 */
export const rotateDataImportKey = async (
  store: WorkspaceSettingsStore,
  workspaceId: string,
  kind: KeyKind,
  body: unknown,
  now: Date,
  /** How long ingest instances reuse a key lookup: the least grace there can be (keys.ts, effectiveGraceSeconds). */
  credentialCacheTtlMs: number = DEFAULT_CREDENTIAL_CACHE_TTL_MS,
) => {
  if (kind !== 'data_import')
    throw new ValidationError(
      'Only the data import key is rotated through the API: an operator rotates the REST API key (npm run admin -- workspace rotate-key --kind rest)',
    );
  const { grace_seconds: asked = 0 } = parse(Rotation, body, 'key rotation');
  const grace = effectiveGraceSeconds(asked, credentialCacheTtlMs / 1000);
  await requireWorkspace(store, workspaceId);
  const key = await store.rotateKey(workspaceId, kind, grace, now);
  return {
    kind,
    key,
    hint: keyHint(key),
    created_at: now.toISOString(),
    previous_key_expires_at: oldKeyWorksUntil(now, grace),
  };
};
