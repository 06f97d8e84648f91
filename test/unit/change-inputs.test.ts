/** Start-time validation of the change workflows names the bad field. */
import {
  agentSelfUpdateRefusal,
  invalidAgentDropletId,
  invalidCredentialInjection,
  invalidN8nUpdate,
  invalidWorkflowUpdate,
} from '../../src/domain/changes';

const update = {
  workspaceId: 'ws',
  dropletId: 1,
  fromTag: '1.70.0',
  toTag: '1.71.0',
  autoPromote: true,
};

describe('change inputs', () => {
  it('n8n container update', () => {
    expect(invalidN8nUpdate(update)).toBeUndefined();
    expect(invalidN8nUpdate({ ...update, fromTag: undefined })).toBeUndefined(); // from the record
    expect(invalidN8nUpdate({ ...update, dropletId: 0 })).toMatch(/^dropletId/);
    expect(invalidN8nUpdate({ ...update, toTag: '1.70.0' })).toMatch(/^toTag must differ/);
    expect(invalidN8nUpdate({ ...update, toTag: 'latest; rm -rf /' })).toMatch(
      /^toTag must be a docker image tag/,
    );
    expect(invalidN8nUpdate({ ...update, toTag: '-x' })).toMatch(/^toTag/);
    expect(invalidN8nUpdate({ ...update, autoPromote: 'yes' as never })).toMatch(/^autoPromote/);
    expect(invalidN8nUpdate({ ...update, verifyWindowMs: -1 })).toMatch(/^verifyWindowMs/);
    expect(invalidN8nUpdate({ ...update, promotionDeadlineMs: Number.NaN })).toMatch(/^promotionDeadlineMs/);
    expect(invalidN8nUpdate({ ...update, wave: 1.5 })).toMatch(/^wave/);
  });

  it('an agent update is refused unless the agent advertises self_update', () => {
    expect(agentSelfUpdateRefusal(['deploy', 'gmail'])).toMatch(/cannot update itself.*\[deploy, gmail\]/);
    expect(agentSelfUpdateRefusal(null)).toMatch(/no capabilities/);
    expect(agentSelfUpdateRefusal(['deploy', 'self_update'])).toBeUndefined();
  });

  it("the agent's droplet_id claim", () => {
    const ok = { workspaceId: 'ws', dropletId: 1, agentDropletId: '203.0.113.7' };
    expect(invalidAgentDropletId(ok)).toBeUndefined();
    expect(invalidAgentDropletId({ ...ok, agentDropletId: '424242' })).toBeUndefined();
    expect(invalidAgentDropletId({ ...ok, agentDropletId: '' })).toMatch(/^agentDropletId/);
    expect(invalidAgentDropletId({ ...ok, agentDropletId: 'a b' })).toMatch(/^agentDropletId/);
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
    const json = { name: 'A', nodes: [], connections: {}, settings: {} };
    const w = { workspaceId: 'ws', dropletId: 1, workflowName: 'a', workflowJson: json, version: '1' };
    expect(invalidWorkflowUpdate(w)).toBeUndefined();
    expect(invalidWorkflowUpdate({ ...w, workflowJson: [] as never })).toMatch(/^workflowJson/);
    // what n8n's API requires and the agent forwards, named before anything is sent
    const { settings: _s, ...noSettings } = json;
    expect(invalidWorkflowUpdate({ ...w, workflowJson: noSettings })).toMatch(
      /^workflowJson\.settings must be an object/,
    );
    expect(invalidWorkflowUpdate({ ...w, workflowJson: { ...json, nodes: {} } })).toMatch(
      /^workflowJson\.nodes/,
    );
    expect(invalidWorkflowUpdate({ ...w, workflowJson: { ...json, name: '' } })).toMatch(
      /^workflowJson\.name/,
    );
    expect(invalidWorkflowUpdate({ ...w, version: '' })).toMatch(/^version/);
    expect(invalidWorkflowUpdate({ ...w, credentialMap: { x: '' } })).toMatch(/^credentialMap\.x/);
  });
});
