/**
 * The user endpoints, segment audiences and exports run on their ports alone: here with
 * plain in-memory ones (no DynamoDB, SQS or S3), which is what the ports are for.
 */
import { describe, expect, it } from 'vitest';
import { identifierKey, type IdentifierRef } from '../../lib/cohorts/matching.js';
import type { CohortRef } from '../../lib/cohorts/messages.js';
import type { Cohort } from '../../lib/cohorts/ports.js';
import type { ConnectorSubscription, CurrentsMessage } from '../../lib/currents/ports.js';
import { parseFilter } from '../../lib/segments/filter.js';
import { exportView, runExportChunk, startExport } from '../../lib/segments/export.js';
import type {
  BlobStore,
  ExportJob,
  ExportStore,
  MemberReader,
  Segment,
  WorkspaceUsers,
} from '../../lib/segments/ports.js';
import { audiencePage } from '../../lib/segments/service.js';
import { ExportIdsRequest, IdentifyRequest, parseBody, TrackRequest } from '../../lib/users/requests.js';
import { exportUsers, identifyUsers, trackUsers, type UserPorts } from '../../lib/users/service.js';
import {
  newProfile,
  UserConflictError,
  type UserAliasValue,
  type UserMemberships,
  type UserProfile,
  type UserStore,
} from '../../lib/users/ports.js';

const WORKSPACE = 'ws-memory';
const NOW = new Date('2026-03-01T12:00:00.000Z');

class MemoryUsers implements UserStore, WorkspaceUsers {
  readonly profiles = new Map<string, UserProfile>();
  private readonly owners = new Map<string, string>();
  private nextId = 0;

  private own(ref: IdentifierRef, brazeId: string) {
    const owner = this.owners.get(identifierKey(ref));
    if (owner !== undefined && owner !== brazeId) throw new UserConflictError('identifier taken');
    this.owners.set(identifierKey(ref), brazeId);
  }
  private profile(brazeId: string): UserProfile {
    const profile = this.profiles.get(brazeId);
    if (!profile) throw new Error(`no profile ${brazeId}`);
    return profile;
  }
  async find(_workspaceId: string, ref: IdentifierRef) {
    const brazeId = this.owners.get(identifierKey(ref));
    return brazeId === undefined
      ? undefined
      : { brazeId, identified: this.profiles.get(brazeId)?.externalId !== undefined };
  }
  async findOrCreate(workspaceId: string, ref: IdentifierRef, now: Date) {
    const existing = await this.find(workspaceId, ref);
    if (existing) return { brazeId: existing.brazeId, created: false };
    // Hex ids that sort in creation order, like the braze_ids segments merge on.
    const brazeId = (this.nextId++).toString(16).padStart(24, '0');
    this.profiles.set(brazeId, newProfile(workspaceId, brazeId, ref, now));
    this.own(ref, brazeId);
    return { brazeId, created: true };
  }
  async getProfile(_workspaceId: string, brazeId: string) {
    return this.profiles.get(brazeId);
  }
  async getProfiles(_workspaceId: string, brazeIds: readonly string[]) {
    return [...new Set(brazeIds)].flatMap((brazeId) => this.profiles.get(brazeId) ?? []);
  }
  async addAlias(_workspaceId: string, brazeId: string, alias: UserAliasValue) {
    this.own({ type: 'alias', label: alias.alias_label, name: alias.alias_name }, brazeId);
    this.profile(brazeId).aliases.push(alias);
  }
  async addDeviceToIdentifiedUser(_workspaceId: string, brazeId: string, deviceId: string) {
    this.own({ type: 'device_id', deviceId }, brazeId);
    this.profile(brazeId).deviceIds.push(deviceId);
  }
  async setCustomAttributes(_workspaceId: string, brazeId: string, attributes: Record<string, unknown>) {
    Object.assign(this.profile(brazeId).customAttributes, attributes);
  }
  async identifyInPlace(_workspaceId: string, profile: UserProfile, externalId: string) {
    this.own({ type: 'external_id', externalId }, profile.brazeId);
    this.profile(profile.brazeId).externalId = externalId;
  }
  async mergeInto(_workspaceId: string, source: UserProfile, target: UserProfile) {
    for (const alias of source.aliases) {
      this.owners.set(
        identifierKey({ type: 'alias', label: alias.alias_label, name: alias.alias_name }),
        target.brazeId,
      );
      this.profile(target.brazeId).aliases.push(alias);
    }
    this.profiles.delete(source.brazeId);
  }
  async *workspaceUsers(_workspaceId: string, after?: string) {
    yield* [...this.profiles.keys()].sort().filter((brazeId) => after === undefined || brazeId > after);
  }
  async workspaceUserCount() {
    return { users: this.profiles.size };
  }
}

