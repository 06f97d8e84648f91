/**
 * Starting power workflows the single-flight way: the id is derived from the droplet and the
 * conflict policy returns the running workflow (contracts/power.ts), so a second wake, a watchdog
 * tick or a retried HTTP request from Vercel joins the operation already running.
 */
import type { Client } from '@temporalio/client';
import {
  hardRebootContract,
  hibernateContract,
  wakeContract,
  type HardRebootInput,
  type HibernateDropletInput,
  type WakeDropletInput,
} from '../../contracts/power';
import { startWorkflow, type StartedWorkflow } from './start';

export type StartedPower = StartedWorkflow;

export function startWake(client: Client, taskQueue: string, input: WakeDropletInput): Promise<StartedPower> {
  return startWorkflow(client, wakeContract, input, { taskQueue });
}

export function startHardReboot(
  client: Client,
  taskQueue: string,
  input: HardRebootInput,
): Promise<StartedPower> {
  return startWorkflow(client, hardRebootContract, input, { taskQueue });
}

export function startHibernate(
  client: Client,
  taskQueue: string,
  input: HibernateDropletInput,
): Promise<StartedPower> {
  return startWorkflow(client, hibernateContract, input, { taskQueue });
}
