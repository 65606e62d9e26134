import {Flags} from '@oclif/core'

import {AwsBackupCommand, describeJobProgress, waitFlags} from '../../../cli/aws-backup.js'
import {type JobStatus, type StartedJob, startCopyJob} from '../../../awsbackup/jobs.js'

export default class CopyStart extends AwsBackupCommand<typeof CopyStart> {
  static override description = `Copy a recovery point to another vault (another region or account) with StartCopyJob.
The source vault is found when --vault is not given; the role defaults to the one that created the point. The idempotency token is derived from the request and the hour.`
  static override examples = [
    '<%= config.bin %> aws-backup copy start --point arn:aws:backup:us-east-1:123456789012:recovery-point:… --to-vault-arn arn:aws:backup:us-west-2:123456789012:backup-vault:shop-dr-vault --wait',
  ]
  static override flags = {
    point: Flags.string({description: 'Recovery point ARN.', required: true}),
    'to-vault-arn': Flags.string({description: 'Destination vault ARN.', required: true}),
    vault: Flags.string({description: 'Source vault (default: searched).'}),
    role: Flags.string({description: 'IAM role (default: the role that created the point).'}),
    'delete-after-days': Flags.integer({description: 'Lifecycle of the copy: delete after N days.', min: 1}),
    'cold-after-days': Flags.integer({description: 'Lifecycle of the copy: cold storage after N days.', min: 1}),
    token: Flags.string({description: 'Explicit idempotency token.'}),
    ...waitFlags,
  }

  async run(): Promise<{job: StartedJob; final?: JobStatus}> {
    const f = this.flags
    const job = await startCopyJob({
      aws: await this.awsOptions(),
      recoveryPointArn: f.point,
      destinationVaultArn: f['to-vault-arn'],
      vault: f.vault,
      iamRoleArn: f.role,
      deleteAfterDays: f['delete-after-days'],
      moveToColdStorageAfterDays: f['cold-after-days'],
      token: f.token,
    })
    if (!this.jsonEnabled()) this.log(`started copy job ${job.id} (from vault ${job.sourceVault} to ${f['to-vault-arn']})`)
    if (!f.wait) {
      this.followHint('copy', job.id)
      return {job}
    }
    const final = await this.maybeWait('copy', job.id)
    if (!this.jsonEnabled() && final) this.log(`copy job ${job.id}: ${describeJobProgress(final)}${final.destinationRecoveryPointArn ? ` → ${final.destinationRecoveryPointArn}` : ''}`)
    return {job, final}
  }
}
