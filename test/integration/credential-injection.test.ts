/**
 * Credential injection and rotation through the simulated sidecars, with real blobs (AES-256-GCM,
 * key = SHA-256(master key + workspace id)) encrypted with the simulator's master key, and one blob
 * sealed with the wrong key:
 *   - the good ones are injected (n8n credential ids recorded, audited), the bad one fails: the
 *     workflow fails with PartialCredentialFailure listing exactly which succeeded and which failed;
 *   - a re-run with the same input re-sends only the failed one;
 *   - a credentialId rotates instead of injecting.
 */
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { CredentialFailureDetails, CredentialSpec } from '../../src/domain/changes';
import { encryptCredential } from '../../src/sidecar/credential-blob';
import { credentialRequestKey, startCredentialInjection } from '../../src/temporal/change-starts';
import { changeIds } from '../../contracts';
import { createFleetHarness, type FleetHarness } from '../helpers/fleet-harness';
import { replayAndRecord } from '../helpers/temporal';

jest.setTimeout(90_000);

const MASTER = 'simulator-master-key';
const WS = 'ws-c0';
const ID = 9_400;

async function failureDetails(
  p: Promise<unknown>,
): Promise<{ message: string; type?: string; d: CredentialFailureDetails }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    return {
      message: cause.message,
      type: cause.type ?? undefined,
      d: cause.details?.[0] as CredentialFailureDetails,
    };
  }
  throw new Error('expected the workflow to fail');
}

