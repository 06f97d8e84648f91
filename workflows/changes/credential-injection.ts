/**
 * Credential injection / rotation on one tenant: one activity per credential (INJECT_CREDENTIAL,
 * or ROTATE_CREDENTIAL when a credentialId is given), so a failure retries only that credential.
 * Each success records the n8n credential id and a 'succeeded' audit row; each give-up a 'failed'
 * audit row (the error, never the blob). A re-run under the same workflow id skips what an earlier
 * run already pushed. When some fail: PartialCredentialFailure whose details list exactly which
 * succeeded and which failed. Names stay out of failure messages (those are not encrypted).
 */
import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import {
  ChangeFailure,
  invalidCredentialInjection,
  type ChangeStatus,
  type CredentialFailureDetails,
  type CredentialInjectionInput,
  type CredentialInjectionResult,
  type CredentialOutcome,
} from '../../src/domain/changes';
import { changeStatusQuery } from '../../contracts/changes';
import { dropletPrologue } from '../droplet-prologue';
import { failureMessage } from '../failures';
import { dbPolicy, sidecarPolicy } from '../policies';

const { credentialsSucceededFor, auditCredentialFailure } =
  proxyActivities<Pick<Activities, 'credentialsSucceededFor' | 'auditCredentialFailure'>>(dbPolicy);
const { pushCredential } = proxyActivities<Pick<Activities, 'pushCredential'>>(sidecarPolicy);

export async function credentialInjection(
  input: CredentialInjectionInput,
): Promise<CredentialInjectionResult> {
  const { status } = await dropletPrologue(input, {
    problemOf: invalidCredentialInjection,
    statusQuery: changeStatusQuery,
    status: (i): ChangeStatus => ({
      phase: 'checking',
      total: i.credentials.length,
      succeeded: 0,
      failed: 0,
    }),
  });
  const { workspaceId, dropletId, credentials } = input;
  const { workflowId } = workflowInfo();
  const done = new Map(
    (await credentialsSucceededFor(workflowId)).map((c) => [`${c.type}\u0000${c.name}`, c]),
  );

  status.phase = 'pushing';
  const outcomes = await Promise.all(
    credentials.map(async (c): Promise<{ ok: boolean; outcome: CredentialOutcome }> => {
      const action = c.credentialId ? 'rotate' : 'inject';
      const earlier = done.get(`${c.type}\u0000${c.name}`);
      if (earlier) return { ok: true, outcome: { ...earlier, skipped: true } };
      try {
        const outcome = await pushCredential({ workspaceId, dropletId, workflowId, credential: c });
        status.succeeded = (status.succeeded as number) + 1;
        return { ok: true, outcome };
      } catch (err) {
        const error = failureMessage(err);
        status.failed = (status.failed as number) + 1;
        await auditCredentialFailure({
          workspaceId,
          dropletId,
          workflowId,
          type: c.type,
          name: c.name,
          action,
          credentialId: c.credentialId,
          error,
        });
        return {
          ok: false,
          outcome: { type: c.type, name: c.name, action, credentialId: c.credentialId, error },
        };
      }
    }),
  );

  const succeeded = outcomes.filter((o) => o.ok).map((o) => o.outcome);
  const failed = outcomes.filter((o) => !o.ok).map((o) => o.outcome);
  if (failed.length > 0) {
    status.phase = 'failed';
    status.lastError = `${failed.length} of ${credentials.length} credentials failed`;
    const details: CredentialFailureDetails = { succeeded, failed };
    throw ApplicationFailure.create({
      message: `${failed.length} of ${credentials.length} credentials failed on droplet ${dropletId}; ${succeeded.length} succeeded (see details)`,
      type: ChangeFailure.partialCredentials,
      nonRetryable: true,
      details: [details],
    });
  }
  status.phase = 'done';
  return { succeeded };
}
