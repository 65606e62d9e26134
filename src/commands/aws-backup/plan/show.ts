import {Args} from '@oclif/core'

import {AwsBackupCommand, isoTime} from '../../../cli/aws-backup.js'
import {currentToFile, readPlan} from '../../../awsbackup/plan-apply.js'
import {planYaml} from '../../../awsbackup/plan-render.js'
import type {PlanFile} from '../../../awsbackup/plan.js'
import {LifeboatError} from '../../../errors.js'

export default class PlanShow extends AwsBackupCommand<typeof PlanShow> {
  static override description = 'Print a backup plan as a plan file (YAML that `plan apply -f` accepts unchanged), with its id and last run on stderr.'
  static override examples = ['<%= config.bin %> aws-backup plan show shop-db-hourly > plan.yaml', '<%= config.bin %> aws-backup plan show shop-db-hourly --json']
  static override args = {name: Args.string({description: 'Plan name.', required: true})}

  async run(): Promise<{planId: string; planArn?: string; versionId?: string; creationDate?: Date; lastExecutionDate?: Date; plan: PlanFile; selectionIds: Record<string, string>}> {
    const current = await readPlan(this.args.name, {aws: await this.awsOptions()})
    if (!current) throw new LifeboatError(`no backup plan named "${this.args.name}" in this region`, {code: 'AWS_NOT_FOUND', hint: 'check the name and --region'})
    const plan = currentToFile(current)
    for (const [rule, fields] of Object.entries(current.unmanaged)) this.addWarning(`rule "${rule}" has settings Lifeboat does not manage: ${Object.keys(fields).join(', ')}`)
    if (!this.jsonEnabled()) {
      this.info(`# plan ${current.id}, version ${current.versionId ?? '?'}, created ${isoTime(current.creationDate)}, last run ${isoTime(current.lastExecutionDate) || 'never'}`)
      this.log(planYaml(plan).trimEnd())
    }
    return {
      planId: current.id,
      planArn: current.arn,
      versionId: current.versionId,
      creationDate: current.creationDate,
      lastExecutionDate: current.lastExecutionDate,
      plan,
      selectionIds: Object.fromEntries(current.selections.map((s) => [s.name, s.selectionId])),
    }
  }
}
