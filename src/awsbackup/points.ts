import {
  BackupClient,
  DescribeRecoveryPointCommand,
  paginateListBackupVaults,
  paginateListRecoveryPointsByBackupVault,
  paginateListRecoveryPointsByResource,
} from '@aws-sdk/client-backup'

import {type AwsOptions, makeAwsClient} from '../aws/clients.js'
import {LifeboatError} from '../errors.js'
import {call, isNotFound} from './aws.js'

/**
 * The newest recovery point of a resource and its age: the achieved RPO. Shared by
 * `aws-backup points latest`, DR readiness and `backup.restore` steps, and `lifeboat status`.
 */
export interface LatestPoint {
  recoveryPointArn: string
  resourceArn: string
  vaultName?: string
  creationDate: Date
  status?: string
  ageSeconds: number
}

export interface LatestPointOptions {
  resourceArn: string
  /** Only points in this vault (otherwise every vault of the region). */
  vault?: string
  aws?: AwsOptions
  client?: BackupClient
  now?: Date
}

/** Only COMPLETED points count: a point still being created cannot be restored. */
export async function latestRecoveryPoint(opts: LatestPointOptions): Promise<LatestPoint | undefined> {
  const client = opts.client ?? makeAwsClient(BackupClient, opts.aws)
  const now = opts.now ?? new Date()
  let best: LatestPoint | undefined
  const consider = (p: {RecoveryPointArn?: string; CreationDate?: Date; Status?: string; BackupVaultName?: string; ResourceArn?: string}) => {
    if (!p.RecoveryPointArn || !p.CreationDate || p.Status !== 'COMPLETED') return
    if (opts.vault && p.BackupVaultName && p.BackupVaultName !== opts.vault) return
    if (best && best.creationDate >= p.CreationDate) return
    best = {
      recoveryPointArn: p.RecoveryPointArn,
      resourceArn: p.ResourceArn ?? opts.resourceArn,
      vaultName: p.BackupVaultName ?? opts.vault,
      creationDate: p.CreationDate,
      status: p.Status,
      ageSeconds: Math.max(0, Math.round((now.getTime() - p.CreationDate.getTime()) / 1000)),
    }
  }
  if (opts.vault) {
    const vault = opts.vault
    await call('ListRecoveryPointsByBackupVault', `vault ${vault}`, async () => {
      for await (const page of paginateListRecoveryPointsByBackupVault({client}, {BackupVaultName: vault, ByResourceArn: opts.resourceArn})) {
        for (const p of page.RecoveryPoints ?? []) consider({...p, BackupVaultName: p.BackupVaultName ?? vault})
      }
    })
  } else {
    await call('ListRecoveryPointsByResource', opts.resourceArn, async () => {
      for await (const page of paginateListRecoveryPointsByResource({client}, {ResourceArn: opts.resourceArn})) {
        for (const p of page.RecoveryPoints ?? []) consider({...p, ResourceArn: opts.resourceArn})
      }
    })
  }
  return best
}

/** A recovery point as `points list` shows it. */
export interface PointInfo {
  recoveryPointArn: string
  resourceArn?: string
  resourceType?: string
  vault?: string
  status?: string
  statusMessage?: string
  creationDate?: Date
  completionDate?: Date
  bytes?: number
  iamRoleArn?: string
  /** Days after creation when AWS deletes it (from the lifecycle). */
  deleteAt?: Date
  storageClass?: string
}

export interface ListPointsOptions {
  vault?: string
  resourceArn?: string
  aws?: AwsOptions
  client?: BackupClient
}

/**
 * Recovery points, newest first: of one vault (optionally one resource), of one resource in every vault, or
 * of every vault in the region. Every page is read.
 */
