/**
 * Priority lanes of the fleet-wide DigitalOcean budget. Every request names the lane of the work it
 * serves; the budget serves them in order: a user waiting for their tenant (interactive) never
 * waits behind remediation or bulk work, and bulk work (scheduled power, storms) uses what is left
 * without starving remediation entirely.
 */
import type { HibernateReason, RebootReason, WakeReason } from './power';

export const BUDGET_LANES = ['interactive', 'remediation', 'bulk'] as const;
export type BudgetLane = (typeof BUDGET_LANES)[number];

/** The lane of a request that names none (reads and actions of unclassified callers). */
export const DEFAULT_BUDGET_LANE: BudgetLane = 'remediation';

export function isBudgetLane(v: unknown): v is BudgetLane {
  return typeof v === 'string' && (BUDGET_LANES as readonly string[]).includes(v);
}

/** A wake's lane follows its reason: someone is waiting, the fleet is healing, or it was planned. */
export function laneOfWake(reason: WakeReason): BudgetLane {
  switch (reason) {
    case 'user_login':
    case 'admin_request':
      return 'interactive';
    case 'watchdog_recovery':
      return 'remediation';
    case 'scheduled_campaign':
      return 'bulk';
  }
}

export function laneOfReboot(reason: RebootReason): BudgetLane {
  return reason === 'admin_request' ? 'interactive' : 'remediation';
}

export function laneOfHibernate(reason: HibernateReason | undefined): BudgetLane {
  return reason === undefined || reason === 'admin_request' ? 'interactive' : 'bulk';
}
