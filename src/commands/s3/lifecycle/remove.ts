import {dryRunFlag, S3Command, s3Flags} from '../../../cli/s3-command.js'
import {readLifecycle, removeLifecycle, type LifecycleRule} from '../../../s3/lifecycle.js'
import {ruleLines} from './show.js'

export default class S3LifecycleRemove extends S3Command<typeof S3LifecycleRemove> {
  static override description = 'Delete the whole lifecycle configuration of a bucket (DeleteBucketLifecycle): shows the rules that go, asks (or needs --yes), then verifies none is left.'
  static override examples = ['<%= config.bin %> s3 lifecycle remove --bucket my-backups --dry-run', '<%= config.bin %> s3 lifecycle remove --bucket my-backups --yes']
  static override flags = {...s3Flags, ...dryRunFlag}

  async run(): Promise<{bucket: string; removed: boolean; dryRun: boolean; rules: LifecycleRule[]}> {
    const client = await this.s3()
    const bucket = this.bucket
    const dryRun = Boolean(this.flags['dry-run'])
    const cur = await readLifecycle(client, bucket)
    if (!cur.configured) {
      this.printLines([`bucket ${bucket} has no lifecycle rules: nothing to remove`])
      return {bucket, removed: false, dryRun, rules: []}
    }
    this.printLines([`these lifecycle rules of bucket ${bucket} would be removed:`, ...cur.rules.flatMap((r) => ruleLines(r))])
    if (dryRun) {
      this.info('dry run: nothing was changed')
      return {bucket, removed: false, dryRun, rules: cur.rules}
    }
    await this.confirmChange(`Remove all ${cur.rules.length} lifecycle rule(s) of bucket ${bucket}?`)
    const r = await removeLifecycle(client, bucket, this.applyOptions)
    this.printLines([r.removed ? `removed; bucket ${bucket} has no lifecycle rules now (verified)` : 'nothing to remove'])
    return {bucket, removed: r.removed, dryRun, rules: cur.rules}
  }
}
