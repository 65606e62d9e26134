import {
  type BackupClient,
  type BackupJobState,
  type CopyJobState,
  DescribeBackupJobCommand,
  DescribeCopyJobCommand,
  DescribeRestoreJobCommand,
  GetRecoveryPointRestoreMetadataCommand,
  type Lifecycle,
  paginateListBackupJobs,
  paginateListCopyJobs,
  paginateListRestoreJobs,
  type RestoreJobStatus,
  StartBackupJobCommand,
  StartCopyJobCommand,
  StartRestoreJobCommand,
} from '@aws-sdk/client-backup'

import {LifeboatError, UsageError} from '../errors.js'
import {type BackupClientOptions, backupClient, call} from './aws.js'
import {ROLE_ARN_RE, VAULT_ARN_RE} from './plan.js'
import {findRecoveryPoint} from './points.js'
import {formatAge, idempotencyToken, sleep as realSleep} from './util.js'

export type JobKind = 'backup' | 'restore' | 'copy'

/** One job of any kind, in one shape (backup: State, restore: Status, copy: State). */
export interface JobStatus {
  kind: JobKind
  id: string
  state: string
  statusMessage?: string
  percentDone?: number
  bytes?: number
  resourceArn?: string
  resourceType?: string
  /** backup: the point being made; restore/copy: the source point. */
  recoveryPointArn?: string
  /** copy: the new point in the destination vault. */
  destinationRecoveryPointArn?: string
  /** restore: the restored resource. */
  createdResourceArn?: string
  vault?: string
  destinationVaultArn?: string
  iamRoleArn?: string
  creationDate?: Date
  completionDate?: Date
}

export const SUCCESS_STATES = new Set(['COMPLETED'])
export const PARTIAL_STATES = new Set(['PARTIAL'])
export const FAILED_STATES = new Set(['FAILED', 'ABORTED', 'EXPIRED'])
export const isTerminal = (state: string): boolean => SUCCESS_STATES.has(state) || PARTIAL_STATES.has(state) || FAILED_STATES.has(state)

const pct = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined
  const n = Number.parseFloat(s)
  return Number.isFinite(n) ? n : undefined
}

export interface StartedJob {
  kind: JobKind
  id: string
  idempotencyToken: string
  recoveryPointArn?: string
  creationDate?: Date
  /** restore: the metadata that was sent (after --metadata overrides). */
  metadata?: Record<string, string>
  resourceType?: string
  iamRoleArn?: string
  sourceVault?: string
}

export interface StartBackupOptions extends BackupClientOptions {
  resourceArn: string
  vault: string
  iamRoleArn: string
  startWindowMinutes?: number
  completeWindowMinutes?: number
  deleteAfterDays?: number
  moveToColdStorageAfterDays?: number
  recoveryPointTags?: Record<string, string>
  token?: string
  now?: Date
}

export async function startBackupJob(o: StartBackupOptions): Promise<StartedJob> {
  if (!ROLE_ARN_RE.test(o.iamRoleArn)) throw new UsageError(`--role: "${o.iamRoleArn}" is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`)
  if (!o.resourceArn.startsWith('arn:')) throw new UsageError(`--resource: "${o.resourceArn}" is not an ARN`)
  if (o.startWindowMinutes !== undefined && o.startWindowMinutes < 60) throw new UsageError('--start-window must be at least 60 minutes')
  const lifecycle = lifecycleOf(o)
  const request = {
    BackupVaultName: o.vault,
    ResourceArn: o.resourceArn,
    IamRoleArn: o.iamRoleArn,
    StartWindowMinutes: o.startWindowMinutes,
    CompleteWindowMinutes: o.completeWindowMinutes,
    Lifecycle: lifecycle,
    RecoveryPointTags: o.recoveryPointTags && Object.keys(o.recoveryPointTags).length > 0 ? o.recoveryPointTags : undefined,
  }
  const token = idempotencyToken('StartBackupJob', request, o.now ?? new Date(), o.token)
  const client = backupClient(o)
  const out = await call('StartBackupJob', `${o.resourceArn} into vault ${o.vault}`, () => client.send(new StartBackupJobCommand({...request, IdempotencyToken: token})))
  return {kind: 'backup', id: out.BackupJobId ?? '', idempotencyToken: token, recoveryPointArn: out.RecoveryPointArn, creationDate: out.CreationDate, iamRoleArn: o.iamRoleArn}
}

