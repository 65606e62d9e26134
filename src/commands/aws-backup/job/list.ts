import {Flags} from '@oclif/core'

import {AwsBackupCommand, isoTime} from '../../../cli/aws-backup.js'
import {table} from '../../../cli/format.js'
import {type JobKind, type JobStatus, listJobs} from '../../../awsbackup/jobs.js'
import {parseDurationSeconds} from '../../../awsbackup/util.js'
import {formatBytes} from '../../../progress.js'

export const jobTypeFlag = Flags.string({description: 'Kind of job.', options: ['backup', 'restore', 'copy'], default: 'backup'})

export default class JobList extends AwsBackupCommand<typeof JobList> {
  static override description = 'List backup jobs (AWS keeps about 30 days), newest first, every page. --type restore|copy lists those jobs instead.'
  static override examples = ['<%= config.bin %> aws-backup job list --state FAILED --since 1d', '<%= config.bin %> aws-backup job list --resource arn:aws:rds:us-east-1:123456789012:db:shop --json']
  static override flags = {
    type: jobTypeFlag,
    state: Flags.string({
      description: 'Only jobs in this state.',
      options: ['CREATED', 'PENDING', 'RUNNING', 'ABORTING', 'ABORTED', 'COMPLETED', 'FAILED', 'EXPIRED', 'PARTIAL'],
    }),
    resource: Flags.string({description: 'Only jobs of this resource ARN (backup, copy).'}),
    vault: Flags.string({description: 'Only jobs into this vault (backup).'}),
    since: Flags.string({description: 'Only jobs created within this long, e.g. 1d, 12h.'}),
    limit: Flags.integer({description: 'At most this many jobs.', min: 1}),
  }

  async run(): Promise<{jobs: JobStatus[]}> {
    const f = this.flags
    const since = f.since === undefined ? undefined : new Date(Date.now() - parseDurationSeconds(f.since, '--since') * 1000)
    const jobs = await listJobs(f.type as JobKind, {aws: await this.awsOptions(), state: f.state, resourceArn: f.resource, vault: f.vault, createdAfter: since, limit: f.limit})
    if (!this.jsonEnabled()) renderJobs(this, jobs)
    return {jobs}
  }
}

export function renderJobs(cmd: {log: (s: string) => void}, jobs: JobStatus[]): void {
  cmd.log(
    table(
      ['Job', 'State', 'Created', 'Resource', 'Size', 'Message'],
      jobs.map((j) => [j.id, j.state + (j.percentDone !== undefined && j.state === 'RUNNING' ? ` ${j.percentDone}%` : ''), isoTime(j.creationDate), j.resourceArn, j.bytes ? formatBytes(j.bytes) : '', j.statusMessage]),
    ),
  )
  cmd.log(`${jobs.length} job${jobs.length === 1 ? '' : 's'}`)
}