describe('credential injection', () => {
  let h: FleetHarness;
  let worker: { stop(): Promise<void> };

  beforeAll(async () => {
    h = await createFleetHarness('credentials');
    await h.fleet.addDroplets(h.db.pool, [{ dropletId: ID, workspaceId: WS }]);
    worker = await h.startWorker();
  });

  afterAll(async () => {
    await worker?.stop();
    await h?.close();
  });

  const smtp = encryptCredential(MASTER, WS, { user: 'mailer', password: 'smtp-pass-123' });
  const openai = encryptCredential(MASTER, WS, { apiKey: 'sk-test-abcdef' });
  const wrongKey = encryptCredential('not-the-master-key', WS, { apiKey: 'never-opens' });
  const credentials: CredentialSpec[] = [
    { type: 'smtp', name: 'Outbound SMTP', encryptedData: smtp },
    { type: 'openAiApi', name: 'OpenAI', encryptedData: openai },
    { type: 'httpHeaderAuth', name: 'CRM token', encryptedData: wrongKey },
  ];
  const injects = () => h.fleet.sidecars.commandCount(ID, 'INJECT_CREDENTIAL');
  const audit = async (workflowId: string) =>
    (
      await h.db.pool.query<{
        credential_name: string;
        outcome: string;
        action: string;
        error: string | null;
      }>(
        `SELECT credential_name, outcome, action, error FROM credential_audit WHERE workflow_id = $1 ORDER BY id`,
        [workflowId],
      )
    ).rows;

  it('injects the good blobs, fails the bad one, and names exactly which', async () => {
    const run = await startCredentialInjection(h.temporal.client, h.taskQueue, {
      workspaceId: WS,
      dropletId: ID,
      credentials,
    });
    expect(run.workflowId).toBe(
      changeIds.credentialInjection(
        ID,
        credentialRequestKey({ workspaceId: WS, dropletId: ID, credentials }),
      ),
    );
    const f = await failureDetails(run.handle.result());
    expect(f.type).toBe('PartialCredentialFailure');
    expect(f.message).not.toMatch(/SMTP|OpenAI|CRM/); // names only in the (encrypted) details
    expect(f.d.succeeded.map((c) => c.name).sort()).toEqual(['OpenAI', 'Outbound SMTP']);
    expect(f.d.failed).toEqual([
      expect.objectContaining({
        name: 'CRM token',
        action: 'inject',
        error: expect.stringMatching(/unable to authenticate data/), // node:crypto's GCM refusal
      }),
    ]);
    expect(injects()).toBe(3);

    // The sidecar holds the two opened credentials; their n8n ids are recorded.
    const agentCreds = h.fleet.sidecars.agent(ID)!.credentials;
    expect(agentCreds.map((c) => c.name).sort()).toEqual(['OpenAI', 'Outbound SMTP']);
    expect(agentCreds.find((c) => c.name === 'OpenAI')!.data).toEqual({ apiKey: 'sk-test-abcdef' });
    const stored = await h.db.pool.query<{ credential_name: string; n8n_credential_id: string }>(
      `SELECT credential_name, n8n_credential_id FROM n8n_credentials WHERE workspace_id = $1 ORDER BY 1`,
      [WS],
    );
    expect(stored.rows).toEqual(
      ['OpenAI', 'Outbound SMTP'].map((n) => ({
        credential_name: n,
        n8n_credential_id: agentCreds.find((c) => c.name === n)!.id,
      })),
    );
    const rows = await audit(run.workflowId);
    expect(rows.map((r) => `${r.credential_name}:${r.outcome}`).sort()).toEqual([
      'CRM token:failed',
      'OpenAI:succeeded',
      'Outbound SMTP:succeeded',
    ]);
    expect(JSON.stringify(rows)).not.toContain(wrongKey);
    await replayAndRecord('credential-injection-partial', await run.handle.fetchHistory());
  });

  it('a re-run with the same input re-sends only the failed credential', async () => {
    const before = injects();
    const rerun = await startCredentialInjection(h.temporal.client, h.taskQueue, {
      workspaceId: WS,
      dropletId: ID,
      credentials,
    });
    const f = await failureDetails(rerun.handle.result());
    expect(injects() - before).toBe(1); // only the CRM token again
    expect(f.d.succeeded.every((c) => c.skipped)).toBe(true);
    expect(f.d.failed.map((c) => c.name)).toEqual(['CRM token']);

    // The same request with the blob re-sealed correctly, under the same request key: only it is sent.
    const fixed = credentials.map((c) =>
      c.name === 'CRM token' ? { ...c, encryptedData: encryptCredential(MASTER, WS, { token: 'crm-1' }) } : c,
    );
    const key = credentialRequestKey({ workspaceId: WS, dropletId: ID, credentials });
    const third = await startCredentialInjection(
      h.temporal.client,
      h.taskQueue,
      { workspaceId: WS, dropletId: ID, credentials: fixed },
      { requestKey: key },
    );
    expect(third.workflowId).toBe(rerun.workflowId);
    const result = await third.handle.result();
    expect(result.succeeded.filter((c) => !c.skipped).map((c) => c.name)).toEqual(['CRM token']);
    expect(injects() - before).toBe(2);
    expect(h.fleet.sidecars.agent(ID)!.credentials).toHaveLength(3);
  });

  it('rotates when a credentialId is given', async () => {
    const cred = h.fleet.sidecars.agent(ID)!.credentials.find((c) => c.name === 'OpenAI')!;
    const run = await startCredentialInjection(h.temporal.client, h.taskQueue, {
      workspaceId: WS,
      dropletId: ID,
      credentials: [
        {
          type: 'openAiApi',
          name: 'OpenAI',
          credentialId: cred.id,
          encryptedData: encryptCredential(MASTER, WS, { apiKey: 'sk-rotated' }),
        },
      ],
    });
    expect(await run.handle.result()).toEqual({
      succeeded: [{ type: 'openAiApi', name: 'OpenAI', action: 'rotate', credentialId: cred.id }],
    });
    const after = h.fleet.sidecars.agent(ID)!.credentials.find((c) => c.id === cred.id)!;
    expect(after).toMatchObject({ rotations: 1, data: { apiKey: 'sk-rotated' } });
    expect(h.fleet.sidecars.commandCount(ID, 'ROTATE_CREDENTIAL')).toBe(1);
    expect((await audit(run.workflowId)).map((r) => r.action)).toEqual(['rotate']);
  });
});
