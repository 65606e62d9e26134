import {dryRunFlag, S3Command, s3Flags} from '../../../cli/s3-command.js'
import {planVersioning, readVersioning, setVersioning, type VersioningChange} from '../../../s3/versioning.js'

export type VersioningResult = VersioningChange & {dryRun: boolean}

/** Shared by enable and suspend: plan, print, --dry-run, confirm (suspend only), write, verify. */
export abstract class VersioningChangeCommand extends S3Command<typeof VersioningChangeCommand> {
  static override flags = {...s3Flags, ...dryRunFlag}

  protected async change(want: 'Enabled' | 'Suspended', o: {note: string; confirm: boolean}): Promise<VersioningResult> {
    const client = await this.s3()
    const bucket = this.bucket
    const dryRun = this.flags['dry-run']
    const plan = planVersioning(await readVersioning(client, bucket), want)
    if (!plan.changed) {
      this.printLines([`bucket ${bucket}: versioning is already ${want}; nothing to do`])
      return {bucket, ...plan, verifyReads: 0, dryRun}
    }
    this.printLines([`bucket ${bucket}: versioning ${plan.before} → ${want}`, `  ${o.note}`])
    if (dryRun) {
      this.info('dry run: nothing was changed')
      return {bucket, ...plan, verifyReads: 0, dryRun}
    }
    if (o.confirm) await this.confirmChange(`${want === 'Enabled' ? 'Enable' : 'Suspend'} versioning on bucket ${bucket}?`)
    const r = await setVersioning(client, bucket, want, this.applyOptions)
    this.printLines([`versioning ${want} on ${bucket} (verified)`])
    return {...r, dryRun}
  }
}

export default class S3VersioningEnable extends VersioningChangeCommand {
  static override description = `Enable versioning on a bucket (overwritten and deleted objects stay as old versions), then verify it reads back Enabled.
A bucket can never return to unversioned: later it can only be suspended. Replication and object lock need it.`
  static override examples = ['<%= config.bin %> s3 versioning enable --bucket my-backups']

  async run(): Promise<VersioningResult> {
    return this.change('Enabled', {note: 'cannot be undone: afterwards versioning can only be suspended', confirm: false})
  }
}
