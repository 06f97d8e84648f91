/** Fleet rollout rules: the wave plan, the failure budget and start-time validation. */
import {
  allowedFailures,
  invalidFleetRollout,
  planWaves,
  waveOf,
  waveSizeOf,
  type FleetRolloutInput,
} from '../../src/domain/rollout';

const valid: FleetRolloutInput = {
  rolloutId: 'r-2026-11-27.1',
  kind: 'n8n',
  targetVersion: '1.71.0',
  n8n: { verifyWindowMs: 120_000 },
  selector: { all: true },
};

describe('wave plan', () => {
  it('puts the canary first, then full waves, then the remainder', () => {
    expect(planWaves(1_000, 10, 100)).toEqual([10, ...Array(9).fill(100), 90]);
    expect(planWaves(5, 10, 100)).toEqual([5]);
    expect(planWaves(0, 10, 100)).toEqual([]);
    expect(planWaves(15_000, 10, 1_000)).toHaveLength(16);
  });

  it('agrees with waveOf and waveSizeOf for every tenant', () => {
    for (const [total, canary, size] of [
      [1_000, 10, 100],
      [37, 5, 8],
      [3, 10, 2],
    ] as const) {
      const plan = planWaves(total, canary, size);
      const counted: number[] = [];
      for (let i = 0; i < total; i++) {
        const w = waveOf(i, canary, size);
        counted[w] = (counted[w] ?? 0) + 1;
      }
      expect(counted).toEqual(plan);
      expect(plan.map((_, w) => waveSizeOf(w, total, canary, size))).toEqual(plan);
      expect(waveSizeOf(plan.length, total, canary, size)).toBe(0);
    }
  });

  it('tolerates floor(size x ratio) failures; one more halts', () => {
    expect(allowedFailures(10, 0.05)).toBe(0);
    expect(allowedFailures(100, 0.05)).toBe(5);
    expect(allowedFailures(100, 0.1)).toBe(10);
    expect(allowedFailures(30, 0.1)).toBe(3); // 30 x 0.1 is 3.0000000000000004 in floating point
    expect(allowedFailures(7, 0)).toBe(0);
  });
});

describe('invalidFleetRollout', () => {
  it('accepts a complete n8n rollout and a workflow rollout', () => {
    expect(invalidFleetRollout(valid)).toBeUndefined();
    expect(
      invalidFleetRollout({
        ...valid,
        kind: 'workflow',
        n8n: undefined,
        workflow: {
          workflowName: 'lead-sync',
          workflowJson: { name: 'Lead sync', nodes: [], connections: {}, settings: {} },
          credentialMap: { a: 'b' },
        },
        selector: { percentage: 12.5 },
      }),
    ).toBeUndefined();
  });

  it.each<[string, Partial<FleetRolloutInput> | Record<string, unknown>, RegExp]>([
    ['id with a space', { rolloutId: 'a b' }, /rolloutId/],
    ['unknown kind', { kind: 'firmware' }, /kind/],
    ['no version', { targetVersion: '' }, /targetVersion/],
    [
      'an agent (sidecar) rollout: v1 agents cannot update themselves',
      { kind: 'sidecar' },
      /cannot update itself/,
    ],
    ['negative verify window', { n8n: { verifyWindowMs: -1 } }, /n8n\.verifyWindowMs/],
    ['workflow kind without workflow', { kind: 'workflow', n8n: undefined }, /workflow must be/],
    ['two selectors', { selector: { all: true, plan: 'pro' } }, /selector must be one of/],
    ['empty workspace list', { selector: { workspaceIds: [] } }, /selector\.workspaceIds/],
    ['percentage 0', { selector: { percentage: 0 } }, /selector\.percentage/],
    ['percentage 101', { selector: { percentage: 101 } }, /selector\.percentage/],
    ['wave too big', { waveSize: 1_001 }, /waveSize/],
    ['canary 0', { canarySize: 0 }, /canarySize/],
    ['concurrency 0', { maxConcurrency: 0 }, /maxConcurrency/],
    ['budget 1', { failureBudgetRatio: 1 }, /failureBudgetRatio/],
    ['negative pause', { pauseBetweenWavesMs: -5 }, /pauseBetweenWavesMs/],
    ['autoPromote string', { autoPromote: 'yes' }, /autoPromote/],
    ['rollback scope', { rollbackScope: 'fleet' }, /rollbackScope/],
  ])('refuses %s, naming the field', (_what, over, field) => {
    expect(invalidFleetRollout({ ...valid, ...over } as FleetRolloutInput)).toMatch(field);
  });
});
