import {dryRunFlag, S3Command, s3Flags} from '../../../cli/s3-command.js'
import {planVersioning, readVersioning, setVersioning, type VersioningChange} from '../../../s3/versioning.js'

export default class S3VersioningSuspend extends S3Command<typeof S3VersioningSuspend> {
  static override description = `Suspend versioning on a bucket: from now on an overwrite or delete replaces the object without keeping the old version (versions kept so far stay). Asks first (or needs --yes), then verifies.`
  static override examples = ['<%= config.bin %> s3 versioning suspend --bucket my-backups --dry-run', '<%= config.bin %> s3 versioning suspend --bucket my-backups --yes']
  static override flags = {...s3Flags, ...dryRunFlag}

  async run(): Promise<VersioningChange & {dryRun: boolean}> {
    const client = await this.s3()
    const bucket = this.bucket
    const dryRun = this.flags['dry-run']
    const plan = planVersioning(await readVersioning(client, bucket), 'Suspended')
    if (!plan.changed) {
      this.printLines([`bucket ${bucket}: versioning is already Suspended; nothing to do`])
      return {bucket, ...plan, verifyReads: 0, dryRun}
    }
    this.printLines([
      `bucket ${bucket}: versioning ${plan.before} → Suspended`,
      '  overwritten or deleted objects will no longer be kept as old versions (existing versions stay)',
    ])
    if (dryRun) {
      this.info('dry run: nothing was changed')
      return {bucket, ...plan, verifyReads: 0, dryRun}
    }
    await this.confirmChange(`Suspend versioning on bucket ${bucket}?`)
    const r = await setVersioning(client, bucket, 'Suspended', this.applyOptions)
    this.printLines([`versioning Suspended on ${bucket} (verified)`])
    return {...r, dryRun}
  }
}
