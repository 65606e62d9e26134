import {dryRunFlag, S3Command, s3Flags} from '../../../cli/s3-command.js'
import {planVersioning, readVersioning, setVersioning, type VersioningChange} from '../../../s3/versioning.js'

export default class S3VersioningEnable extends S3Command<typeof S3VersioningEnable> {
  static override description = `Enable versioning on a bucket (overwritten and deleted objects stay as old versions), then verify it reads back Enabled.
A bucket can never return to unversioned: later it can only be suspended. Replication and object lock need it.`
  static override examples = ['<%= config.bin %> s3 versioning enable --bucket my-backups']
  static override flags = {...s3Flags, ...dryRunFlag}

  async run(): Promise<VersioningChange & {dryRun: boolean}> {
    const client = await this.s3()
    const bucket = this.bucket
    const dryRun = this.flags['dry-run']
    const plan = planVersioning(await readVersioning(client, bucket), 'Enabled')
    if (!plan.changed) {
      this.printLines([`bucket ${bucket}: versioning is already Enabled; nothing to do`])
      return {bucket, ...plan, verifyReads: 0, dryRun}
    }
    this.printLines([`bucket ${bucket}: versioning ${plan.before} → Enabled (cannot be undone: afterwards it can only be suspended)`])
    if (dryRun) {
      this.info('dry run: nothing was changed')
      return {bucket, ...plan, verifyReads: 0, dryRun}
    }
    const r = await setVersioning(client, bucket, 'Enabled', this.applyOptions)
    this.printLines([`versioning Enabled on ${bucket} (verified)`])
    return {...r, dryRun}
  }
}
