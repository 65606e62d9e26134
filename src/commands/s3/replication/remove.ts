import {dryRunFlag, S3Command, s3Flags} from '../../../cli/s3-command.js'
import {readReplication, removeReplication, type ReplicationRuleView} from '../../../s3/replication.js'
import {replicationRuleLines} from './show.js'

export default class S3ReplicationRemove extends S3Command<typeof S3ReplicationRemove> {
  static override description = 'Delete the whole replication configuration of a bucket (DeleteBucketReplication): shows the rules that go, asks (or needs --yes), then verifies none is left. Copies made so far stay.'
  static override examples = ['<%= config.bin %> s3 replication remove --bucket my-backups --yes']
  static override flags = {...s3Flags, ...dryRunFlag}

  async run(): Promise<{bucket: string; removed: boolean; dryRun: boolean; rules: ReplicationRuleView[]}> {
    const client = await this.s3()
    const bucket = this.bucket
    const dryRun = this.flags['dry-run']
    const cur = await readReplication(client, bucket)
    if (!cur.configured) {
      this.printLines([`bucket ${bucket} has no replication: nothing to remove`])
      return {bucket, removed: false, dryRun, rules: []}
    }
    this.printLines([`these replication rules of bucket ${bucket} would be removed:`, ...cur.rules.flatMap((r) => replicationRuleLines(r))])
    if (dryRun) {
      this.info('dry run: nothing was changed')
      return {bucket, removed: false, dryRun, rules: cur.rules}
    }
    await this.confirmChange(`Remove the replication of bucket ${bucket}?`)
    const r = await removeReplication(client, bucket, this.applyOptions)
    this.printLines([`replication removed from ${bucket} (verified)`])
    return {bucket, removed: r.removed, dryRun, rules: cur.rules}
  }
}
