/**
 * The control plane's task queues. Every worker polls all of them, each with its own slots:
 *   - the base queue (TEMPORAL_TASK_QUEUE): everything not named below;
 *   - `<base>-interactive`: power operations someone is waiting for (a user_login or admin_request
 *     wake, an admin hibernation or reboot) and the heartbeat drain, whose keep-alives verify
 *     every wake. A storm of bulk wakes fills the base queue's backlog and its workers' slots; the
 *     interactive queue has neither, so a login is dispatched, and verified, at once.
 * The name is derived from the base, never configured, so the Vercel client, the CLI, activities
 * and every worker agree without sharing one more variable.
 */

/** The queue of latency-sensitive work (contracts/power.ts and heartbeat-drain.ts route there). */
export function interactiveTaskQueue(base: string): string {
  return `${base}-interactive`;
}

export const TASK_QUEUE_CLASSES = ['default', 'interactive'] as const;
export type TaskQueueClass = (typeof TASK_QUEUE_CLASSES)[number];

/** Every queue a worker of the control plane polls, by class (the base first). */
export function controlPlaneTaskQueues(base: string): { queue: string; class: TaskQueueClass }[] {
  return [
    { queue: base, class: 'default' },
    { queue: interactiveTaskQueue(base), class: 'interactive' },
  ];
}