export async function listRecoveryPoints(opts: ListPointsOptions = {}): Promise<PointInfo[]> {
  const client = opts.client ?? makeAwsClient(BackupClient, opts.aws)
  const out: PointInfo[] = []
  const fromVault = async (vault: string) => {
    await call('ListRecoveryPointsByBackupVault', `vault ${vault}`, async () => {
      for await (const page of paginateListRecoveryPointsByBackupVault({client}, {BackupVaultName: vault, ByResourceArn: opts.resourceArn})) {
        for (const p of page.RecoveryPoints ?? []) {
          if (!p.RecoveryPointArn) continue
          out.push({
            recoveryPointArn: p.RecoveryPointArn,
            resourceArn: p.ResourceArn,
            resourceType: p.ResourceType,
            vault: p.BackupVaultName ?? vault,
            status: p.Status,
            statusMessage: p.StatusMessage,
            creationDate: p.CreationDate,
            completionDate: p.CompletionDate,
            bytes: p.BackupSizeInBytes,
            iamRoleArn: p.IamRoleArn,
            deleteAt: p.CalculatedLifecycle?.DeleteAt,
          })
        }
      }
    })
  }
  if (opts.vault) {
    await fromVault(opts.vault)
  } else if (opts.resourceArn) {
    const resourceArn = opts.resourceArn
    await call('ListRecoveryPointsByResource', resourceArn, async () => {
      for await (const page of paginateListRecoveryPointsByResource({client}, {ResourceArn: resourceArn})) {
        for (const p of page.RecoveryPoints ?? []) {
          if (!p.RecoveryPointArn) continue
          out.push({
            recoveryPointArn: p.RecoveryPointArn,
            resourceArn,
            vault: p.BackupVaultName,
            status: p.Status,
            statusMessage: p.StatusMessage,
            creationDate: p.CreationDate,
            bytes: p.BackupSizeBytes,
          })
        }
      }
    })
  } else {
    const vaults = await call('ListBackupVaults', undefined, async () => {
      const names: string[] = []
      for await (const page of paginateListBackupVaults({client}, {})) for (const v of page.BackupVaultList ?? []) if (v.BackupVaultName) names.push(v.BackupVaultName)
      return names
    })
    for (const v of vaults) await fromVault(v)
  }
  out.sort((a, b) => (b.creationDate?.getTime() ?? 0) - (a.creationDate?.getTime() ?? 0))
  return out
}

/** What DescribeRecoveryPoint says about a point, and the vault it is in. */
export interface FoundPoint {
  recoveryPointArn: string
  vault: string
  resourceArn?: string
  resourceType?: string
  iamRoleArn?: string
  status?: string
  creationDate?: Date
}

/**
 * Finds the vault holding a recovery point (DescribeRecoveryPoint needs the vault name, which the ARN does not
 * carry): the given vault, or every vault in the region in turn.
 */
export async function findRecoveryPoint(arn: string, opts: {vault?: string; client?: BackupClient; aws?: AwsOptions} = {}): Promise<FoundPoint> {
  const client = opts.client ?? makeAwsClient(BackupClient, opts.aws)
  const describe = async (vault: string): Promise<FoundPoint> => {
    const p = await call('DescribeRecoveryPoint', `recovery point ${arn} in vault ${vault}`, () =>
      client.send(new DescribeRecoveryPointCommand({BackupVaultName: vault, RecoveryPointArn: arn})),
    )
    return {
      recoveryPointArn: arn,
      vault: p.BackupVaultName ?? vault,
      resourceArn: p.ResourceArn,
      resourceType: p.ResourceType,
      iamRoleArn: p.IamRoleArn,
      status: p.Status,
      creationDate: p.CreationDate,
    }
  }
  if (opts.vault) return describe(opts.vault)
  const vaults = await call('ListBackupVaults', undefined, async () => {
    const names: string[] = []
    for await (const page of paginateListBackupVaults({client}, {})) for (const v of page.BackupVaultList ?? []) if (v.BackupVaultName) names.push(v.BackupVaultName)
    return names
  })
  for (const v of vaults) {
    try {
      return await describe(v)
    } catch (error) {
      if (isNotFound(error)) continue
      throw error
    }
  }
  throw new LifeboatError(`recovery point ${arn} is in none of the ${vaults.length} vaults of this region`, {
    code: 'AWS_NOT_FOUND',
    hint: 'check the ARN and --region, or name the vault with --vault',
  })
}

/** The RPO verdict for `points latest --max-age` and readiness checks. */
export interface RpoCheck {
  ok: boolean
  /** none: no completed point; stale: older than maxAgeSeconds. */
  reason?: 'none' | 'stale'
  latest?: LatestPoint
  maxAgeSeconds?: number
}

export function checkRpo(latest: LatestPoint | undefined, maxAgeSeconds?: number): RpoCheck {
  if (!latest) return {ok: false, reason: 'none', maxAgeSeconds}
  if (maxAgeSeconds !== undefined && latest.ageSeconds > maxAgeSeconds) return {ok: false, reason: 'stale', latest, maxAgeSeconds}
  return {ok: true, latest, maxAgeSeconds}
}
