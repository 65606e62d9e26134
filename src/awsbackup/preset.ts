import {UsageError} from '../errors.js'
import {type PlanFile, planFileSchema} from './plan.js'

export const PRESETS = ['hourly'] as const
export type PresetName = (typeof PRESETS)[number]

export interface PresetOptions {
  preset: PresetName
  /** Plan name (default lifeboat-<preset>). */
  name?: string
  resources: string[]
  vault: string
  /** Copy each recovery point to a vault in this region (same account as the resources). */
  copyToRegion?: string
  copyVault?: string
  /** Days to keep recovery points (and copies). Default 35. */
  keepDays?: number
  /** The role AWS Backup assumes (default: the account's AWSBackupDefaultServiceRole). */
  role?: string
  selectionName?: string
  timezone?: string
}

/** ARN parts: arn:PARTITION:SERVICE:REGION:ACCOUNT:… */
function arnParts(arn: string): {partition: string; account: string} | undefined {
  const m = /^arn:(aws[a-z-]*):[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/.exec(arn)
  return m ? {partition: m[1], account: m[2]} : undefined
}

/**
 * Builds the same model a plan file gives, from flags. The hourly preset: every hour on the hour (UTC),
 * start within 60 minutes, complete within 180, keep --keep-days (35), optionally copied to another region.
 */
export function presetPlan(o: PresetOptions): PlanFile {
  if (o.resources.length === 0) throw new UsageError('--preset needs at least one --resource ARN')
  const parts = o.resources.map((r) => arnParts(r)).find(Boolean)
  if ((o.copyToRegion === undefined) !== (o.copyVault === undefined)) {
    throw new UsageError('--copy-to-region and --copy-vault go together', {hint: 'pass both to copy every recovery point to a vault in another region'})
  }
  if (!o.role && !parts) throw new UsageError('cannot tell the account from the resource ARNs: pass --role ARN')
  if (o.copyToRegion && !parts) throw new UsageError('cannot tell the account from the resource ARNs for the copy vault ARN')
  const keep = o.keepDays ?? 35
  const lifecycle = {deleteAfterDays: keep}
  const role = o.role ?? `arn:${parts!.partition}:iam::${parts!.account}:role/service-role/AWSBackupDefaultServiceRole`
  const name = o.name ?? `lifeboat-${o.preset}`
  const plan = {
    name,
    rules: [
      {
        name: o.preset,
        vault: o.vault,
        schedule: 'cron(0 * ? * * *)',
        timezone: o.timezone ?? 'UTC',
        startWindowMinutes: 60,
        completionWindowMinutes: 180,
        lifecycle,
        ...(o.copyToRegion
          ? {copyTo: [{vaultArn: `arn:${parts!.partition}:backup:${o.copyToRegion}:${parts!.account}:backup-vault:${o.copyVault}`, lifecycle: {...lifecycle}}]}
          : {}),
      },
    ],
    selections: [{name: o.selectionName ?? name, iamRoleArn: role, resources: o.resources}],
  }
  // The same checks a file gets (vault names, ARNs, windows), reported against the flags.
  const parsed = planFileSchema.safeParse(plan)
  if (!parsed.success) {
    const msgs = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    throw new UsageError(`the preset's plan is invalid: ${msgs.join('; ')}`, {hint: 'check --vault, --resource, --role, --copy-to-region and --copy-vault'})
  }
  return parsed.data
}
