import {S3Command, s3Flags} from '../../../cli/s3-command.js'
import {readReplication, type ReplicationRuleView} from '../../../s3/replication.js'

export default class S3ReplicationShow extends S3Command<typeof S3ReplicationShow> {
  static override description = 'Show the replication rules of a bucket (where new objects are copied to).'
  static override examples = ['<%= config.bin %> s3 replication show --bucket my-backups']
  static override flags = {...s3Flags}

  async run(): Promise<{bucket: string; configured: boolean; role?: string; rules: ReplicationRuleView[]}> {
    const r = await readReplication(await this.s3(), this.bucket)
    if (!this.jsonEnabled()) {
      if (!r.configured) this.log(`bucket ${r.bucket} has no replication`)
      else {
        this.log(`replication of bucket ${r.bucket} (role ${r.role}):`)
        for (const v of r.rules) for (const l of replicationRuleLines(v)) this.log(l)
      }
    }
    return {bucket: r.bucket, configured: r.configured, role: r.role, rules: r.rules}
  }
}

export function replicationRuleLines(v: ReplicationRuleView): string[] {
  const what = [v.prefix ? `prefix ${v.prefix}` : 'every object', ...Object.entries(v.tags ?? {}).map(([k, x]) => `tag ${k}=${x}`)].join(' and ')
  const lines = [
    `  ${v.id} (${v.status === 'Enabled' ? 'enabled' : 'DISABLED'}${v.priority === undefined ? '' : `, priority ${v.priority}`})`,
    `      ${what} → s3://${v.destinationBucket}${v.storageClass ? ` as ${v.storageClass}` : ''}${v.account ? ` (account ${v.account})` : ''}`,
    `      delete markers ${v.deleteMarkerReplication ? 'replicated' : 'not replicated'}`,
  ]
  if (v.other) lines.push(`      also: ${v.other.join(', ')}`)
  return lines
}
