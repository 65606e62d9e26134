import {
  CreateBackupVaultCommand,
  DescribeBackupVaultCommand,
  paginateListBackupVaults,
  PutBackupVaultLockConfigurationCommand,
} from '@aws-sdk/client-backup'

import {UsageError} from '../errors.js'
import {type BackupClientOptions, backupClient, call} from './aws.js'

export interface VaultInfo {
  name: string
  arn?: string
  type?: string
  state?: string
  creationDate?: Date
  encryptionKeyArn?: string
  recoveryPoints?: number
  locked?: boolean
  minRetentionDays?: number
  maxRetentionDays?: number
  lockDate?: Date
}

function toVault(v: {
  BackupVaultName?: string
  BackupVaultArn?: string
  VaultType?: string
  VaultState?: string
  CreationDate?: Date
  EncryptionKeyArn?: string
  NumberOfRecoveryPoints?: number
  Locked?: boolean
  MinRetentionDays?: number
  MaxRetentionDays?: number
  LockDate?: Date
}): VaultInfo {
  return {
    name: v.BackupVaultName ?? '',
    arn: v.BackupVaultArn,
    type: v.VaultType,
    state: v.VaultState,
    creationDate: v.CreationDate,
    encryptionKeyArn: v.EncryptionKeyArn,
    recoveryPoints: v.NumberOfRecoveryPoints,
    locked: v.Locked,
    minRetentionDays: v.MinRetentionDays,
    maxRetentionDays: v.MaxRetentionDays,
    lockDate: v.LockDate,
  }
}

export async function listVaults(opts: BackupClientOptions = {}): Promise<VaultInfo[]> {
  const client = backupClient(opts)
  return call('ListBackupVaults', undefined, async () => {
    const out: VaultInfo[] = []
    for await (const page of paginateListBackupVaults({client}, {})) for (const v of page.BackupVaultList ?? []) out.push(toVault(v))
    return out
  })
}

export async function describeVault(name: string, opts: BackupClientOptions = {}): Promise<VaultInfo> {
  const client = backupClient(opts)
  const out = await call('DescribeBackupVault', `vault ${name}`, () => client.send(new DescribeBackupVaultCommand({BackupVaultName: name})))
  return toVault(out)
}

export interface CreateVaultOptions extends BackupClientOptions {
  encryptionKeyArn?: string
  tags?: Record<string, string>
}

export async function createVault(name: string, opts: CreateVaultOptions = {}): Promise<VaultInfo> {
  if (!/^[A-Za-z0-9_-]{2,50}$/.test(name)) throw new UsageError(`"${name}" is not a valid vault name (2–50 letters, digits, "-", "_")`)
  const client = backupClient(opts)
  const out = await call('CreateBackupVault', `vault ${name}`, () =>
    client.send(
      new CreateBackupVaultCommand({
        BackupVaultName: name,
        EncryptionKeyArn: opts.encryptionKeyArn,
        BackupVaultTags: opts.tags && Object.keys(opts.tags).length > 0 ? opts.tags : undefined,
      }),
    ),
  )
  return {name: out.BackupVaultName ?? name, arn: out.BackupVaultArn, creationDate: out.CreationDate, encryptionKeyArn: opts.encryptionKeyArn}
}

export interface LockPlan {
  vault: string
  minRetentionDays?: number
  maxRetentionDays?: number
  /** Set: compliance mode, which becomes immutable after this many days. Unset: governance mode. */
  changeableForDays?: number
  mode: 'governance' | 'compliance'
  /** What the lock means, in words (shown before confirming). */
  description: string[]
  current: VaultInfo
}

export interface LockOptions {
  minRetentionDays?: number
  maxRetentionDays?: number
  changeableForDays?: number
}

/** Checks the lock settings against AWS's limits and describes what the lock will do. */
export async function planVaultLock(name: string, o: LockOptions, opts: BackupClientOptions = {}): Promise<LockPlan> {
  if (o.minRetentionDays === undefined && o.maxRetentionDays === undefined) {
    throw new UsageError('a vault lock needs --min-retention-days and/or --max-retention-days')
  }
  if (o.minRetentionDays !== undefined && o.minRetentionDays < 1) throw new UsageError('--min-retention-days must be at least 1')
  if (o.maxRetentionDays !== undefined && o.maxRetentionDays > 36_500) throw new UsageError('--max-retention-days must be at most 36500 (100 years)')
  if (o.minRetentionDays !== undefined && o.maxRetentionDays !== undefined && o.maxRetentionDays < o.minRetentionDays) {
    throw new UsageError('--max-retention-days must not be less than --min-retention-days')
  }
  if (o.changeableForDays !== undefined && o.changeableForDays < 3) {
    throw new UsageError('--changeable-for-days must be at least 3 (AWS\'s grace time before a compliance lock becomes permanent)')
  }
  const current = await describeVault(name, opts)
  const mode = o.changeableForDays === undefined ? 'governance' : 'compliance'
  const description = [
    `lock vault ${name}${current.locked ? ' (it is already locked: the settings are replaced)' : ''}`,
    o.minRetentionDays === undefined ? 'no minimum retention' : `recovery points cannot be deleted before they are ${o.minRetentionDays} days old`,
    o.maxRetentionDays === undefined ? 'no maximum retention' : `new recovery points must have a lifecycle of at most ${o.maxRetentionDays} days`,
    'backup and copy jobs whose lifecycle is outside these limits will fail',
    mode === 'governance'
      ? 'governance mode: users with backup:DeleteBackupVaultLockConfiguration can still remove the lock'
      : `COMPLIANCE MODE: after ${o.changeableForDays} days the lock becomes IMMUTABLE — nobody, not even the root user or AWS, can remove it or delete the vault while it holds recovery points`,
  ]
  return {vault: name, ...o, mode, description, current}
}

export async function applyVaultLock(plan: LockPlan, opts: BackupClientOptions = {}): Promise<{vault: string; mode: string; minRetentionDays?: number; maxRetentionDays?: number; changeableForDays?: number}> {
  const client = backupClient(opts)
  await call('PutBackupVaultLockConfiguration', `vault ${plan.vault}`, () =>
    client.send(
      new PutBackupVaultLockConfigurationCommand({
        BackupVaultName: plan.vault,
        MinRetentionDays: plan.minRetentionDays,
        MaxRetentionDays: plan.maxRetentionDays,
        ChangeableForDays: plan.changeableForDays,
      }),
    ),
  )
  return {vault: plan.vault, mode: plan.mode, minRetentionDays: plan.minRetentionDays, maxRetentionDays: plan.maxRetentionDays, changeableForDays: plan.changeableForDays}
}
