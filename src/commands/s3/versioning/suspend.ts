import {VersioningChangeCommand, type VersioningResult} from './enable.js'

export default class S3VersioningSuspend extends VersioningChangeCommand {
  static override description = `Suspend versioning on a bucket: from now on an overwrite or delete replaces the object without keeping the old version (versions kept so far stay). Asks first (or needs --yes), then verifies.`
  static override examples = ['<%= config.bin %> s3 versioning suspend --bucket my-backups --dry-run', '<%= config.bin %> s3 versioning suspend --bucket my-backups --yes']

  async run(): Promise<VersioningResult> {
    return this.change('Suspended', {note: 'overwritten or deleted objects will no longer be kept as old versions (existing versions stay)', confirm: true})
  }
}
