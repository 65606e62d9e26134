import {Flags} from '@oclif/core'

import {confirmTypedName, dryRunFlag, S3Command, s3Flags} from '../../../cli/s3-command.js'
import {applyObjectLock, planObjectLock, readObjectLock, type LockMode, type ObjectLockPlan} from '../../../s3/object-lock.js'
import {describeLock} from './show.js'

export default class S3ObjectLockSet extends S3Command<typeof S3ObjectLockSet> {
  static override description = `Set a bucket's default object-lock retention: every new object version cannot be deleted or overwritten for N days.
GOVERNANCE can be bypassed by principals allowed s3:BypassGovernanceRetention. COMPLIANCE cannot be bypassed or shortened by anyone (root included): it needs the bucket's name typed, or --confirm BUCKET (--yes is not enough). Turning object lock on can never be undone. Versioning must be Enabled.`
  static override examples = [
    '<%= config.bin %> s3 object-lock set --bucket my-backups --mode GOVERNANCE --days 30 --yes',
    '<%= config.bin %> s3 object-lock set --bucket my-backups --mode COMPLIANCE --days 30 --confirm my-backups',
  ]
  static override flags = {
    ...s3Flags,
    mode: Flags.string({description: 'Retention mode.', options: ['GOVERNANCE', 'COMPLIANCE'], required: true}),
    days: Flags.integer({description: 'Default retention in days (1–36500).', required: true, min: 1, max: 36_500}),
    confirm: Flags.string({description: 'The bucket\'s name: confirms the change in scripts (COMPLIANCE needs it; --yes is enough for GOVERNANCE).'}),
    ...dryRunFlag,
  }

  async run(): Promise<ObjectLockPlan & {dryRun: boolean; applied: {written: boolean; verifyReads: number} | null}> {
    const f = this.flags
    const client = await this.s3()
    const bucket = this.bucket
    const dryRun = f['dry-run']
    const plan = planObjectLock(await readObjectLock(client, bucket), {mode: f.mode as LockMode, days: f.days})
    this.printLines([`now:   ${describeLock(plan.before)}`, `wanted: default retention ${plan.after.mode} ${plan.after.days} day(s)`])
    if (!plan.changed) {
      this.printLines(['no changes: the bucket already has this retention'])
      return {...plan, dryRun, applied: {written: false, verifyReads: 0}}
    }
    if (plan.enablesLock) this.addWarning(`IRREVERSIBLE: object lock cannot be turned off for bucket ${bucket} once enabled`)
    if (plan.compliance) {
      this.addWarning(
        `IRREVERSIBLE: COMPLIANCE mode — every object version written to ${bucket} from now on cannot be deleted, overwritten or have its retention shortened by anyone, including the root account, for ${plan.after.days} days (storage is billed all that time)`,
      )
    }
    if (dryRun) {
      this.info('dry run: nothing was changed')
      return {...plan, dryRun, applied: null}
    }
    if (plan.compliance || f.confirm !== undefined) await confirmTypedName(this.prompts, {name: bucket, action: `set ${plan.after.mode} retention of ${plan.after.days} days on bucket ${bucket}`, confirm: f.confirm})
    else await this.confirmChange(`Set ${plan.after.mode} retention of ${plan.after.days} days on bucket ${bucket}?`)
    const applied = await applyObjectLock(client, plan, this.applyOptions)
    this.printLines([`default retention ${plan.after.mode} ${plan.after.days} day(s) set on ${bucket} (verified)`])
    return {...plan, dryRun, applied}
  }
}
