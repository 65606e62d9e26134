import {Flags} from '@oclif/core'

import {AwsBackupCommand} from '../../../cli/aws-backup.js'
import {type ApplyResult, applyPlan} from '../../../awsbackup/plan-apply.js'
import {formatPlanDiff} from '../../../awsbackup/plan-render.js'
import {planSourceFlags, resolvePlanSource} from './diff.js'

export default class PlanApply extends AwsBackupCommand<typeof PlanApply> {
  static override description = `Create or update a backup plan and its selections from a YAML file (or a preset), printing the diff first.
Idempotent: re-applying the same file changes nothing. Rules are updated in place (UpdateBackupPlan); a changed selection is deleted and created again (AWS cannot update one). --dry-run only prints the diff.`
  static override examples = [
    '<%= config.bin %> aws-backup plan apply -f plan.yaml --dry-run',
    '<%= config.bin %> aws-backup plan apply -f plan.yaml --json',
    '<%= config.bin %> aws-backup plan apply --preset hourly --resource arn:aws:rds:us-east-1:123456789012:db:shop --vault shop-vault --copy-to-region us-west-2 --copy-vault shop-dr-vault --keep-days 35',
  ]
  static override flags = {
    ...planSourceFlags,
    'dry-run': Flags.boolean({char: 'n', description: 'Only print the diff; write nothing.'}),
  }

  async run(): Promise<ApplyResult> {
    const plan = await resolvePlanSource(this.flags)
    const result = await applyPlan(plan, {
      aws: await this.awsOptions(),
      dryRun: this.flags['dry-run'],
      onAction: (a) => this.info(`… ${a}`),
    })
    for (const w of result.warnings) this.addWarning(w)
    if (!this.jsonEnabled()) {
      for (const line of formatPlanDiff(result.diff)) this.log(line)
      if (!result.diff.changed) this.log(`plan ${plan.name} is up to date`)
      else if (result.dryRun) this.log('dry run: nothing was changed')
      else this.log(`applied plan ${plan.name} (${result.planId}${result.versionId ? `, version ${result.versionId}` : ''})`)
    }
    return result
  }
}