function lifecycleOf(o: {deleteAfterDays?: number; moveToColdStorageAfterDays?: number}): Lifecycle | undefined {
  if (o.deleteAfterDays === undefined && o.moveToColdStorageAfterDays === undefined) return undefined
  if (o.deleteAfterDays !== undefined && o.moveToColdStorageAfterDays !== undefined && o.deleteAfterDays < o.moveToColdStorageAfterDays + 90) {
    throw new UsageError(
      `recovery points must stay in cold storage at least 90 days: --delete-after-days must be at least --cold-after-days + 90 = ${o.moveToColdStorageAfterDays + 90}`,
    )
  }
  return {DeleteAfterDays: o.deleteAfterDays, MoveToColdStorageAfterDays: o.moveToColdStorageAfterDays}
}

export interface StartRestoreOptions extends BackupClientOptions {
  recoveryPointArn: string
  /** The vault holding the point (found by searching the region's vaults when not given). */
  vault?: string
  /** Overrides merged over GetRecoveryPointRestoreMetadata's values. */
  metadata?: Record<string, string>
  /** Keys removed from the recorded metadata (some recorded keys are not accepted back by StartRestoreJob). */
  unsetMetadata?: string[]
  /** Default: the role that created the recovery point. */
  iamRoleArn?: string
  copySourceTags?: boolean
  token?: string
  now?: Date
}

/** StartRestoreJob with the metadata AWS recorded for the point (GetRecoveryPointRestoreMetadata) and the user's overrides. */
export async function startRestoreJob(o: StartRestoreOptions): Promise<StartedJob> {
  if (o.iamRoleArn && !ROLE_ARN_RE.test(o.iamRoleArn)) throw new UsageError(`--role: "${o.iamRoleArn}" is not an IAM role ARN`)
  const client = backupClient(o)
  const point = await findRecoveryPoint(o.recoveryPointArn, {client, vault: o.vault})
  if (point.status && point.status !== 'COMPLETED') {
    throw new LifeboatError(`recovery point ${o.recoveryPointArn} is ${point.status}, not COMPLETED: it cannot be restored`, {code: 'POINT_NOT_RESTORABLE'})
  }
  const meta = await call('GetRecoveryPointRestoreMetadata', o.recoveryPointArn, () =>
    client.send(new GetRecoveryPointRestoreMetadataCommand({BackupVaultName: point.vault, RecoveryPointArn: o.recoveryPointArn})),
  )
  const metadata: Record<string, string> = {...meta.RestoreMetadata, ...o.metadata}
  for (const k of o.unsetMetadata ?? []) delete metadata[k]
  const role = o.iamRoleArn ?? point.iamRoleArn
  if (!role) throw new UsageError('the recovery point does not name the role that created it: pass --role ARN')
  const resourceType = meta.ResourceType ?? point.resourceType
  const request = {RecoveryPointArn: o.recoveryPointArn, Metadata: metadata, IamRoleArn: role, ResourceType: resourceType, CopySourceTagsToRestoredResource: o.copySourceTags}
  const token = idempotencyToken('StartRestoreJob', request, o.now ?? new Date(), o.token)
  const out = await call('StartRestoreJob', o.recoveryPointArn, () => client.send(new StartRestoreJobCommand({...request, IdempotencyToken: token})))
  return {kind: 'restore', id: out.RestoreJobId ?? '', idempotencyToken: token, recoveryPointArn: o.recoveryPointArn, metadata, resourceType, iamRoleArn: role, sourceVault: point.vault}
}

export interface StartCopyOptions extends BackupClientOptions {
  recoveryPointArn: string
  destinationVaultArn: string
  /** The source vault (found by searching the region's vaults when not given). */
  vault?: string
  /** Default: the role that created the recovery point. */
  iamRoleArn?: string
  deleteAfterDays?: number
  moveToColdStorageAfterDays?: number
  token?: string
  now?: Date
}

export async function startCopyJob(o: StartCopyOptions): Promise<StartedJob> {
  if (!VAULT_ARN_RE.test(o.destinationVaultArn)) {
    throw new UsageError(`--to-vault-arn: "${o.destinationVaultArn}" is not a backup vault ARN (arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME)`)
  }
  if (o.iamRoleArn && !ROLE_ARN_RE.test(o.iamRoleArn)) throw new UsageError(`--role: "${o.iamRoleArn}" is not an IAM role ARN`)
  const lifecycle = lifecycleOf(o)
  const client = backupClient(o)
  const point = await findRecoveryPoint(o.recoveryPointArn, {client, vault: o.vault})
  const role = o.iamRoleArn ?? point.iamRoleArn
  if (!role) throw new UsageError('the recovery point does not name the role that created it: pass --role ARN')
  const request = {RecoveryPointArn: o.recoveryPointArn, SourceBackupVaultName: point.vault, DestinationBackupVaultArn: o.destinationVaultArn, IamRoleArn: role, Lifecycle: lifecycle}
  const token = idempotencyToken('StartCopyJob', request, o.now ?? new Date(), o.token)
  const out = await call('StartCopyJob', `${o.recoveryPointArn} to ${o.destinationVaultArn}`, () => client.send(new StartCopyJobCommand({...request, IdempotencyToken: token})))
  return {kind: 'copy', id: out.CopyJobId ?? '', idempotencyToken: token, recoveryPointArn: o.recoveryPointArn, creationDate: out.CreationDate, iamRoleArn: role, sourceVault: point.vault}
}