class MemoryMemberships implements MemberReader, UserMemberships {
  private readonly members = new Map<string, Set<string>>();
  readonly cohorts = new Map<string, Cohort>();
  private static key = (ref: Pick<CohortRef, 'partner' | 'cohortId'>) => `${ref.partner}/${ref.cohortId}`;

  add(cohortId: string, brazeIds: readonly string[]) {
    const key = MemoryMemberships.key({ partner: 'heap', cohortId });
    const members = this.members.get(key) ?? new Set();
    for (const brazeId of brazeIds) members.add(brazeId);
    this.members.set(key, members);
    this.cohorts.set(key, {
      partner: 'heap',
      cohortId,
      name: `Cohort ${cohortId}`,
      memberCount: members.size,
      firstSeenAt: NOW.toISOString(),
    });
  }
  async *cohortMembers(cohort: CohortRef, after?: string) {
    const members = [...(this.members.get(MemoryMemberships.key(cohort)) ?? [])].sort();
    yield* members.filter((brazeId) => after === undefined || brazeId > after);
  }
  async getCohorts(_workspaceId: string, refs: readonly CohortRef[]) {
    return refs.flatMap((ref) => this.cohorts.get(MemoryMemberships.key(ref)) ?? []);
  }
  async cohortsOfUser(workspaceId: string, brazeId: string) {
    return [...this.cohorts.values()]
      .filter((cohort) => this.members.get(MemoryMemberships.key(cohort))?.has(brazeId))
      .map((cohort) => ({ workspaceId, partner: cohort.partner, cohortId: cohort.cohortId }));
  }
  async dropUser(workspaceId: string, brazeId: string) {
    const refs = await this.cohortsOfUser(workspaceId, brazeId);
    for (const ref of refs) this.members.get(MemoryMemberships.key(ref))!.delete(brazeId);
    return refs.length;
  }
}

class MemoryExports implements ExportStore {
  readonly jobs = new Map<string, ExportJob>();
  /** Called as a job is marked done, to see what a reader of "done" would find. */
  onDone: (manifest: string | undefined) => void = () => {};
  async create(job: ExportJob) {
    this.jobs.set(job.exportId, structuredClone(job));
  }
  async get(_workspaceId: string, exportId: string) {
    const job = this.jobs.get(exportId);
    return job && structuredClone(job);
  }
  async advance(
    job: ExportJob,
    update: { part: string; cursor?: string; users: number; done: boolean; manifest?: string },
    _now: Date,
  ) {
    const stored = this.jobs.get(job.exportId)!;
    if (stored.parts.length !== job.parts.length || stored.status !== 'running') return false;
    if (update.done) this.onDone(update.manifest);
    if (update.manifest !== undefined) stored.manifest = update.manifest;
    stored.parts.push(update.part);
    stored.usersWritten += update.users;
    stored.status = update.done ? 'done' : 'running';
    if (update.cursor !== undefined) stored.cursor = update.cursor;
    return true;
  }
}

