import {Flags} from '@oclif/core'

import {AwsBackupCommand} from '../../../cli/aws-backup.js'
import {type JobStatus, listJobs} from '../../../awsbackup/jobs.js'
import {parseDurationSeconds} from '../../../awsbackup/util.js'
import {renderJobs} from '../job/list.js'

export default class CopyList extends AwsBackupCommand<typeof CopyList> {
  static override description = 'List copy jobs, newest first (every page).'
  static override examples = ['<%= config.bin %> aws-backup copy list --state FAILED']
  static override flags = {
    state: Flags.string({description: 'Only jobs in this state.', options: ['CREATED', 'RUNNING', 'COMPLETED', 'FAILED', 'PARTIAL']}),
    resource: Flags.string({description: 'Only copies of this resource ARN.'}),
    since: Flags.string({description: 'Only jobs created within this long, e.g. 7d.'}),
    limit: Flags.integer({description: 'At most this many jobs.', min: 1}),
  }

  async run(): Promise<{jobs: JobStatus[]}> {
    const f = this.flags
    const since = f.since === undefined ? undefined : new Date(Date.now() - parseDurationSeconds(f.since, '--since') * 1000)
    const jobs = await listJobs('copy', {aws: await this.awsOptions(), state: f.state, resourceArn: f.resource, createdAfter: since, limit: f.limit})
    if (!this.jsonEnabled()) renderJobs(this, jobs)
    return {jobs}
  }
}
