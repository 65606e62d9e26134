import {Args} from '@oclif/core'

import {AwsBackupCommand, describeJobProgress, isoTime, waitFlags} from '../../../cli/aws-backup.js'
import {describeJob, FAILED_STATES, type JobKind, type JobStatus} from '../../../awsbackup/jobs.js'
import {ExitCode} from '../../../errors.js'
import {jobTypeFlag} from './list.js'

export default class JobShow extends AwsBackupCommand<typeof JobShow> {
  static override description = 'Show one backup, restore or copy job; --wait follows it to the end. Exits 1 when the job FAILED, ABORTED or EXPIRED.'
  static override examples = ['<%= config.bin %> aws-backup job show 6D3B…-…', '<%= config.bin %> aws-backup job show 1A2B… --type restore --wait --timeout 4h']
  static override args = {id: Args.string({description: 'Job id.', required: true})}
  static override flags = {type: jobTypeFlag, ...waitFlags}

  async run(): Promise<{job: JobStatus}> {
    const kind = this.flags.type as JobKind
    const job = this.flags.wait ? await this.maybeWait(kind, this.args.id) : await describeJob(kind, this.args.id, {aws: await this.awsOptions()})
    if (!job) throw new Error('unreachable')
    if (!this.jsonEnabled()) {
      this.log(`${kind} job ${job.id}: ${describeJobProgress(job)}`)
      const rows: Array<[string, string | undefined]> = [
        ['resource', job.resourceArn],
        ['recovery point', job.recoveryPointArn],
        ['copy', job.destinationRecoveryPointArn],
        ['restored as', job.createdResourceArn],
        ['created', isoTime(job.creationDate)],
        ['completed', isoTime(job.completionDate)],
      ]
      for (const [k, v] of rows) if (v) this.log(`  ${k.padEnd(15)} ${v}`)
    }
    if (FAILED_STATES.has(job.state)) this.exitCodeAfterRun = ExitCode.FAILURE
    return {job}
  }
}
