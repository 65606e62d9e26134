import {S3Command, s3Flags} from '../../../cli/s3-command.js'
import {readVersioning, type VersioningState} from '../../../s3/versioning.js'

export default class S3VersioningStatus extends S3Command<typeof S3VersioningStatus> {
  static override description = 'Show whether a bucket keeps old versions of objects (Enabled, Suspended or Unversioned).'
  static override examples = ['<%= config.bin %> s3 versioning status --bucket my-backups']
  static override flags = {...s3Flags}

  async run(): Promise<VersioningState> {
    const v = await readVersioning(await this.s3(), this.bucket)
    this.printLines([`bucket ${v.bucket}: versioning ${v.status}${v.mfaDelete ? `, MFA delete ${v.mfaDelete}` : ''}`])
    return v
  }
}
