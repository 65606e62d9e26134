import {Flags} from '@oclif/core'

import {changeLines, dryRunFlag, S3Command, s3Flags, summarizeChanges} from '../../../cli/s3-command.js'
import {bucketFromNameOrArn} from '../../../s3/names.js'
import {
  applyReplicationPlan,
  checkReplicationInput,
  checkReplicationVersioning,
  DESTINATION_CLASSES,
  destinationClient,
  planReplication,
  readReplication,
  type ReplicationPlan,
} from '../../../s3/replication.js'

export default class S3ReplicationSet extends S3Command<typeof S3ReplicationSet> {
  static override description = `Replicate a bucket's new objects to another bucket (e.g. in another region): checks versioning on both buckets, shows the plan, asks (or needs --yes), writes, and verifies by reading the configuration back.
Lifeboat manages one rule (--rule-id, default "lifeboat"); the bucket's other rules are kept unless --replace. Only objects written after the rule exists are replicated.`
  static override examples = [
    '<%= config.bin %> s3 replication set --bucket my-backups --to-bucket my-backups-dr --role arn:aws:iam::123456789012:role/s3-replication --storage-class DEEP_ARCHIVE --yes',
    '<%= config.bin %> s3 replication set --bucket my-backups --to-bucket my-backups-dr --role arn:aws:iam::123456789012:role/s3-replication --prefix hosts/pi/ --dry-run',
  ]
  static override flags = {
    ...s3Flags,
    'to-bucket': Flags.string({description: 'Destination bucket (name or arn:aws:s3:::NAME).', required: true}),
    role: Flags.string({description: 'IAM role ARN that S3 assumes to replicate.', required: true}),
    prefix: Flags.string({description: 'Replicate only keys under this prefix (default: every object).'}),
    'storage-class': Flags.string({description: 'Storage class of the copies (default: the source object\'s).', options: [...DESTINATION_CLASSES]}),
    'delete-markers': Flags.boolean({description: 'Replicate delete markers too (default: deletes stay in the source).', default: false}),
    'to-region': Flags.string({description: 'Region of the destination bucket (default: asked with GetBucketLocation).'}),
    'rule-id': Flags.string({description: 'Id of the rule Lifeboat manages.', default: 'lifeboat'}),
    replace: Flags.boolean({description: 'Remove the bucket\'s other replication rules.'}),
    ...dryRunFlag,
  }

  async run(): Promise<ReplicationPlan & {dryRun: boolean; applied: {written: boolean; verifyReads: number} | null}> {
    const f = this.flags
    const client = await this.s3()
    const bucket = this.bucket
    const toBucket = bucketFromNameOrArn(f['to-bucket'], '--to-bucket')
    const wanted = {role: f.role, toBucket, prefix: f.prefix, storageClass: f['storage-class'], deleteMarkers: f['delete-markers'], ruleId: f['rule-id']}
    checkReplicationInput(bucket, wanted)
    const dest = await destinationClient(client, toBucket, (region) => this.s3In(region), f['to-region'])
    const check = await checkReplicationVersioning({client, bucket}, {client: dest.client, bucket: toBucket, region: dest.region})
    for (const w of check.warnings) this.addWarning(w)
    const plan = planReplication(await readReplication(client, bucket), wanted, {replace: f.replace})
    const dryRun = f['dry-run']
    if (!this.jsonEnabled()) {
      this.log(`replication plan for bucket ${bucket}${plan.replace ? ' (--replace: other rules are removed)' : ' (other rules are kept)'}:`)
      if (plan.role.changed) this.log(`  ~ role: ${plan.role.from ?? '(none)'} → ${plan.role.to}`)
      for (const c of plan.changes) this.log(changeLines(c).join('\n'))
      this.log(plan.changed ? summarizeChanges(plan.changes) : 'no changes: the bucket already replicates as asked')
    }
    if (!plan.changed) return {...plan, dryRun, applied: {written: false, verifyReads: 0}}
    if (dryRun) {
      this.info('dry run: nothing was changed')
      return {...plan, dryRun, applied: null}
    }
    await this.confirmChange(`Write this replication configuration to bucket ${bucket}?`)
    const applied = await applyReplicationPlan(client, plan, this.applyOptions)
    this.printLines([`replication of ${bucket} → ${toBucket} written and verified (objects written from now on are replicated)`])
    return {...plan, dryRun, applied}
  }
}