class MemoryBlobs implements BlobStore {
  readonly objects = new Map<string, string>();
  async put(key: string, body: string) {
    this.objects.set(key, body);
  }
  async get(key: string) {
    return this.objects.get(key);
  }
  locate(key: string) {
    return `memory://${key}`;
  }
}

const userPorts = () => {
  const queued: CurrentsMessage[] = [];
  const connectors: ConnectorSubscription[] = [
    { connectorId: 'custom-events', eventTypes: ['users.behaviors.CustomEvent'], paused: false },
    { connectorId: 'paused', eventTypes: ['users.behaviors.CustomEvent'], paused: true },
  ];
  const ports = {
    users: new MemoryUsers(),
    memberships: new MemoryMemberships(),
    currents: {
      connectors: { list: async () => connectors },
      queue: { send: async (messages: readonly CurrentsMessage[]) => void queued.push(...messages) },
    },
    clock: () => NOW,
  } satisfies UserPorts;
  return { ...ports, queued };
};

describe('user endpoints on in-memory ports', () => {
  it('tracks users and queues their events for the connectors that take them, paused ones too (held, not lost)', async () => {
    // Prepare
    const ports = userPorts();
    const request = parseBody(
      TrackRequest,
      {
        attributes: [{ external_id: 'ada', plan: 'pro' }, { user_alias: { alias_label: 'email', alias_name: 'b@x' } }],
        events: [
          { external_id: 'ada', name: 'opened', time: NOW.toISOString() },
          { external_id: 'nobody', name: 'opened', time: NOW.toISOString() },
        ],
      },
      '/users/track',
    );

    // Act
    const result = await trackUsers(WORKSPACE, request, ports);

    // Assess
    expect(result).toEqual({
      processed: 2,
      events: 1,
      errors: [{ type: expect.stringContaining('no such user'), input_array: 'events', index: 1 }],
    });
    expect(ports.queued).toEqual(
      ['custom-events', 'paused'].map((connectorId) =>
        expect.objectContaining({
          workspaceId: WORKSPACE,
          connectorId,
          queuedAt: NOW.getTime(),
          event: expect.objectContaining({ event_type: 'users.behaviors.CustomEvent' }),
        }),
      ),
    );
    const ada = await ports.users.find(WORKSPACE, { type: 'external_id', externalId: 'ada' });
    expect((await ports.users.getProfile(WORKSPACE, ada!.brazeId))?.customAttributes).toEqual({ plan: 'pro' });
  });

  it('merges an alias-only user into the identified one, ending its memberships, and exports the result', async () => {
    // Prepare
    const ports = userPorts();
    const anonymous = await ports.users.findOrCreate(WORKSPACE, { type: 'alias', label: 'email', name: 'a@x' }, NOW);
    const known = await ports.users.findOrCreate(WORKSPACE, { type: 'external_id', externalId: 'ada' }, NOW);
    ports.memberships.add('trial', [anonymous.brazeId]);
    ports.memberships.add('paying', [known.brazeId]);

    // Act
    const identified = await identifyUsers(
      WORKSPACE,
      parseBody(
        IdentifyRequest,
        { aliases_to_identify: [{ external_id: 'ada', user_alias: { alias_label: 'email', alias_name: 'a@x' } }] },
        '/users/identify',
      ),
      ports,
    );
    const exported = await exportUsers(
      WORKSPACE,
      parseBody(ExportIdsRequest, { external_ids: ['ada', 'ghost'] }, '/users/export/ids'),
      ports,
    );

    // Assess
    expect(identified).toEqual({ identified: 0, merged: 1, errors: [] });
    expect(ports.users.profiles.has(anonymous.brazeId)).toBe(false);
    expect(await ports.memberships.cohortsOfUser(WORKSPACE, anonymous.brazeId)).toEqual([]);
    expect(exported.invalidUserIds).toEqual(['ghost']);
    expect(exported.users).toEqual([
      expect.objectContaining({
        braze_id: known.brazeId,
        external_id: 'ada',
        user_aliases: [{ alias_name: 'a@x', alias_label: 'email' }],
        cohorts: [{ partner: 'heap', cohort_id: 'paying', name: 'Cohort paying' }],
      }),
    ]);
  });
});

