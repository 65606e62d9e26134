import {Flags} from '@oclif/core'

import {AwsBackupCommand} from '../../../cli/aws-backup.js'
import {type JobStatus, listJobs} from '../../../awsbackup/jobs.js'
import {parseDurationSeconds} from '../../../awsbackup/util.js'
import {renderJobs} from '../job/list.js'

export default class RestoreList extends AwsBackupCommand<typeof RestoreList> {
  static override description = 'List restore jobs, newest first (every page).'
  static override examples = ['<%= config.bin %> aws-backup restore list --status FAILED', '<%= config.bin %> aws-backup restore list --since 7d --json']
  static override flags = {
    status: Flags.string({description: 'Only jobs with this status.', options: ['PENDING', 'RUNNING', 'COMPLETED', 'ABORTED', 'FAILED']}),
    since: Flags.string({description: 'Only jobs created within this long, e.g. 7d.'}),
    limit: Flags.integer({description: 'At most this many jobs.', min: 1}),
  }

  async run(): Promise<{jobs: JobStatus[]}> {
    const f = this.flags
    const since = f.since === undefined ? undefined : new Date(Date.now() - parseDurationSeconds(f.since, '--since') * 1000)
    const jobs = await listJobs('restore', {aws: await this.awsOptions(), state: f.status, createdAfter: since, limit: f.limit})
    if (!this.jsonEnabled()) renderJobs(this, jobs)
    return {jobs}
  }
}
