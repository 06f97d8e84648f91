/**
 * The pure drift computation of desired state against the control plane's record, and the
 * validation of a desired-state change.
 */
import {
  artifactText,
  computeDrift,
  describeDrift,
  driftKindsOf,
  invalidSetDesiredState,
  verifiableWorkflows,
  type DesiredState,
  type RecordedState,
} from '../../src/domain/reconcile';

const desired = (over: Partial<DesiredState> = {}): DesiredState => ({
  workspaceId: 'ws',
  n8nTag: '2.0.0',
  workflows: [{ name: 'sender', version: 'v2', artifactDigest: 'd2' }],
  credentials: [{ type: 'smtp', name: 'SMTP' }],
  ...over,
});
const recorded = (over: Partial<RecordedState> = {}): RecordedState => ({
  n8nTag: '2.0.0',
  workflows: [{ name: 'sender', version: 'v2', n8nWorkflowId: 'wf-1' }],
  credentials: [{ type: 'smtp', name: 'SMTP' }],
  ...over,
});

describe('drift', () => {
  it('is empty when the record matches', () => {
    expect(computeDrift(desired(), recorded())).toEqual([]);
  });

  it('names an n8n tag that differs (and one never recorded)', () => {
    expect(computeDrift(desired(), recorded({ n8nTag: '1.70.0' }))).toEqual([
      { kind: 'n8n', from: '1.70.0', to: '2.0.0' },
    ]);
    expect(computeDrift(desired(), recorded({ n8nTag: null }))).toEqual([
      { kind: 'n8n', from: null, to: '2.0.0' },
    ]);
  });

  it('leaves an unmanaged n8n tag alone', () => {
    expect(computeDrift(desired({ n8nTag: null }), recorded({ n8nTag: '1.0.0' }))).toEqual([]);
  });

  it('names workflows missing, at another version, or read back modified', () => {
    expect(computeDrift(desired(), recorded({ workflows: [] }))).toEqual([
      { kind: 'workflow', name: 'sender', from: null, to: 'v2', why: 'missing' },
    ]);
    expect(
      computeDrift(
        desired(),
        recorded({ workflows: [{ name: 'sender', version: 'v1', n8nWorkflowId: 'wf-1' }] }),
      ),
    ).toEqual([{ kind: 'workflow', name: 'sender', from: 'v1', to: 'v2', why: 'version' }]);
    expect(computeDrift(desired(), recorded(), new Set(['sender']))).toEqual([
      { kind: 'workflow', name: 'sender', from: 'v2', to: 'v2', why: 'modified' },
    ]);
    // a recorded workflow nobody desires is not drift (it is not managed)
    expect(computeDrift(desired({ workflows: [] }), recorded())).toEqual([]);
  });

  it('names a required credential that is not recorded on the droplet', () => {
    expect(computeDrift(desired(), recorded({ credentials: [] }))).toEqual([
      { kind: 'credential', type: 'smtp', name: 'SMTP' },
    ]);
    expect(
      computeDrift(desired(), recorded({ credentials: [{ type: 'smtp', name: 'other' }] })),
    ).toHaveLength(1);
  });

  it('orders credentials first, then n8n, then workflows (the order they are fixed in)', () => {
    const d = computeDrift(desired(), { n8nTag: '1', workflows: [], credentials: [] });
    expect(d.map((x) => x.kind)).toEqual(['credential', 'n8n', 'workflow']);
    expect(driftKindsOf(d)).toEqual(['n8n', 'workflow', 'credential']);
    expect(d.map(describeDrift)).toEqual([
      'credential smtp/SMTP missing',
      'n8n 1 -> 2.0.0',
      'workflow sender (none) -> v2',
    ]);
  });

  it('reads back only workflows recorded at the desired version with a known n8n id', () => {
    expect(verifiableWorkflows(desired(), recorded()).map((w) => w.name)).toEqual(['sender']);
    expect(
      verifiableWorkflows(
        desired(),
        recorded({ workflows: [{ name: 'sender', version: 'v1', n8nWorkflowId: 'x' }] }),
      ),
    ).toEqual([]);
    expect(
      verifiableWorkflows(
        desired(),
        recorded({ workflows: [{ name: 'sender', version: 'v2', n8nWorkflowId: null }] }),
      ),
    ).toEqual([]);
  });
});

describe('desired state changes', () => {
  const wf = { name: 'x', nodes: [], connections: {}, settings: {} };
  it('accepts a full change and refuses bad fields by name', () => {
    expect(
      invalidSetDesiredState({
        workspaceId: 'ws',
        n8nTag: '2.0.0',
        workflows: [{ name: 'sender', version: 'v1', workflowJson: wf }],
        credentials: [{ type: 'smtp', name: 'SMTP', encryptedData: 'blob' }],
      }),
    ).toBeUndefined();
    expect(invalidSetDesiredState({ workspaceId: 'ws', n8nTag: null })).toBeUndefined();
    expect(invalidSetDesiredState({ workspaceId: '' })).toMatch(/workspaceId/);
    expect(invalidSetDesiredState({ workspaceId: 'ws', n8nTag: 'bad tag' })).toMatch(/n8nTag/);
    expect(
      invalidSetDesiredState({
        workspaceId: 'ws',
        workflows: [{ name: 'a b', version: 'v', workflowJson: wf }],
      }),
    ).toMatch(/workflows\[0\]\.name/);
    expect(
      invalidSetDesiredState({
        workspaceId: 'ws',
        workflows: [
          { name: 'a', version: 'v', workflowJson: wf },
          { name: 'a', version: 'w', workflowJson: wf },
        ],
      }),
    ).toMatch(/repeats/);
    expect(
      invalidSetDesiredState({
        workspaceId: 'ws',
        workflows: [{ name: 'a', version: 'v', workflowJson: [] as never }],
      }),
    ).toMatch(/workflowJson/);
    expect(
      invalidSetDesiredState({
        workspaceId: 'ws',
        credentials: [{ type: 'smtp', name: 'S', encryptedData: '' }],
      }),
    ).toMatch(/encryptedData/);
  });

  it('gives the same artifact text for the same JSON whatever the key order', () => {
    expect(artifactText({ b: 1, a: { d: 2, c: 3 } })).toBe(artifactText({ a: { c: 3, d: 2 }, b: 1 }));
    expect(artifactText({ a: 1 }, { T: 'c1' })).not.toBe(artifactText({ a: 1 }));
  });
});
