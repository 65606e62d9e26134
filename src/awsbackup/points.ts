import {BackupClient, paginateListRecoveryPointsByBackupVault, paginateListRecoveryPointsByResource} from '@aws-sdk/client-backup'

import {type AwsOptions, makeAwsClient} from '../aws/clients.js'

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
    for await (const page of paginateListRecoveryPointsByBackupVault({client}, {BackupVaultName: opts.vault, ByResourceArn: opts.resourceArn})) {
      for (const p of page.RecoveryPoints ?? []) consider({...p, BackupVaultName: p.BackupVaultName ?? opts.vault})
    }
  } else {
    for await (const page of paginateListRecoveryPointsByResource({client}, {ResourceArn: opts.resourceArn})) {
      for (const p of page.RecoveryPoints ?? []) consider({...p, ResourceArn: opts.resourceArn})
    }
  }
  return best
}
