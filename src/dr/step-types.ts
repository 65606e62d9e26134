import type {z} from 'zod'

import type {AwsOptions} from '../aws/clients.js'

/**
 * The contract between the DR runner (src/dr/runner.ts: waves, journal, resume, rollback, drills, cleanup)
 * and the step implementations (src/dr/steps/<type>.ts, one file per step type, registered in
 * src/dr/steps/index.ts). Steps never import oclif, inquirer or listr2; they talk to AWS only through
 * clients made by `ctx.client(...)` (src/aws/clients.ts underneath, so aws-sdk-client-mock can mock them).
 */

export type RunMode = 'failover' | 'failback' | 'drill'

/** Which of the playbook's regions a call goes to. In failback, the runner swaps primary and dr. */
export type RegionRole = 'primary' | 'dr'

export interface CreatedResource {
  /** e.g. 'ec2:instance', 'ec2:image', 'ec2:snapshot', 'ec2:address-association', 'route53:record-weights' */
  kind: string
  id: string
  region: string
  stepId: string
  /** Whatever the step needs to undo it (previous weights, the association id, ...). */
  undo?: Record<string, unknown>
  /** Set by the runner once the resource is removed (drill cleanup, rollback). */
  removedAt?: string
}

export interface StepLogger {
  info(message: string): void
  /** A short, replaceable progress line (e.g. "image pending, 40%"). */
  progress(message: string): void
}

export interface StepContext {
  runId: string
  mode: RunMode
  stepId: string
  regions: {primary: string; dr: string}
  aws: AwsOptions
  /** Makes an SDK client for a region (the one client factory). */
  client<C>(ctor: new (config: any) => C, region: string): C
  /**
   * A deterministic idempotency token for this run + step (+ suffix): the same on resume, so a relaunch
   * after a crash returns the same resources instead of creating new ones (EC2 ClientToken ≤ 64 chars).
   */
  token(suffix?: string): string
  /** Tags every resource created in this run carries (lifeboat:run-id, lifeboat:step, lifeboat:mode). */
  tags(): Record<string, string>
  /**
   * Record a resource in the journal the moment it exists (before waiting on it), so that resume, rollback
   * and drill cleanup know about it even if the process dies during the wait.
   */
  recordResource(r: Omit<CreatedResource, 'stepId'>): Promise<void>
  /** Step-private state persisted in the journal (e.g. a Route 53 change id), read back on resume. */
  state: Record<string, unknown>
  saveState(patch: Record<string, unknown>): Promise<void>
  /** Whether an approval step was approved by --approve ID or interactively; the runner supplies it. */
  approve(message: string): Promise<boolean>
  log: StepLogger
  signal: AbortSignal
  /** Injectable for tests: real time by default. */
  sleep(ms: number): Promise<void>
  now(): Date
  /** The playbook's RTO/RPO targets (optional, added by dr-steps): backup.restore readiness compares the newest data's age to rpoMs. */
  targets?: {rtoMs: number; rpoMs: number}
}

export interface StepResult {
  /** Values later steps use as ${steps.<id>.<name>} (e.g. imageId, instanceIds). */
  outputs: Record<string, unknown>
}

export type PlanAction = 'create' | 'change' | 'none' | 'wait' | 'check' | 'ask'
export interface PlanLine {
  action: PlanAction
  /** One sentence: what the step would do against the current AWS state ("copy ami-... to us-west-2 as shop-dr"). */
  summary: string
  details?: Record<string, unknown>
}

export interface ReadinessCheck {
  name: string
  ok: boolean
  detail: string
  /** 'warn' checks are shown but do not fail readiness. */
  severity?: 'error' | 'warn'
}

export interface StepDefinition<P = any> {
  type: string
  /** zod schema of `params` (after ${...} interpolation for run; raw strings allowed where interpolated). */
  params: z.ZodType<P>
  run(params: P, ctx: StepContext): Promise<StepResult>
  /** Undo a completed step (dr rollback); absent when the step has nothing to undo. */
  rollback?(params: P, result: StepResult, ctx: StepContext): Promise<void>
  /** Remove one resource this step created (drill cleanup, rollback). Must tolerate "already gone". */
  removeResource?(resource: CreatedResource, ctx: StepContext): Promise<void>
  /** Read-only: the intended action against the current state (dr plan). */
  plan(params: P, ctx: StepContext): Promise<PlanLine>
  /** Read-only readiness checks for this step's prerequisites (dr readiness). */
  readiness?(params: P, ctx: StepContext): Promise<ReadinessCheck[]>
}
