/**
 * Live progress for `--wait` and `--watch`: the operation's status query is polled and a line is
 * printed (to stderr, so --json output stays clean) whenever its phase, attempt or last error
 * changes. Ctrl-C stops watching, not the operation: the command says what keeps running and
 * exits 130.
 *
 * Payloads are encrypted; a CLI without the deployment's PAYLOAD_CODEC_KEYS cannot read results
 * or queries. That is reported as the configuration problem it is (exit 2), never as a failed
 * operation.
 */
import { type Client, type WorkflowHandle } from '@temporalio/client';
import { CommanderError } from 'commander';
import type { PowerStatus } from '../domain/power';
import { powerIds, powerStatusQuery } from '../../contracts/power';

export const EXIT_INTERRUPTED = 130;

const CODEC_PROBLEM = /Unknown encoding: binary\/encrypted|encrypted with unknown key id/;

/** Whether an error (or one of its causes) says this process cannot decrypt the payloads. */
export function isCodecKeyProblem(err: unknown): boolean {
  for (let e = err as { message?: string; cause?: unknown } | undefined, i = 0; e && i < 8; i++) {
    if (typeof e.message === 'string' && CODEC_PROBLEM.test(e.message)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

export function codecKeyError(what: string, hasKeys: boolean): CommanderError {
  return new CommanderError(
    2,
    'genesis-cp.config',
    `${what}, but its payloads are encrypted and ${
      hasKeys
        ? 'none of the PAYLOAD_CODEC_KEYS given here has their key id'
        : 'PAYLOAD_CODEC_KEYS is not set here'
    }: use the deployment's keys (make dev writes them to .data/dev.env, read through ./.env or --dotenv)`,
  );
}

/** Resolves when Ctrl-C (SIGINT) or SIGTERM arrives; `dispose` removes the handlers. */
export function interruption(): { interrupted: Promise<'interrupted'>; dispose(): void } {
  let resolve!: (v: 'interrupted') => void;
  const interrupted = new Promise<'interrupted'>((r) => (resolve = r));
  const on = () => resolve('interrupted');
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return {
    interrupted,
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

const clock = () => new Date().toISOString().slice(11, 19);
export const progressLine = (text: string) => process.stderr.write(`${clock()}  ${text}\n`);

function describePower(s: PowerStatus, escalation?: PowerStatus): string {
  let line = `${s.operation} ${s.phase}`;
  if (s.attempt > 1) line += ` (attempt ${s.attempt})`;
  if (escalation) {
    line += ` -> ${escalation.operation} ${escalation.phase} (attempt ${escalation.attempt})`;
    if (escalation.lastError) line += `; last error: ${escalation.lastError}`;
  } else if (s.lastError) line += `; last error: ${s.lastError}`;
  return line;
}

/**
 * Waits for a power workflow's result while printing its progress. Returns the result, or
 * 'interrupted' on Ctrl-C. Throws what result() throws, and a codec-key error as such.
 */
export async function waitForPower<R>(
  client: Client,
  handle: WorkflowHandle,
  dropletId: number,
  opts: { pollMs?: number; hasCodecKeys: boolean; onLine?: (line: string) => void },
): Promise<R | 'interrupted'> {
  const say = opts.onLine ?? progressLine;
  const stop = interruption();
  let last = '';
  let done = false;
  const result = handle.result() as Promise<R>;
  result.catch(() => undefined).finally(() => (done = true));
  const poll = async () => {
    while (!done) {
      try {
        const s = await handle.query(powerStatusQuery);
        const escalation =
          s.phase === 'escalated'
            ? await client.workflow
                .getHandle(powerIds.escalation(dropletId))
                .query(powerStatusQuery)
                .catch(() => undefined)
            : undefined;
        const line = describePower(s, escalation);
        if (line !== last && !done) say(`${handle.workflowId}: ${line}`);
        last = line;
      } catch (err) {
        if (isCodecKeyProblem(err)) throw codecKeyError(`${handle.workflowId} is running`, opts.hasCodecKeys);
        // a query can fail while the workflow closes or no worker answers yet: keep waiting
      }
      await Promise.race([
        new Promise((r) => setTimeout(r, opts.pollMs ?? 1_000)),
        result.catch(() => undefined),
      ]);
    }
    return new Promise<never>(() => undefined);
  };
  try {
    return await Promise.race([result, poll(), stop.interrupted]);
  } catch (err) {
    if (err instanceof CommanderError) throw err;
    if (isCodecKeyProblem(err)) {
      const d = await handle.describe().catch(() => undefined);
      throw codecKeyError(
        `${handle.workflowId} ${d ? `finished with status ${d.status.name}` : 'finished'}`,
        opts.hasCodecKeys,
      );
    }
    throw err;
  } finally {
    done = true;
    stop.dispose();
  }
}