describe('segment audiences and exports on in-memory ports', () => {
  const audience = async () => {
    const users = new MemoryUsers();
    const ids: string[] = [];
    for (let index = 0; index < 10; index += 1) {
      ids.push((await users.findOrCreate(WORKSPACE, { type: 'external_id', externalId: `u${index}` }, NOW)).brazeId);
    }
    const memberships = new MemoryMemberships();
    memberships.add('trial', ids.slice(0, 8));
    memberships.add('churned', ids.slice(0, 2));
    const segment: Segment = {
      segmentId: 'seg-1',
      name: 'trial, not churned',
      filter: parseFilter({
        all: [
          { cohort: { partner: 'heap', cohort_id: 'trial', includes: true } },
          { cohort: { partner: 'heap', cohort_id: 'churned', includes: false } },
        ],
      }),
      createdAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
    };
    return { ports: { users, memberships }, segment, expected: ids.slice(2, 8) };
  };

  it('pages through the audience with the cursor it hands out', async () => {
    // Prepare
    const { ports, segment, expected } = await audience();

    // Act
    const first = await audiencePage(WORKSPACE, segment, { limit: '4' }, ports);
    const second = await audiencePage(WORKSPACE, segment, { limit: '4', cursor: first.nextCursor! }, ports);

    // Assess
    expect(first.users.map((user) => user.braze_id)).toEqual(expected.slice(0, 4));
    expect(second.users.map((user) => user.braze_id)).toEqual(expected.slice(4));
    expect(second.nextCursor).toBeNull();
  });

  it('writes the audience as NDJSON parts and a manifest, and a duplicate chunk changes nothing', async () => {
    // Prepare
    const { ports, segment, expected } = await audience();
    const exportPorts = { ...ports, exports: new MemoryExports(), blobs: new MemoryBlobs() };
    const job = await startExport(WORKSPACE, segment, exportPorts, NOW);
    const stale = await exportPorts.exports.get(WORKSPACE, job.exportId);
    const manifestsWhenDone: (string | undefined)[] = [];
    exportPorts.exports.onDone = (manifest) =>
      manifestsWhenDone.push(manifest && exportPorts.blobs.objects.get(manifest));

    // Act
    const first = await runExportChunk(WORKSPACE, job.exportId, exportPorts, { maxUsers: 4, outOfTime: () => false });
    const last = await runExportChunk(WORKSPACE, job.exportId, exportPorts, { maxUsers: 4, outOfTime: () => false });
    const duplicate = await exportPorts.exports.advance(stale!, { part: 'again', users: 4, done: false }, NOW);

    // Assess
    expect([first.advanced, last.advanced, duplicate]).toEqual([true, true, false]);
    expect(last.job).toMatchObject({ status: 'done', usersWritten: expected.length });
    // Whoever reads "done" finds the manifest: it is written before the job is marked done.
    expect(manifestsWhenDone).toEqual([expect.stringContaining(job.exportId)]);
    expect((await exportPorts.exports.get(WORKSPACE, job.exportId))!.manifest).toBe(last.job!.manifest);
    const written = last.job!.parts.flatMap((part) =>
      exportPorts.blobs.objects
        .get(part)!
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).braze_id as string),
    );
    expect(written).toEqual(expected);
    const view = exportView(last.job!, exportPorts.blobs);
    expect(JSON.parse(exportPorts.blobs.objects.get(view.manifest!.replace('memory://', ''))!)).toMatchObject({
      export_id: job.exportId,
      users: expected.length,
      parts: last.job!.parts.map((part) => `memory://${part}`),
    });
  });
});
