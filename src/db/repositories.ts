/**
 * The repositories activities are built from: one object per aggregate, each method one of the
 * statements in this folder bound to the pool. Activities declare the narrow slice they use
 * (activities/deps.ts); the worker builds them once (src/worker/deps.ts).
 */
import type { Pool } from 'pg';
import { openAlertSeverity } from './alerts';
import {
  auditCredentialFailure,
  claimWorkflowDeploy,
  credentialsSucceededFor,
  getTenantVersion,
  recordCredentialPushed,
  recordDeployedWorkflowId,
  recordedN8nVersion,
  recordN8nTag,
  recordTenantVersion,
} from './changes';
import {
  getDroplet,
  setAgentDropletId,
  settleTransitional,
  stuckDroplets,
  transitionDroplet,
} from './droplets';
import {
  maintainProbeHistory,
  openProbeAlerts,
  probeTargets,
  recordProbeResults,
  recordProbeRun,
} from './fleet-probe';
import {
  clearReconcileMark,
  desiredArtifact,
  desiredCredentialBlobs,
  desiredStateView,
  fleetDrift,
  moveRolloutDesired,
  recordReconcileAttempt,
  recordVerified,
  revertRolloutDesired,
  setDesiredState,
  tenantReconcileRows,
  verifySampleCandidates,
} from './desired-state';
import { maintainHeartbeatHistory } from './heartbeat-retention';
import {
  claimPowerAction,
  recordPowerActionCohort,
  recordPowerActionId,
  recordPowerActionIds,
  releasePowerAction,
} from './power-actions';
import {
  createPowerCohort,
  recentPowerCohorts,
  recordPowerCohortActed,
  recordPowerCohortDeleted,
  undeletedPowerCohorts,
} from './power-cohorts';
import {
  deletePowerSchedule,
  getPowerSchedule,
  listPowerSchedules,
  scheduledFleet,
  upsertPowerSchedule,
} from './power-schedules';
import {
  finishWave,
  planRollout,
  recordTargetResults,
  setRolloutStatus,
  startWave,
  succeededTargets,
  waveTargets,
} from './rollouts';
import { scaleProbeQueries } from './scale-probes';
import { openBreachAlertKeys, recordWatchdogRun, scanFleet } from './watchdog';

/** `fn` with its first parameter (the pool) bound. */
function on<D, A extends unknown[], R>(db: D, fn: (db: D, ...args: A) => R): (...args: A) => R {
  return (...args) => fn(db, ...args);
}

export function createRepositories(pool: Pool) {
  return {
    droplets: {
      get: on(pool, getDroplet),
      transition: on(pool, transitionDroplet),
      settleTransitional: on(pool, settleTransitional),
      stuck: on(pool, stuckDroplets),
      setAgentDropletId: on(pool, setAgentDropletId),
    },
    powerActions: {
      claim: on(pool, claimPowerAction),
      recordActionId: on(pool, recordPowerActionId),
      recordActionIds: on(pool, recordPowerActionIds),
      recordCohort: on(pool, recordPowerActionCohort),
      release: on(pool, releasePowerAction),
    },
    powerCohorts: {
      create: on(pool, createPowerCohort),
      recordActed: on(pool, recordPowerCohortActed),
      recordDeleted: on(pool, recordPowerCohortDeleted),
      undeleted: on(pool, undeletedPowerCohorts),
      recent: on(pool, recentPowerCohorts),
    },
    tenantVersions: {
      recordedN8nVersion: on(pool, recordedN8nVersion),
      recordN8nTag: on(pool, recordN8nTag),
      get: on(pool, getTenantVersion),
      record: on(pool, recordTenantVersion),
    },
    credentials: {
      succeededFor: on(pool, credentialsSucceededFor),
      recordPushed: on(pool, recordCredentialPushed),
      auditFailure: on(pool, auditCredentialFailure),
    },
    workflowDeploys: {
      claim: on(pool, claimWorkflowDeploy),
      recordN8nWorkflowId: on(pool, recordDeployedWorkflowId),
    },
    rollouts: {
      plan: on(pool, planRollout),
      startWave: on(pool, startWave),
      waveTargets: on(pool, waveTargets),
      recordTargetResults: on(pool, recordTargetResults),
      finishWave: on(pool, finishWave),
      setStatus: on(pool, setRolloutStatus),
      succeededTargets: on(pool, succeededTargets),
    },
    alerts: {
      openSeverity: on(pool, openAlertSeverity),
      openBreachKeys: on(pool, openBreachAlertKeys),
    },
    watchdog: {
      scanFleet: on(pool, scanFleet),
      recordRun: on(pool, recordWatchdogRun),
    },
    powerSchedules: {
      upsert: on(pool, upsertPowerSchedule),
      get: on(pool, getPowerSchedule),
      delete: on(pool, deletePowerSchedule),
      list: on(pool, listPowerSchedules),
      scheduledFleet: on(pool, scheduledFleet),
    },
    desiredState: {
      set: on(pool, setDesiredState),
      view: on(pool, desiredStateView),
      moveForRollout: on(pool, moveRolloutDesired),
      revertForRollout: on(pool, revertRolloutDesired),
      tenants: on(pool, tenantReconcileRows),
      artifact: on(pool, desiredArtifact),
      credentialBlobs: on(pool, desiredCredentialBlobs),
      verifySample: on(pool, verifySampleCandidates),
      fleetDrift: on(pool, fleetDrift),
    },
    reconcileStatus: {
      recordAttempt: on(pool, recordReconcileAttempt),
      recordVerified: on(pool, recordVerified),
      clearMark: on(pool, clearReconcileMark),
    },
    scaleProbes: scaleProbeQueries(pool),
    heartbeatHistory: {
      maintain: on(pool, maintainHeartbeatHistory),
    },
    fleetProbe: {
      targets: on(pool, probeTargets),
      recordResults: on(pool, recordProbeResults),
      openAlerts: on(pool, openProbeAlerts),
      recordRun: on(pool, recordProbeRun),
      maintainHistory: on(pool, maintainProbeHistory),
    },
  };
}

export type Repositories = ReturnType<typeof createRepositories>;
