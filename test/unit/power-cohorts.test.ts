/**
 * The cohort batcher (src/digitalocean/cohorts.ts) against a fake client and store, and its
 * lookups through the real client against the in-process DigitalOcean simulator.
 */
import { DigitalOceanClient, type Action } from '../../src/digitalocean/client';
import {
  DEFAULT_COHORT_SETTINGS,
  lookupPages,
  PowerCohorts,
  type CohortAnswer,
  type CohortClient,
  type CohortMember,
  type CohortStore,
} from '../../src/digitalocean/cohorts';
import { DigitalOceanServerError } from '../../src/digitalocean/errors';
import type { BudgetLane } from '../../src/domain/budget-lanes';
import {
  createDigitalOceanSimulator,
  DEFAULT_SIMULATOR_TOKEN,
  type DigitalOceanSimulator,
} from '../../src/simulator/digitalocean';

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

function batcher(f: Fake, settings = {}, stop?: AbortSignal) {
  return new PowerCohorts({
    clientOf: () => f.client,
    store: f.store,
    logger,
    settings: { lingerMs: 30, bulkLingerMs: 30, ...settings },
    stop,
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

describe('per-lane linger (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** The answers of `ids` in `lane`, and whether they came yet. */
  const submitAll = (b: PowerCohorts, ids: number[], lane: BudgetLane) => {
    const answers: CohortAnswer[] = [];
    const all = Promise.all(
      ids.map((id) =>
        b.submit(member(id, { lane, key: `${lane}-${id}` })).then((a) => {
          answers.push(a);
          return a;
        }),
      ),
    );
    return { all, answered: () => answers.length };
  };

  it('by default a remediation batch lingers 500 ms, a bulk one 5 s', async () => {
    expect(DEFAULT_COHORT_SETTINGS).toMatchObject({ lingerMs: 500, bulkLingerMs: 5_000 });
    const f = fake();
    const b = new PowerCohorts({ clientOf: () => f.client, store: f.store, logger });
    const remediation = submitAll(b, [1, 2, 3], 'remediation');
    const bulk = submitAll(b, [4, 5, 6], 'bulk');
    await jest.advanceTimersByTimeAsync(499);
    expect(f.calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect((await remediation.all).map((a) => a.kind)).toEqual(['started', 'started', 'started']);
    expect(f.calls.filter((c) => c.startsWith('bulk'))).toEqual([
      'bulk genesis-cohort-1 power_on remediation',
    ]);
    // bulk members arriving later join the lingering bulk batch
    const late = submitAll(b, [7], 'bulk');
    await jest.advanceTimersByTimeAsync(4_499);
    expect(bulk.answered() + late.answered()).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    await Promise.all([bulk.all, late.all]);
    expect(f.calls.filter((c) => c.startsWith('tag '))).toEqual([
      'tag genesis-cohort-1 1,2,3',
      'tag genesis-cohort-2 4,5,6,7',
    ]);
  });

  it('a bulk batch is still sent at once at max size', async () => {
    const f = fake();
    const b = batcher(f, { lingerMs: 500, bulkLingerMs: 5_000, maxSize: 3, minSize: 2 });
    const full = submitAll(b, [1, 2, 3], 'bulk');
    await jest.advanceTimersByTimeAsync(0);
    expect((await full.all).every((a) => a.kind === 'started')).toBe(true);
    expect(f.store.cohorts).toHaveLength(1);
  });

  it('at shutdown what lingers is sent at once, and later batches do not linger', async () => {
    const f = fake();
    const stop = new AbortController();
    const b = batcher(f, { lingerMs: 500, bulkLingerMs: 5_000 }, stop.signal);
    const bulk = submitAll(b, [1, 2, 3], 'bulk');
    const looks = Promise.all([11, 12, 13].map((id) => b.lookup('default', id, 'bulk')));
    await jest.advanceTimersByTimeAsync(100);
    expect(f.calls).toEqual([]);
    stop.abort();
    // no timer advanced: the abort itself sent the lingering batch and read the lookups
    expect((await bulk.all).map((a) => a.kind)).toEqual(['started', 'started', 'started']);
    expect((await looks).map((a) => a?.id)).toEqual([11, 12, 13]);
    const after = submitAll(b, [4, 5, 6], 'bulk');
    await jest.advanceTimersByTimeAsync(0);
    expect((await after.all).map((a) => a.kind)).toEqual(['started', 'started', 'started']);
    expect(b.lingerOf('bulk')).toBe(0);
    expect(f.store.cohorts.map((c) => c.tag)).toEqual(['genesis-cohort-1', 'genesis-cohort-2']);
  });

  it('a batcher built after the shutdown began never lingers', async () => {
    const f = fake();
    const stop = new AbortController();
    stop.abort();
    const b = batcher(f, { lingerMs: 500, bulkLingerMs: 5_000 }, stop.signal);
    const bulk = submitAll(b, [1, 2, 3], 'bulk');
    await jest.advanceTimersByTimeAsync(0);
    expect(bulk.answered()).toBe(3);
  });

  it("a lookup batch is read when its most urgent member's linger ends", async () => {
    const f = fake();
    const b = batcher(f, { lingerMs: 500, bulkLingerMs: 5_000 });
    const bulkLooks = Promise.all([11, 12].map((id) => b.lookup('default', id, 'bulk')));
    await jest.advanceTimersByTimeAsync(1_000);
    expect(f.calls).toEqual([]);
    // a remediation lookup joins: the batch is read 500 ms later, not 4 s later
    const urgent = b.lookup('default', 13, 'remediation');
    await jest.advanceTimersByTimeAsync(499);
    expect(f.calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await Promise.all([bulkLooks, urgent]);
    expect(f.calls).toEqual(['findActions 11,12,13']);
  });
});

describe('lookupPages: how many pages of GET /v2/actions a lookup reads', () => {
  // page 1 of a dense account: ids 10_800..10_999
  const dense = { newest: 10_999, oldest: 10_800, count: 200, perPage: 200 };

  it('one page when the first is the whole list or nothing awaited lies below it', () => {
    expect(lookupPages({ missing: [5, 6, 7], first: { ...dense, count: 150 }, perIdCalls: 3 })).toBe(1);
    // newer than the page (started after it was read), or within it yet absent (not the account's)
    expect(lookupPages({ missing: [11_500, 10_900, 10_850], first: dense, perIdCalls: 3 })).toBe(1);
  });

  it('reads down to the awaited ids from how far below the newest action they are', () => {
    // 500 to 505 actions below page 1's oldest: page 4 (the 10 % stretch reaches it)
    const missing = [10_300, 10_299, 10_298, 10_297, 10_296, 10_295];
    expect(lookupPages({ missing, first: dense, perIdCalls: 6 })).toBe(4);
    // just below the page: page 2
    expect(lookupPages({ missing: [10_799, 10_750, 10_700], first: dense, perIdCalls: 3 })).toBe(2);
  });

  it('never reads more pages than the per-id calls they replace, nor more than 10', () => {
    // three ids on page 4: four pages cost what 1 + 3 single GETs cost: one page, then singles
    expect(lookupPages({ missing: [10_300, 10_299, 10_298], first: dense, perIdCalls: 3 })).toBe(1);
    // 20 ids on page 12: beyond the 10 pages
    const far = Array.from({ length: 20 }, (_, i) => 8_700 - i);
    expect(lookupPages({ missing: far, first: dense, perIdCalls: 20 })).toBe(1);
    expect(lookupPages({ missing: far, first: dense, perIdCalls: 20, maxPages: 15 })).toBe(13);
  });

  it('reads down to the near ids and leaves a far one to its own GET', () => {
    const near = [10_300, 10_299, 10_298, 10_297, 10_296];
    expect(lookupPages({ missing: [...near, 2_000], first: dense, perIdCalls: 6 })).toBe(4);
  });

  it("scales the id distance by the account's share of ids (DigitalOcean's ids are global)", () => {
    // 200 actions over 400 ids: every other id is the account's; 360 ids below is ~180 actions
    const sparse = { newest: 10_999, oldest: 10_601, count: 200, perPage: 200 };
    const missing = [10_241, 10_240, 10_239];
    expect(lookupPages({ missing, first: sparse, perIdCalls: 3 })).toBe(2);
    // in a dense account the same ids would be ~560 actions down: more pages than three GETs
    expect(lookupPages({ missing, first: { ...sparse, oldest: 10_800 }, perIdCalls: 3 })).toBe(1);
  });
});

describe('lookups through the client, counted by the simulator', () => {
  let sim: DigitalOceanSimulator;
  const lanes: (BudgetLane | undefined)[] = [];
  let client: DigitalOceanClient;

  beforeAll(async () => {
    sim = await createDigitalOceanSimulator({ actionDelayMs: 60_000, perMinute: 10_000, perHour: 100_000 });
    client = new DigitalOceanClient({
      baseUrl: sim.url,
      token: DEFAULT_SIMULATOR_TOKEN,
      budget: {
        acquire: async (_signal, lane) => {
          lanes.push(lane);
        },
        observe: async () => undefined,
        penalize: async () => undefined,
      },
      logger: { info: () => undefined, warn: () => undefined, debug: () => undefined } as never,
      userAgent: 'genesis-control-plane/test',
    });
  });
  afterAll(() => sim.close());

  /** `n` droplets tagged `tag`, given one power_cycle each by one bulk request: `n` new actions. */
  async function actions(tag: string, firstId: number, n: number): Promise<void> {
    for (let i = 0; i < n; i++) sim.addDroplet({ id: firstId + i, status: 'active', tags: [tag] });
    await client.bulkDropletAction(tag, 'power_cycle');
  }

  it('awaited actions hundreds of actions old cost pages, not a GET each; only one beyond 10 pages is read alone', async () => {
    sim.addDroplet({ id: 1, status: 'active' });
    const ancient = (await client.dropletAction(1, 'shutdown')).id!;
    await actions('noise-a', 10_000, 2_100);
    const old: number[] = [];
    for (let id = 2; id <= 7; id++) {
      sim.addDroplet({ id, status: 'active' });
      old.push((await client.dropletAction(id, 'shutdown')).id!);
    }
    // 700 newer actions: the six sit at 701 to 706 from the newest, on page 4
    await actions('noise-b', 20_000, 700);

    const b = new PowerCohorts({
      clientOf: () => client,
      store: fake().store,
      logger,
      settings: { lingerMs: 20, bulkLingerMs: 40 },
    });
    let mark = sim.requestLog().length;
    lanes.length = 0;
    const looks = await Promise.all(
      old.map((id, i) => b.lookup('default', id, i === 0 ? 'remediation' : 'bulk')),
    );
    expect(looks.map((a) => a?.id)).toEqual(old);
    const read = () =>
      sim
        .requestLog()
        .slice(mark)
        .map((e) => `${e.method} ${e.path}`);
    // before: 2 pages (min(5, ceil(6/100)+1)), then six GET /v2/actions/{id}
    expect(read()).toEqual(Array(4).fill('GET /v2/actions'));
    // a page serves every member: the most urgent member's lane
    expect(lanes).toEqual(Array(4).fill('remediation'));

    mark = sim.requestLog().length;
    lanes.length = 0;
    const withAncient = await Promise.all([
      ...old.map((id) => b.lookup('default', id, 'bulk')),
      b.lookup('default', ancient, 'remediation'),
    ]);
    expect(withAncient.map((a) => a?.id)).toEqual([...old, ancient]);
    // ~2,800 actions down: beyond 10 pages, read alone in its own member's lane
    expect(read()).toEqual([...Array(4).fill('GET /v2/actions'), `GET /v2/actions/${ancient}`]);
    expect(lanes).toEqual([...Array(4).fill('remediation'), 'remediation']);
  });

  it('a lookup alone is one GET /v2/actions/{id} in its own lane', async () => {
    const b = new PowerCohorts({
      clientOf: () => client,
      store: fake().store,
      logger,
      settings: { lingerMs: 20, bulkLingerMs: 20 },
    });
    sim.addDroplet({ id: 30_000, status: 'active' });
    const id = (await client.dropletAction(30_000, 'shutdown')).id!;
    lanes.length = 0;
    const mark = sim.requestLog().length;
    expect((await b.lookup('default', id, 'bulk'))?.id).toBe(id);
    expect(
      sim
        .requestLog()
        .slice(mark)
        .map((e) => e.path),
    ).toEqual([`/v2/actions/${id}`]);
    expect(lanes).toEqual(['bulk']);
  });
});
