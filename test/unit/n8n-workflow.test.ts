/** What the control plane sends an agent for an n8n workflow, and how a read-back is judged. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forwardedWorkflow, substituteCredentials, workflowDifferences } from '../../src/domain/n8n-workflow';

const recording = JSON.parse(
  readFileSync(join(__dirname, '../../specs/sidecar-v1/recorded-exchanges.json'), 'utf8'),
) as {
  commands: {
    n8n_up: {
      name: string;
      exchanges: {
        requestBody: { payload: Record<string, unknown> };
        responseBody: { result: { workflow: Record<string, unknown> } };
      }[];
    }[];
  };
};
const exchange = (name: string) => recording.commands.n8n_up.find((c) => c.name === name)!.exchanges[0]!;

describe('n8n workflows through protocol v1', () => {
  it('substitutes template credential ids the way the agent does for DEPLOY_WORKFLOW', () => {
    const deploy = exchange('DEPLOY_WORKFLOW').requestBody.payload as {
      workflow_json: Record<string, unknown>;
      credential_map: Record<string, string>;
    };
    const readBack = exchange('GET_WORKFLOW').responseBody.result.workflow;
    const sent = forwardedWorkflow(substituteCredentials(deploy.workflow_json, deploy.credential_map));
    expect(sent).not.toHaveProperty('meta'); // the agent forwards name, nodes, connections, settings
    // what the real agent stored reads back equal to what we say we sent
    expect(workflowDifferences(sent, readBack)).toEqual([]);
    // without substitution the credential id differs: the comparison sees it
    expect(workflowDifferences(forwardedWorkflow(deploy.workflow_json), readBack)).toEqual(['nodes']);
  });

  it('leaves nodes without a mapped credential as they are', () => {
    const wf = { nodes: [{ name: 'a' }, { name: 'b', credentials: { x: { id: 'keep' } } }] };
    expect(substituteCredentials(wf, { other: 'y' })).toEqual(wf);
    expect(substituteCredentials(wf, undefined)).toBe(wf);
  });

  it('names each field that differs; settings n8n adds by itself do not count', () => {
    const sent = { name: 'n', nodes: [{ id: 1 }], connections: {}, settings: { executionOrder: 'v1' } };
    expect(
      workflowDifferences(sent, { ...sent, settings: { executionOrder: 'v1', timezone: 'UTC' } }),
    ).toEqual([]);
    expect(workflowDifferences(sent, { ...sent, name: 'edited by hand' })).toEqual(['name']);
    expect(workflowDifferences(sent, { ...sent, nodes: [{ id: 2 }] })).toEqual(['nodes']);
    expect(workflowDifferences(sent, { ...sent, settings: { executionOrder: 'v0' } })).toEqual([
      'settings.executionOrder',
    ]);
    // key order is not a difference
    expect(workflowDifferences({ nodes: [{ a: 1, b: 2 }] }, { nodes: [{ b: 2, a: 1 }] })).toEqual([]);
  });
});
