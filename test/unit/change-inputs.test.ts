/** Start-time validation of the change workflows names the bad field. */
import {
  invalidCredentialInjection,
  invalidSidecarUpdate,
  invalidWorkflowUpdate,
} from '../../src/domain/changes';

const update = {
  workspaceId: 'ws',
  dropletId: 1,
  fromVersion: '1.0.0',
  toVersion: '1.1.0',
  image: 'img',
  autoPromote: true,
};

describe('change inputs', () => {
  it('sidecar update', () => {
    expect(invalidSidecarUpdate(update)).toBeUndefined();
    expect(invalidSidecarUpdate({ ...update, dropletId: 0 })).toMatch(/^dropletId/);
    expect(invalidSidecarUpdate({ ...update, toVersion: '1.0.0' })).toMatch(/^toVersion must differ/);
    expect(invalidSidecarUpdate({ ...update, autoPromote: 'yes' as never })).toMatch(/^autoPromote/);
    expect(invalidSidecarUpdate({ ...update, verifyWindowMs: -1 })).toMatch(/^verifyWindowMs/);
    expect(invalidSidecarUpdate({ ...update, promotionDeadlineMs: Number.NaN })).toMatch(
      /^promotionDeadlineMs/,
    );
    expect(invalidSidecarUpdate({ ...update, wave: 1.5 })).toMatch(/^wave/);
  });

  it('credential injection', () => {
    const c = { type: 't', name: 'n', encryptedData: 'b' };
    expect(invalidCredentialInjection({ workspaceId: 'ws', dropletId: 1, credentials: [c] })).toBeUndefined();
    expect(invalidCredentialInjection({ workspaceId: 'ws', dropletId: 1, credentials: [] })).toMatch(
      /^credentials must be a non-empty array/,
    );
    expect(
      invalidCredentialInjection({
        workspaceId: 'ws',
        dropletId: 1,
        credentials: [{ ...c, encryptedData: '' }],
      }),
    ).toMatch(/^credentials\[0\]\.encryptedData/);
    expect(invalidCredentialInjection({ workspaceId: 'ws', dropletId: 1, credentials: [c, c] })).toMatch(
      /^credentials\[1\] repeats/,
    );
  });

  it('workflow update', () => {
    const w = { workspaceId: 'ws', dropletId: 1, workflowName: 'a', workflowJson: {}, version: '1' };
    expect(invalidWorkflowUpdate(w)).toBeUndefined();
    expect(invalidWorkflowUpdate({ ...w, workflowJson: [] as never })).toMatch(/^workflowJson/);
    expect(invalidWorkflowUpdate({ ...w, version: '' })).toMatch(/^version/);
    expect(invalidWorkflowUpdate({ ...w, credentialMap: { x: '' } })).toMatch(/^credentialMap\.x/);
  });
});