export async function describeJob(kind: JobKind, id: string, opts: BackupClientOptions = {}): Promise<JobStatus> {
  const client = backupClient(opts)
  return describeWith(client, kind, id)
}

async function describeWith(client: BackupClient, kind: JobKind, id: string): Promise<JobStatus> {
  if (kind === 'backup') {
    const j = await call('DescribeBackupJob', `backup job ${id}`, () => client.send(new DescribeBackupJobCommand({BackupJobId: id})))
    return fromBackupJob(j)
  }
  if (kind === 'restore') {
    const j = await call('DescribeRestoreJob', `restore job ${id}`, () => client.send(new DescribeRestoreJobCommand({RestoreJobId: id})))
    return fromRestoreJob(j)
  }
  const j = await call('DescribeCopyJob', `copy job ${id}`, () => client.send(new DescribeCopyJobCommand({CopyJobId: id})))
  return fromCopyJob(j.CopyJob ?? {})
}

function fromBackupJob(j: {
  BackupJobId?: string
  State?: string
  StatusMessage?: string
  PercentDone?: string
  BackupSizeInBytes?: number
  ResourceArn?: string
  ResourceType?: string
  RecoveryPointArn?: string
  BackupVaultName?: string
  IamRoleArn?: string
  CreationDate?: Date
  CompletionDate?: Date
}): JobStatus {
  return {
    kind: 'backup',
    id: j.BackupJobId ?? '',
    state: j.State ?? 'UNKNOWN',
    statusMessage: j.StatusMessage || undefined,
    percentDone: pct(j.PercentDone),
    bytes: j.BackupSizeInBytes,
    resourceArn: j.ResourceArn,
    resourceType: j.ResourceType,
    recoveryPointArn: j.RecoveryPointArn,
    vault: j.BackupVaultName,
    iamRoleArn: j.IamRoleArn,
    creationDate: j.CreationDate,
    completionDate: j.CompletionDate,
  }
}

function fromRestoreJob(j: {
  RestoreJobId?: string
  Status?: string
  StatusMessage?: string
  PercentDone?: string
  BackupSizeInBytes?: number
  RecoveryPointArn?: string
  SourceResourceArn?: string
  CreatedResourceArn?: string
  ResourceType?: string
  BackupVaultArn?: string
  IamRoleArn?: string
  CreationDate?: Date
  CompletionDate?: Date
}): JobStatus {
  return {
    kind: 'restore',
    id: j.RestoreJobId ?? '',
    state: j.Status ?? 'UNKNOWN',
    statusMessage: j.StatusMessage || undefined,
    percentDone: pct(j.PercentDone),
    bytes: j.BackupSizeInBytes,
    resourceArn: j.SourceResourceArn,
    resourceType: j.ResourceType,
    recoveryPointArn: j.RecoveryPointArn,
    createdResourceArn: j.CreatedResourceArn,
    vault: j.BackupVaultArn,
    iamRoleArn: j.IamRoleArn,
    creationDate: j.CreationDate,
    completionDate: j.CompletionDate,
  }
}

function fromCopyJob(j: {
  CopyJobId?: string
  State?: string
  StatusMessage?: string
  BackupSizeInBytes?: number
  ResourceArn?: string
  ResourceType?: string
  SourceRecoveryPointArn?: string
  DestinationRecoveryPointArn?: string
  SourceBackupVaultArn?: string
  DestinationBackupVaultArn?: string
  IamRoleArn?: string
  CreationDate?: Date
  CompletionDate?: Date
}): JobStatus {
  return {
    kind: 'copy',
    id: j.CopyJobId ?? '',
    state: j.State ?? 'UNKNOWN',
    statusMessage: j.StatusMessage || undefined,
    bytes: j.BackupSizeInBytes,
    resourceArn: j.ResourceArn,
    resourceType: j.ResourceType,
    recoveryPointArn: j.SourceRecoveryPointArn,
    destinationRecoveryPointArn: j.DestinationRecoveryPointArn,
    vault: j.SourceBackupVaultArn,
    destinationVaultArn: j.DestinationBackupVaultArn,
    iamRoleArn: j.IamRoleArn,
    creationDate: j.CreationDate,
    completionDate: j.CompletionDate,
  }
}

export interface ListJobsOptions extends BackupClientOptions {
  /** backup/copy: ByState; restore: ByStatus. */
  state?: string
  resourceArn?: string
  vault?: string
  createdAfter?: Date
  /** Stop after this many jobs (newest first as AWS returns them). */
  limit?: number
}

