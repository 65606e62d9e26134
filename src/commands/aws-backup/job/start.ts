import {Flags} from '@oclif/core'

import {AwsBackupCommand, describeJobProgress, waitFlags} from '../../../cli/aws-backup.js'
import {type JobStatus, type StartedJob, startBackupJob} from '../../../awsbackup/jobs.js'
import {parseKeyValues} from '../../../awsbackup/util.js'
import {jobFlags, jobIO} from '../../../cli/job-flags.js'
import {type JobOutcome, reportJob} from '../../../ops/report.js'

export default class JobStart extends AwsBackupCommand<typeof JobStart> {
  static override description = `Start an on-demand backup job (StartBackupJob) of one resource into a vault.
The idempotency token is derived from the request and the current UTC hour: re-running the same command (a retry) within the hour returns the same job instead of starting a second one. --token sets it explicitly.
With --wait the outcome is reported as the job "aws-backup-job" (notifications, --metrics-file, --log-file, lifeboat status).`
  static override examples = [
    '<%= config.bin %> aws-backup job start --resource arn:aws:rds:us-east-1:123456789012:db:shop --vault shop-vault --role arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole --wait',
  ]
  static override flags = {
    resource: Flags.string({description: 'ARN of the resource to back up.', required: true}),
    vault: Flags.string({description: 'Vault the recovery point goes to.', required: true}),
    role: Flags.string({description: 'IAM role AWS Backup assumes.', required: true}),
    'start-window': Flags.integer({description: 'Minutes the job may wait to start (at least 60).'}),
    'complete-window': Flags.integer({description: 'Minutes the job may take to complete after starting.'}),
    'delete-after-days': Flags.integer({description: 'Lifecycle of the recovery point: delete after N days.', min: 1}),
    'cold-after-days': Flags.integer({description: 'Lifecycle: move to cold storage after N days (delete at least 90 days later).', min: 1}),
    tag: Flags.string({description: 'Recovery point tag KEY=VALUE (repeatable).', multiple: true}),
    token: Flags.string({description: 'Explicit idempotency token (default: derived from the request and the hour).'}),
    ...waitFlags,
    ...jobFlags,
  }

  async run(): Promise<{job: StartedJob; final?: JobStatus}> {
    if (!this.flags.wait) return this.start()
    const {config} = await this.getConfig()
    const io = {...jobIO(this.flags, config, (m) => this.info(m)), aws: await this.awsOptions()}
    return reportJob({job: 'aws-backup-job', resource: this.flags.resource, io}, () => this.start(), (r) => backupJobOutcome(r))
  }

  private async start(): Promise<{job: StartedJob; final?: JobStatus}> {
    const f = this.flags
    const job = await startBackupJob({
      aws: await this.awsOptions(),
      resourceArn: f.resource,
      vault: f.vault,
      iamRoleArn: f.role,
      startWindowMinutes: f['start-window'],
      completeWindowMinutes: f['complete-window'],
      deleteAfterDays: f['delete-after-days'],
      moveToColdStorageAfterDays: f['cold-after-days'],
      recoveryPointTags: parseKeyValues(f.tag, '--tag'),
      token: f.token,
    })
    if (!this.jsonEnabled()) this.log(`started backup job ${job.id}${job.recoveryPointArn ? ` → ${job.recoveryPointArn}` : ''}`)
    if (!f.wait) {
      this.followHint('backup', job.id)
      return {job}
    }
    const final = await this.maybeWait('backup', job.id)
    if (!this.jsonEnabled() && final) this.log(`backup job ${job.id}: ${describeJobProgress(final)}${final.recoveryPointArn ? ` (${final.recoveryPointArn})` : ''}`)
    return {job, final}
  }
}

export function backupJobOutcome(r: {job: StartedJob; final?: JobStatus}): JobOutcome {
  const s = r.final
  const numbers: Record<string, number | string> = {jobId: r.job.id, state: s?.state ?? 'STARTED'}
  if (s?.bytes !== undefined) numbers.backupSizeBytes = s.bytes
  const point = s?.recoveryPointArn ?? r.job.recoveryPointArn
  if (point) numbers.recoveryPoint = point
  const partial = s?.state === 'PARTIAL'
  return {
    state: partial ? 'warning' : 'success',
    summary: `backup job ${r.job.id} ${s ? describeJobProgress(s) : 'started'}${point ? ` → ${point}` : ''}`,
    numbers,
    bytes: s?.bytes,
    action: partial ? `Some parts were not backed up: see \`lifeboat aws-backup job show ${r.job.id}\` and start the job again.` : undefined,
  }
}
