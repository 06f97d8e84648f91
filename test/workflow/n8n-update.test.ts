/**
 * The rules of the n8n container update (workflows/changes/n8n-container-update.ts): the health
 * gate after the swap, the promotion gate, and the swap back on any failure after a good swap.
 * Stub droplets: each serves one tag; some tags never pass HEALTH_CHECK; some droplets send no
 * keep-alive.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { N8nUpdateInput } from '../../src/domain/changes';
import { abortSignal, changeIds, n8nUpdateStatusQuery, promoteUpdate } from '../../contracts';
import type { ActivityStubs } from '../helpers/stub-activities';
import { eventually } from '../helpers/temporal';
import { dropletRecord, failureOf, nowIso, stubWorkerPerFile, WORKSPACE } from './support';

jest.setTimeout(30_000);

const RECORDED = '1.0.0';
const BROKEN = '1.9.9';
const silent = new Set<number>(); // droplets whose agent sends no keep-alive
const refusing = new Set<number>(); // droplets whose agent refuses SWAP_CONTAINER
const holds = new Map<number, Promise<void>>(); // a swap that waits until the test releases it
const serving = new Map<number, string>();

const stubs: ActivityStubs = {
  getDropletRecord: (id) => dropletRecord(id, 'ACTIVE_HEALTHY'),
  recordedN8nTag: () => RECORDED,
  transitionDroplet: () => ({ from: 'ACTIVE_HEALTHY', changed: true }),
  settleDroplet: () => ({ from: 'UPDATING', changed: true }),
  recordN8nTag: () => undefined,
  sidecarSwapN8nContainer: async ({ dropletId, tag }) => {
    await holds.get(dropletId);
    if (refusing.has(dropletId))
      throw ApplicationFailure.nonRetryable('new container never became healthy', 'SidecarCommandFailed');
    serving.set(dropletId, tag);
  },
  sidecarHealthCheck: (id) =>
    serving.get(id) === BROKEN ? { ok: false, error: 'n8n_status down' } : { ok: true, n8nStatus: 'healthy' },
  dropletHeartbeat: (id) => ({
    lastHeartbeatAt: silent.has(id) ? new Date(Date.now() - 3_600_000).toISOString() : nowIso(),
    n8nStatus: 'healthy',
  }),
};
const ctx = stubWorkerPerFile('n8n-update-rules', stubs);

let nextId = 83_000;
function update(dropletId: number, toTag: string, extra: Partial<N8nUpdateInput> = {}) {
  return ctx.start('n8nContainerUpdate', changeIds.n8nUpdate(dropletId, toTag), [
    {
      workspaceId: WORKSPACE,
      dropletId,
      toTag,
      autoPromote: true,
      verifyWindowMs: 800,
      verifyPollMs: 100,
      ...extra,
    },
  ]);
}
const swaps = (id: number) =>
  ctx.calls(id, 'sidecarSwapN8nContainer').map((c) => (c.arg as { tag: string }).tag);
const causes = (id: number) =>
  ctx.calls(id, 'transitionDroplet').map((c) => (c.arg as { cause: string }).cause);

it.concurrent(
  'a new tag that passes the gate is recorded with its previous tag: ACTIVE_HEALTHY, auto-promoted',
  async () => {
    const id = nextId++;
    const result = await (await update(id, '1.1.0')).result();
    expect(result).toEqual({ dropletId: id, tag: '1.1.0', previousTag: RECORDED, promotedBy: 'auto' });
    expect(swaps(id)).toEqual(['1.1.0']);
    expect(ctx.transitions(id)).toEqual(['UPDATING', 'ACTIVE_HEALTHY']);
    expect(ctx.calls(id, 'recordN8nTag').map((c) => c.arg)).toEqual([
      expect.objectContaining({ tag: '1.1.0', previousTag: RECORDED }),
    ]);
  },
);

it.concurrent(
  'a new tag that never passes HEALTH_CHECK is swapped back to the recorded tag: UpdateRolledBack, nothing recorded',
  async () => {
    const id = nextId++;
    const failure = await failureOf((await update(id, BROKEN)).result());
    expect(failure.type).toBe('UpdateRolledBack');
    expect(failure.message).toContain(`did not pass HEALTH_CHECK`);
    expect(swaps(id)).toEqual([BROKEN, RECORDED]);
    expect(serving.get(id)).toBe(RECORDED);
    expect(causes(id)).toEqual([
      `n8n_update:${RECORDED}->${BROKEN}:start`,
      `n8n_update:${RECORDED}->${BROKEN}:rolled_back`,
    ]);
    expect(ctx.calls(id, 'recordN8nTag')).toEqual([]);
  },
);

it.concurrent(
  'healthy is not enough without a keep-alive after the swap; a swap back that cannot verify either leaves FAILED (RollbackFailed)',
  async () => {
    const id = nextId++;
    silent.add(id);
    const failure = await failureOf((await update(id, '1.1.0')).result());
    expect(failure.type).toBe('RollbackFailed');
    expect(failure.message).toContain('no keep-alive from the agent');
    expect(swaps(id)).toEqual(['1.1.0', RECORDED]);
    expect(ctx.transitions(id)).toEqual(['UPDATING', 'FAILED']);
  },
);

it.concurrent(
  'a swap the agent refused changed nothing: UpdateFailed, ACTIVE_HEALTHY again, no swap back',
  async () => {
    const id = nextId++;
    refusing.add(id);
    const failure = await failureOf((await update(id, '1.1.0')).result());
    expect(failure.type).toBe('UpdateFailed');
    expect(swaps(id)).toEqual(['1.1.0']);
    expect(causes(id)).toEqual([
      `n8n_update:${RECORDED}->1.1.0:start`,
      `n8n_update:${RECORDED}->1.1.0:not_swapped`,
    ]);
  },
);

it.concurrent(
  'manual promotion: promote is refused before the gate, accepted at it, and the update ends promoted by hand',
  async () => {
    const id = nextId++;
    let release!: () => void;
    holds.set(id, new Promise<void>((r) => (release = r)));
    try {
      const handle = await update(id, '1.1.0', { autoPromote: false });
      await eventually(
        async () => swaps(id).length,
        (n) => n > 0,
        { what: 'the swap under way' },
      );
      await expect(handle.executeUpdate(promoteUpdate, { args: [{ by: 'early' }] })).rejects.toMatchObject({
        cause: {
          message: expect.stringMatching(/only accepted at the promotion gate \(phase is swapping\)/),
        },
      });
      release();
      await eventually(
        () => handle.query(n8nUpdateStatusQuery),
        (s) => s.phase === 'awaiting_promotion',
        { what: 'the promotion gate' },
      );
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'alice' }] });
      expect(await handle.result()).toMatchObject({ tag: '1.1.0', promotedBy: 'manual' });
      expect(swaps(id)).toEqual(['1.1.0']);
    } finally {
      release(); // a held swap would hold the worker's shutdown
    }
  },
);

it.concurrent('an abort at the promotion gate swaps back: UpdateRolledBack naming the abort', async () => {
  const id = nextId++;
  const handle = await update(id, '1.1.0', { autoPromote: false });
  await eventually(
    () => handle.query(n8nUpdateStatusQuery),
    (s) => s.phase === 'awaiting_promotion',
    { what: 'the promotion gate' },
  );
  await handle.signal(abortSignal, { reason: 'bad canary' });
  const failure = await failureOf(handle.result());
  expect(failure.type).toBe('UpdateRolledBack');
  expect(failure.message).toContain('aborted: bad canary');
  expect(swaps(id)).toEqual(['1.1.0', RECORDED]);
});

it.concurrent('not promoted within the deadline: swapped back', async () => {
  const id = nextId++;
  const failure = await failureOf(
    (await update(id, '1.1.0', { autoPromote: false, promotionDeadlineMs: 500 })).result(),
  );
  expect(failure.type).toBe('UpdateRolledBack');
  expect(failure.message).toContain('not promoted within 500 ms');
  expect(swaps(id)).toEqual(['1.1.0', RECORDED]);
});
