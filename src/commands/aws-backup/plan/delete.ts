import {Args, Flags} from '@oclif/core'

import {AwsBackupCommand} from '../../../cli/aws-backup.js'
import {confirmByName} from '../../../cli/prompt.js'
import {type DeletePlanResult, deletePlan, readPlan} from '../../../awsbackup/plan-apply.js'
import {LifeboatError} from '../../../errors.js'

export default class PlanDelete extends AwsBackupCommand<typeof PlanDelete> {
  static override description = `Delete a backup plan and its selections (recovery points already made stay in their vaults).
Shows what it will delete, then needs --yes, --confirm NAME or the plan's name typed at the prompt.`
  static override examples = ['<%= config.bin %> aws-backup plan delete shop-db-hourly --dry-run', '<%= config.bin %> aws-backup plan delete shop-db-hourly --confirm shop-db-hourly']
  static override args = {name: Args.string({description: 'Plan name.', required: true})}
  static override flags = {
    'dry-run': Flags.boolean({char: 'n', description: 'Only show what would be deleted.'}),
    confirm: Flags.string({description: 'Confirm by repeating the plan name (for scripts).'}),
  }

  async run(): Promise<DeletePlanResult> {
    const aws = await this.awsOptions()
    const current = await readPlan(this.args.name, {aws})
    if (!current) throw new LifeboatError(`no backup plan named "${this.args.name}" in this region`, {code: 'AWS_NOT_FOUND', hint: 'check the name and --region'})
    const preview = await deletePlan(current, {aws, dryRun: true})
    if (!this.jsonEnabled()) {
      this.log(`plan ${current.name} (${current.id}): rules ${preview.rules.join(', ') || '(none)'}`)
      for (const a of preview.actions) this.log(`  - ${a}`)
      this.log('  recovery points already in the vaults are kept (their lifecycle still applies)')
    }
    if (this.flags['dry-run']) {
      if (!this.jsonEnabled()) this.log('dry run: nothing was deleted')
      return preview
    }
    await confirmByName(this.prompts, {name: current.name, action: `delete backup plan ${current.name} and its ${current.selections.length} selection(s)`, confirm: this.flags.confirm})
    const result = await deletePlan(current, {aws, onAction: (a) => this.info(`… ${a}`)})
    if (!this.jsonEnabled()) this.log(`deleted plan ${current.name}`)
    return result
  }
}
