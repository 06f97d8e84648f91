/** The cohort batcher (src/digitalocean/cohorts.ts) against a fake client and store. */
import type { Action } from '../../src/digitalocean/client';
import {
  PowerCohorts,
  type CohortClient,
  type CohortMember,
  type CohortStore,
} from '../../src/digitalocean/cohorts';
import { DigitalOceanServerError } from '../../src/digitalocean/errors';

interface Fake {
  calls: string[];
  client: CohortClient;
  store: CohortStore & { cohorts: { id: number; tag: string; deleted: boolean; acted?: unknown }[] };
  recorded: { key: string; actionId: number }[];
  /** what the next bulk action answers (default: one in-progress action per tagged droplet) */
  bulk?: (ids: number[]) => Action[] | Promise<Action[]>;
}

function fake(): Fake {
  const tags = new Map<string, number[]>();
  let nextAction = 1000;
  const f: Fake = {
    calls: [],
    recorded: [],
    client: {
      createTag: async (name) => {
        f.calls.push(`createTag ${name}`);
        tags.set(name, []);
      },
      tagDroplets: async (tag, ids) => {
        f.calls.push(`tag ${tag} ${ids.join(',')}`);
        tags.get(tag)!.push(...ids);
      },
      deleteTag: async (tag) => {
        f.calls.push(`deleteTag ${tag}`);
        tags.delete(tag);
      },
      bulkDropletAction: async (tag, type, opts) => {
        f.calls.push(`bulk ${tag} ${type} ${opts?.lane}`);
        const ids = tags.get(tag) ?? [];
        if (f.bulk) return f.bulk(ids);
        return ids.map(
          (id) => ({ id: nextAction++, resource_id: id, status: 'in-progress', type }) as Action,
        );
      },
      getAction: async (id) => {
        f.calls.push(`getAction ${id}`);
        return { id, status: 'completed' } as Action;
      },
      findActions: async (ids) => {
        f.calls.push(`findActions ${ids.join(',')}`);
        return new Map(ids.map((id) => [id, { id, status: 'completed' } as Action]));
      },
    },
    store: {
      cohorts: [],
      create: async (input) => {
        const id = f.store.cohorts.length + 1;
        const c = { id, tag: `${input.tagPrefix}-${id}`, deleted: false };
        f.store.cohorts.push(c);
        return c;
      },
      recordMembers: async () => undefined,
      recordActionIds: async (answers) => {
        f.recorded.push(...answers);
      },
      recordActed: async (id, outcome) => {
        f.store.cohorts[id - 1]!.acted = outcome;
      },
      recordDeleted: async (id) => {
        f.store.cohorts[id - 1]!.deleted = true;
      },
      undeleted: async () =>
        f.store.cohorts.filter((c) => !c.deleted).map((c) => ({ ...c, account: 'default' })),
    },
  };
  return f;
}

const member = (dropletId: number, extra: Partial<CohortMember> = {}): CohortMember => ({
  account: 'default',
  type: 'power_on',
  lane: 'bulk',
  dropletId,
  key: `run-${dropletId}/power_on`,
  ...extra,
});

const logger = { info: () => undefined, warn: () => undefined };

function batcher(f: Fake, settings = {}) {
  return new PowerCohorts({
    clientOf: () => f.client,
    store: f.store,
    logger,
    settings: { lingerMs: 30, ...settings },
  });
}

it('members arriving within the linger share one tag, one bulk action and one tag deletion', async () => {
  const f = fake();
  const b = batcher(f);
  const answers = await Promise.all([1, 2, 3, 4].map((id) => b.submit(member(id))));
  expect(answers.map((a) => a.kind)).toEqual(['started', 'started', 'started', 'started']);
  expect(f.calls).toEqual([
    'createTag genesis-cohort-1',
    'tag genesis-cohort-1 1,2,3,4',
    'bulk genesis-cohort-1 power_on bulk',
    'deleteTag genesis-cohort-1',
  ]);
  expect(f.recorded.map((r) => r.key)).toEqual([1, 2, 3, 4].map((id) => `run-${id}/power_on`));
  expect(f.store.cohorts[0]).toMatchObject({ deleted: true, acted: { started: [1, 2, 3, 4] } });
  expect(answers[0]).toEqual({
    kind: 'started',
    actionId: f.recorded[0]!.actionId,
    cohortTag: 'genesis-cohort-1',
  });
});

it('below the minimum size no cohort forms: the members start single actions', async () => {
  const f = fake();
  const b = batcher(f, { minSize: 3 });
  const answers = await Promise.all([1, 2].map((id) => b.submit(member(id))));
  expect(answers.map((a) => a.kind)).toEqual(['not_started', 'not_started']);
  expect(f.calls).toEqual([]);
});

