/**
 * Desired state and drift from the operator's terminal (Postgres through src/db, as `fleet` reads):
 *   genesis-cp desired get <workspace>         desired state (no JSON, no blob) and its drift
 *   genesis-cp desired set <workspace> ...     --n8n TAG | --unset-n8n, --workflow NAME=VERSION:FILE
 *                                              (repeatable; FILE is the n8n workflow JSON), with
 *                                              --credential-map FILE, --remove-workflow NAME,
 *                                              --credential TYPE/NAME=FILE (the encrypted blob),
 *                                              --remove-credential TYPE/NAME
 *   genesis-cp desired clear <workspace>       lift the reconciler's mark (it retries the tenant)
 *   genesis-cp drift [--workspace W] [--limit N]  drift per tenant, fleet-wide counts
 * Exit 3 for an unknown workspace, 2 for a bad value.
 */
import { readFileSync } from 'node:fs';
import { type Command, CommanderError } from 'commander';
import type { Config } from '../config';
import {
  clearReconcileMark,
  desiredStateView,
  fleetDrift,
  setDesiredState,
  tenantDriftOf,
  tenantReconcileRows,
  workspaceExists,
} from '../db/desired-state';
import {
  describeDrift,
  invalidSetDesiredState,
  type SetDesiredStateInput,
  type TenantDrift,
} from '../domain/reconcile';
import type { Queryable } from '../db/queryable';
import { EXIT_NOT_FOUND, EXIT_USAGE, fail, withContext } from './operator';
import { print } from './output';

const usage = (message: string) => new CommanderError(EXIT_USAGE, 'genesis-cp.usage', message);
const collect = (v: string, prev: string[] = []) => [...prev, v];

function readJson(file: string, what: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not a JSON object');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw usage(`${what} ${file}: ${(err as Error).message}`);
  }
}

function typeAndName(text: string, flag: string): { type: string; name: string } {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) throw usage(`${flag} takes TYPE/NAME, not ${text}`);
  return { type: text.slice(0, slash), name: text.slice(slash + 1) };
}

interface SetOptions {
  n8n?: string;
  unsetN8n?: boolean;
  workflow?: string[];
  credentialMap?: string;
  removeWorkflow?: string[];
  credential?: string[];
  removeCredential?: string[];
  by?: string;
  json?: boolean;
}

/** The change `desired set` asks for, validated like the client's. */
export function desiredChangeOf(workspaceId: string, o: SetOptions): SetDesiredStateInput {
  if (o.n8n !== undefined && o.unsetN8n) throw usage('--n8n and --unset-n8n exclude each other');
  const credentialMap = o.credentialMap
    ? (readJson(o.credentialMap, '--credential-map') as Record<string, string>)
    : undefined;
  const change: SetDesiredStateInput = {
    workspaceId,
    setBy: o.by ? `cli:${o.by}` : 'cli',
    ...(o.n8n !== undefined ? { n8nTag: o.n8n } : o.unsetN8n ? { n8nTag: null } : {}),
    ...(o.workflow?.length
      ? {
          workflows: o.workflow.map((w) => {
            const m = /^([^=]+)=([^:]+):(.+)$/.exec(w);
            if (!m) throw usage(`--workflow takes NAME=VERSION:FILE, not ${w}`);
            return {
              name: m[1]!,
              version: m[2]!,
              workflowJson: readJson(m[3]!, '--workflow'),
              ...(credentialMap ? { credentialMap } : {}),
            };
          }),
        }
      : {}),
    ...(o.removeWorkflow?.length ? { removeWorkflows: o.removeWorkflow } : {}),
    ...(o.credential?.length
      ? {
          credentials: o.credential.map((c) => {
            const eq = c.indexOf('=');
            if (eq < 0) throw usage(`--credential takes TYPE/NAME=FILE, not ${c}`);
            const file = c.slice(eq + 1);
            let blob: string;
            try {
              blob = readFileSync(file, 'utf8').trim();
            } catch (err) {
              throw usage(`--credential ${file}: ${(err as Error).message}`);
            }
            return { ...typeAndName(c.slice(0, eq), '--credential'), encryptedData: blob };
          }),
        }
      : {}),
    ...(o.removeCredential?.length
      ? { removeCredentials: o.removeCredential.map((c) => typeAndName(c, '--remove-credential')) }
      : {}),
  };
  const problem = invalidSetDesiredState(change);
  if (problem) throw usage(problem);
  return change;
}

async function tenantDrift(db: Queryable, workspaceId: string): Promise<TenantDrift | undefined> {
  const rows = await tenantReconcileRows(db, { workspaceIds: [workspaceId] });
  return rows[0] ? tenantDriftOf(rows[0]) : undefined;
}