/** Lists jobs of one kind, every page (or up to `limit`). */
export async function listJobs(kind: JobKind, o: ListJobsOptions = {}): Promise<JobStatus[]> {
  const client = backupClient(o)
  const out: JobStatus[] = []
  const full = () => o.limit !== undefined && out.length >= o.limit
  if (kind === 'backup') {
    await call('ListBackupJobs', undefined, async () => {
      const input = {ByState: o.state as BackupJobState | undefined, ByResourceArn: o.resourceArn, ByBackupVaultName: o.vault, ByCreatedAfter: o.createdAfter}
      for await (const page of paginateListBackupJobs({client}, input)) {
        for (const j of page.BackupJobs ?? []) if (!full()) out.push(fromBackupJob(j))
        if (full()) break
      }
    })
  } else if (kind === 'restore') {
    await call('ListRestoreJobs', undefined, async () => {
      for await (const page of paginateListRestoreJobs({client}, {ByStatus: o.state as RestoreJobStatus | undefined, ByCreatedAfter: o.createdAfter})) {
        for (const j of page.RestoreJobs ?? []) if (!full()) out.push(fromRestoreJob(j))
        if (full()) break
      }
    })
  } else {
    await call('ListCopyJobs', undefined, async () => {
      const input = {ByState: o.state as CopyJobState | undefined, ByResourceArn: o.resourceArn, ByCreatedAfter: o.createdAfter}
      for await (const page of paginateListCopyJobs({client}, input)) {
        for (const j of page.CopyJobs ?? []) if (!full()) out.push(fromCopyJob(j))
        if (full()) break
      }
    })
  }
  return out
}

export interface WaitOptions extends BackupClientOptions {
  timeoutSeconds: number
  intervalSeconds?: number
  onProgress?: (status: JobStatus, elapsedSeconds: number) => void
  /** A poll failed with a transient error (throttling, network) and will be retried (at most 3 in a row). */
  onPollError?: (error: unknown) => void
  /** Injected in tests: no real waiting. */
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

/** How to look at a job later (in timeout errors and human output). */
export function followCommand(kind: JobKind, id: string): string {
  return `lifeboat aws-backup job show ${id} --type ${kind} --wait`
}

/**
 * Polls Describe*Job until the job ends. COMPLETED (and PARTIAL, which the caller reports as a warning)
 * return the status; FAILED/ABORTED/EXPIRED throw with AWS's StatusMessage; the timeout throws with the
 * command that follows the job later (the job itself keeps running in AWS).
 */
export async function waitForJob(kind: JobKind, id: string, o: WaitOptions): Promise<JobStatus> {
  const client = backupClient(o)
  const sleep = o.sleep ?? realSleep
  const now = o.now ?? Date.now
  const started = now()
  const interval = Math.max(0, (o.intervalSeconds ?? 30) * 1000)
  let pollErrors = 0
  for (;;) {
    let status: JobStatus
    try {
      status = await describeWith(client, kind, id)
      pollErrors = 0
    } catch (error) {
      // A long wait outlives a throttling burst or a network blip: keep polling unless it keeps failing
      // (access denied or a wrong id fail at once).
      const code = (error as {code?: string}).code
      const transient = code === 'AWS_THROTTLED' || code === 'AWS_ERROR'
      if (!transient || ++pollErrors > 3 || (now() - started) / 1000 >= o.timeoutSeconds) throw error
      o.onPollError?.(error)
      await sleep(Math.max(0, Math.min(interval, o.timeoutSeconds * 1000 - (now() - started))))
      continue
    }
    const elapsed = (now() - started) / 1000
    o.onProgress?.(status, elapsed)
    if (FAILED_STATES.has(status.state)) {
      throw new LifeboatError(`${kind} job ${id} ${status.state}: ${status.statusMessage ?? 'AWS gave no status message'}`, {
        code: 'JOB_FAILED',
        details: status,
        hint: kind === 'backup' ? 'check the IAM role, the resource and the vault (its lock limits), then start the job again' : undefined,
      })
    }
    if (isTerminal(status.state)) return status
    if (elapsed >= o.timeoutSeconds) {
      throw new LifeboatError(`${kind} job ${id} is still ${status.state} after ${formatAge(elapsed)} (--timeout); it keeps running in AWS`, {
        code: 'JOB_WAIT_TIMEOUT',
        details: status,
        hint: `follow it with: ${followCommand(kind, id)}  (or ${kind === 'backup' ? 'job list' : `${kind} list`} to see its state)`,
      })
    }
    const left = o.timeoutSeconds * 1000 - (now() - started)
    await sleep(Math.max(0, Math.min(interval, left)))
  }
}
