import {S3Command, s3Flags} from '../../../cli/s3-command.js'
import {readObjectLock, type ObjectLockState} from '../../../s3/object-lock.js'

export default class S3ObjectLockShow extends S3Command<typeof S3ObjectLockShow> {
  static override description = 'Show whether a bucket has object lock and its default retention.'
  static override examples = ['<%= config.bin %> s3 object-lock show --bucket my-backups']
  static override flags = {...s3Flags}

  async run(): Promise<ObjectLockState> {
    const s = await readObjectLock(await this.s3(), this.bucket)
    this.printLines([describeLock(s)])
    return s
  }
}

export function describeLock(s: ObjectLockState): string {
  if (!s.enabled) return `bucket ${s.bucket}: object lock is not enabled`
  const r = s.defaultRetention
  if (!r) return `bucket ${s.bucket}: object lock enabled, no default retention`
  return `bucket ${s.bucket}: object lock enabled, default retention ${r.mode} ${r.days === undefined ? `${r.years} year(s)` : `${r.days} day(s)`}`
}