const driftRow = (t: TenantDrift) => ({
  workspace: t.workspaceId,
  droplet: t.dropletId ?? '-',
  state: t.dropletState ?? '-',
  drift: t.drift.length ? t.drift.map(describeDrift).join('; ') : 'in sync',
  failures: t.failures,
  marked: t.marked ? 'MARKED' : '',
  lastOutcome: t.lastOutcome ?? '-',
  lastVerified: t.lastVerifiedAt ?? '-',
});

export function registerDesiredCommands(program: Command, loadConfig: () => Config): void {
  const desired = program
    .command('desired')
    .description("tenants' desired state (what the reconciler converges to)");
  desired
    .command('get <workspace>')
    .description('desired state (n8n tag, workflows with versions, credentials) and its drift')
    .option('--json', 'JSON output')
    .action((workspaceId: string, o: { json?: boolean }) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        if (!(await workspaceExists(pool!, workspaceId)))
          throw fail(EXIT_NOT_FOUND, `workspace ${workspaceId} is not known`);
        const view = await desiredStateView(pool!, workspaceId);
        const drift = await tenantDrift(pool!, workspaceId);
        if (o.json) return print({ desired: view, drift: drift ?? null }, true);
        const rows = [
          ...(view.n8nTag ? [{ component: 'n8n', version: view.n8nTag, setBy: '', artifact: '' }] : []),
          ...view.workflows.map((w) => ({
            component: `workflow:${w.name}`,
            version: w.version,
            setBy: w.setBy,
            artifact: w.artifactDigest.slice(0, 12),
          })),
          ...view.credentials.map((c) => ({
            component: `credential:${c.type}/${c.name}`,
            version: '',
            setBy: c.setBy,
            artifact: '',
          })),
        ];
        print(rows, false);
        if (drift) print(driftRow(drift), false);
      }),
    );
  desired
    .command('set <workspace>')
    .description("change a tenant's desired state (fields left out stay as they are)")
    .option('--n8n <tag>', 'the n8n image tag it must run')
    .option('--unset-n8n', 'stop managing its n8n tag')
    .option('--workflow <name=version:file>', 'an n8n workflow it must run (repeatable)', collect)
    .option('--credential-map <file>', 'JSON: template credential id -> n8n credential id, for --workflow')
    .option('--remove-workflow <name>', 'stop managing a workflow (repeatable)', collect)
    .option(
      '--credential <type/name=file>',
      'a credential that must exist, its encrypted blob in file (repeatable)',
      collect,
    )
    .option('--remove-credential <type/name>', 'stop requiring a credential (repeatable)', collect)
    .option('--by <who>', 'who sets it (recorded as cli:<who>)')
    .option('--json', 'JSON output')
    .action((workspaceId: string, o: SetOptions) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        const change = desiredChangeOf(workspaceId, o);
        if (!(await setDesiredState(pool!, change)))
          throw fail(EXIT_NOT_FOUND, `workspace ${workspaceId} is not known`);
        const view = await desiredStateView(pool!, workspaceId);
        print(
          o.json
            ? (view as unknown as Record<string, unknown>)
            : {
                workspace: workspaceId,
                n8n: view.n8nTag ?? '-',
                workflows: view.workflows.map((w) => `${w.name}@${w.version}`).join(',') || '-',
                credentials: view.credentials.map((c) => `${c.type}/${c.name}`).join(',') || '-',
              },
          !!o.json,
        );
      }),
    );
  desired
    .command('clear <workspace>')
    .description('lift the mark of a tenant the reconciler gave up on (it is retried at the next run)')
    .action((workspaceId: string) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        if (!(await clearReconcileMark(pool!, workspaceId)))
          throw fail(EXIT_NOT_FOUND, `workspace ${workspaceId} has no failed reconciliation to clear`);
        process.stdout.write(`cleared: ${workspaceId}\n`);
      }),
    );

  program
    .command('drift')
    .description('drift between desired state and what the control plane recorded: per tenant, fleet-wide')
    .option('--workspace <id>', 'one tenant')
    .option('--limit <n>', 'drifted tenants listed at most', '50')
    .option('--json', 'JSON output')
    .action((o: { workspace?: string; limit: string; json?: boolean }) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        if (o.workspace) {
          const t = await tenantDrift(pool!, o.workspace);
          if (!t) throw fail(EXIT_NOT_FOUND, `workspace ${o.workspace} has no desired state`);
          return print(o.json ? (t as unknown as Record<string, unknown>) : driftRow(t), !!o.json);
        }
        const limit = Number(o.limit);
        if (!Number.isSafeInteger(limit) || limit < 0) throw usage('--limit must be a whole number');
        const f = await fleetDrift(pool!, { limit });
        if (o.json) return print(f as unknown as Record<string, unknown>, true);
        print(
          {
            tenants: f.tenants,
            drifted: f.drifted,
            n8n: f.byKind.n8n,
            workflow: f.byKind.workflow,
            credential: f.byKind.credential,
            marked: f.marked,
          },
          false,
        );
        if (f.driftedTenants.length) print(f.driftedTenants.map(driftRow), false);
      }),
    );
}
