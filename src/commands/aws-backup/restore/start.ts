import {Flags} from '@oclif/core'

import {AwsBackupCommand, describeJobProgress, waitFlags} from '../../../cli/aws-backup.js'
import {type JobStatus, type StartedJob, startRestoreJob} from '../../../awsbackup/jobs.js'
import {parseKeyValues} from '../../../awsbackup/util.js'

export default class RestoreStart extends AwsBackupCommand<typeof RestoreStart> {
  static override description = `Restore a recovery point (StartRestoreJob) with the metadata AWS recorded for it (GetRecoveryPointRestoreMetadata), overridden by --metadata.
The role defaults to the one that created the point; the vault is found when --vault is not given. The idempotency token is derived from the request and the hour (a retry does not start a second restore).`
  static override examples = [
    '<%= config.bin %> aws-backup restore start --point arn:aws:backup:us-east-1:123456789012:recovery-point:… --metadata DBInstanceIdentifier=shop-restored --wait',
  ]
  static override flags = {
    point: Flags.string({description: 'Recovery point ARN.', required: true}),
    vault: Flags.string({description: 'Vault holding the point (default: searched).'}),
    metadata: Flags.string({description: 'Restore metadata override KEY=VALUE (repeatable).', multiple: true}),
    unset: Flags.string({description: 'Remove this key from the recorded metadata (repeatable).', multiple: true}),
    role: Flags.string({description: 'IAM role for the restore (default: the role that created the point).'}),
    'copy-tags': Flags.boolean({description: 'Copy the source resource\'s tags to the restored one.'}),
    token: Flags.string({description: 'Explicit idempotency token.'}),
    ...waitFlags,
  }

  async run(): Promise<{job: StartedJob; final?: JobStatus}> {
    const f = this.flags
    const job = await startRestoreJob({
      aws: await this.awsOptions(),
      recoveryPointArn: f.point,
      vault: f.vault,
      metadata: parseKeyValues(f.metadata, '--metadata'),
      unsetMetadata: f.unset,
      iamRoleArn: f.role,
      copySourceTags: f['copy-tags'] || undefined,
      token: f.token,
    })
    if (!this.jsonEnabled()) {
      this.log(`started restore job ${job.id} (${job.resourceType ?? 'resource'} from vault ${job.sourceVault})`)
      for (const [k, v] of Object.entries(job.metadata ?? {})) this.log(`  ${k} = ${v}`)
    }
    if (!f.wait) {
      this.followHint('restore', job.id)
      return {job}
    }
    const final = await this.maybeWait('restore', job.id)
    if (!this.jsonEnabled() && final) this.log(`restore job ${job.id}: ${describeJobProgress(final)}${final.createdResourceArn ? ` → ${final.createdResourceArn}` : ''}`)
    return {job, final}
  }
}
