import {Args, Flags} from '@oclif/core'

import {AwsBackupCommand} from '../../../cli/aws-backup.js'
import {diffPlan, type PlanDiff, readPlan} from '../../../awsbackup/plan-apply.js'
import {formatPlanDiff} from '../../../awsbackup/plan-render.js'
import {loadPlanFile, type PlanFile, planWarnings} from '../../../awsbackup/plan.js'
import {PRESETS, presetPlan} from '../../../awsbackup/preset.js'
import {UsageError} from '../../../errors.js'

/** Where a plan comes from: -f FILE, or --preset with its flags (shared by `plan apply` and `plan diff`). */
export const planSourceFlags = {
  file: Flags.string({char: 'f', description: 'Plan file (YAML).', exclusive: ['preset']}),
  preset: Flags.string({description: 'Build the plan from a preset instead of a file.', options: [...PRESETS], helpGroup: 'PRESET'}),
  resource: Flags.string({description: 'Preset: ARN of a resource to back up (repeatable).', multiple: true, dependsOn: ['preset'], helpGroup: 'PRESET'}),
  vault: Flags.string({description: 'Preset: the vault recovery points go to.', dependsOn: ['preset'], helpGroup: 'PRESET'}),
  'copy-to-region': Flags.string({description: 'Preset: copy each recovery point to this region…', dependsOn: ['preset', 'copy-vault'], helpGroup: 'PRESET'}),
  'copy-vault': Flags.string({description: '…into this vault (same account).', dependsOn: ['preset', 'copy-to-region'], helpGroup: 'PRESET'}),
  'keep-days': Flags.integer({description: 'Preset: days to keep recovery points and copies.', default: 35, min: 1, helpGroup: 'PRESET'}),
  role: Flags.string({description: 'Preset: IAM role AWS Backup assumes (default: the account\'s AWSBackupDefaultServiceRole).', dependsOn: ['preset'], helpGroup: 'PRESET'}),
  name: Flags.string({description: 'Preset: plan name (default lifeboat-<preset>).', dependsOn: ['preset'], helpGroup: 'PRESET'}),
  'selection-name': Flags.string({description: 'Preset: selection name (default: the plan name).', dependsOn: ['preset'], helpGroup: 'PRESET'}),
}

export async function resolvePlanSource(f: {
  file?: string
  preset?: string
  resource?: string[]
  vault?: string
  'copy-to-region'?: string
  'copy-vault'?: string
  'keep-days'?: number
  role?: string
  name?: string
  'selection-name'?: string
}): Promise<PlanFile> {
  if (f.file) return loadPlanFile(f.file)
  if (!f.preset) throw new UsageError('say which plan: -f plan.yaml or --preset hourly --resource ARN --vault NAME')
  if (!f.vault) throw new UsageError('--preset needs --vault NAME')
  return presetPlan({
    preset: f.preset as (typeof PRESETS)[number],
    resources: f.resource ?? [],
    vault: f.vault,
    copyToRegion: f['copy-to-region'],
    copyVault: f['copy-vault'],
    keepDays: f['keep-days'],
    role: f.role,
    name: f.name,
    selectionName: f['selection-name'],
  })
}

export default class PlanDiffCommand extends AwsBackupCommand<typeof PlanDiffCommand> {
  static override description = 'Show what `plan apply` would change (the same as apply --dry-run). NAME, when given, must be the plan file\'s name.'
  static override examples = ['<%= config.bin %> aws-backup plan diff -f plan.yaml', '<%= config.bin %> aws-backup plan diff shop-db-hourly -f plan.yaml --json']
  static override args = {name: Args.string({description: 'Plan name (checked against the file).'})}
  static override flags = {...planSourceFlags}

  async run(): Promise<PlanDiff & {warnings: string[]}> {
    const plan = await resolvePlanSource(this.flags)
    if (this.args.name && this.args.name !== plan.name) {
      throw new UsageError(`the plan file describes "${plan.name}", not "${this.args.name}"`)
    }
    const warnings = planWarnings(plan)
    for (const w of warnings) this.addWarning(w)
    const current = await readPlan(plan.name, {aws: await this.awsOptions()})
    const diff = diffPlan(plan, current)
    if (!this.jsonEnabled()) for (const line of formatPlanDiff(diff)) this.log(line)
    return {...diff, warnings}
  }
}