it('a batch is sent at max size without waiting out the linger; the rest form the next cohort', async () => {
  const f = fake();
  const b = batcher(f, { lingerMs: 60_000, maxSize: 3, minSize: 2 });
  const first = Promise.all([1, 2, 3].map((id) => b.submit(member(id))));
  expect((await first).every((a) => a.kind === 'started')).toBe(true);
  const rest = Promise.all([4, 5].map((id) => b.submit(member(id))));
  await b.drain();
  expect((await rest).map((a) => a.kind)).toEqual(['started', 'started']);
  expect(f.store.cohorts.map((c) => c.tag)).toEqual(['genesis-cohort-1', 'genesis-cohort-2']);
});

it('different accounts, types or lanes never share a cohort', async () => {
  const f = fake();
  const b = batcher(f, { minSize: 2 });
  await Promise.all([
    b.submit(member(1)),
    b.submit(member(2)),
    b.submit(member(3, { type: 'shutdown', key: 'k3' })),
    b.submit(member(4, { type: 'shutdown', key: 'k4' })),
    b.submit(member(5, { lane: 'remediation', key: 'k5' })),
    b.submit(member(6, { account: 'team_b', key: 'k6' })),
  ]);
  const bulks = f.calls.filter((c) => c.startsWith('bulk'));
  expect(bulks.sort()).toEqual(
    ['bulk genesis-cohort-1 power_on bulk', 'bulk genesis-cohort-2 shutdown bulk'].sort(),
  );
});

it('a member the bulk answer names no action for, or an errored one, is not started', async () => {
  const f = fake();
  f.bulk = (ids) => [
    { id: 1, resource_id: ids[0], status: 'in-progress' } as Action,
    { id: 2, resource_id: ids[1], status: 'errored' } as Action,
  ];
  const b = batcher(f);
  const answers = await Promise.all([1, 2, 3].map((id) => b.submit(member(id))));
  expect(answers.map((a) => a.kind)).toEqual(['started', 'not_started', 'not_started']);
  expect(f.recorded).toEqual([{ key: 'run-1/power_on', actionId: 1 }]);
  expect(f.calls).toContain('deleteTag genesis-cohort-1');
});

it('a failed bulk request (it may have reached DigitalOcean) fails the members; the tag is still deleted', async () => {
  const f = fake();
  f.bulk = () => {
    throw new DigitalOceanServerError({ method: 'POST', path: '/v2/droplets/actions', status: 500 });
  };
  const b = batcher(f);
  const outcomes = await Promise.all(
    [1, 2, 3].map((id) =>
      b.submit(member(id)).then(
        () => 'answered',
        () => 'failed',
      ),
    ),
  );
  expect(outcomes).toEqual(['failed', 'failed', 'failed']);
  expect(f.store.cohorts[0]).toMatchObject({ deleted: true });
});

it('a failure before the bulk request (tagging) answers not started: nothing was powered', async () => {
  const f = fake();
  f.client.tagDroplets = async () => {
    throw new Error('network down');
  };
  const b = batcher(f);
  const answers = await Promise.all([1, 2, 3].map((id) => b.submit(member(id))));
  expect(answers.map((a) => a.kind)).toEqual(['not_started', 'not_started', 'not_started']);
  expect(f.calls.some((c) => c.startsWith('bulk'))).toBe(false);
});

it('the sweep deletes the tags of cohorts whose worker died before deleting them', async () => {
  const f = fake();
  await f.store.create({
    tagPrefix: 'genesis-cohort',
    account: 'default',
    type: 'power_on',
    lane: 'bulk',
    members: [1],
  });
  expect(await batcher(f).sweep(0)).toBe(1);
  expect(f.calls).toEqual(['deleteTag genesis-cohort-1']);
  expect(f.store.cohorts[0]!.deleted).toBe(true);
});

it('lookups arriving together share one GET /v2/actions page; one alone is one GET /v2/actions/{id}', async () => {
  const f = fake();
  const b = batcher(f);
  const looks = await Promise.all([11, 12, 13].map((id) => b.lookup('default', id, 'bulk')));
  expect(looks.map((a) => a?.status)).toEqual(['completed', 'completed', 'completed']);
  expect(await b.lookup('default', 14, 'interactive')).toMatchObject({ id: 14 });
  expect(f.calls).toEqual(['findActions 11,12,13', 'getAction 14']);
});

it('interactive actions and types without a bulk form are never batched', () => {
  const b = batcher(fake());
  expect(b.batchable('power_on', 'interactive')).toBe(false);
  expect(b.batchable('reboot', 'bulk')).toBe(false);
  expect(b.batchable('power_on', 'remediation')).toBe(true);
  expect(b.batchable('shutdown', 'bulk')).toBe(true);
});
