import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {UsageError} from '../../errors.js'
import {bucketOfLocation, buildPolicy, type Feature, FEATURES, featuresFromConfig, parseBucket, type PolicyResult} from '../../iam/policy.js'

export default class IamPolicy extends BaseCommand<typeof IamPolicy> {
  static override description = `Print the least-privilege IAM policy (JSON) for what Lifeboat is configured to do.
Without --features the features come from the config: S3 repositories (backup-s3), watched AWS Backup resources (aws-backup-rpo), DR playbooks (dr), SNS sinks (notify-sns). Buckets come from --bucket and the S3 repositories of the config.
Features: ${FEATURES.join(', ')}. The policy document goes to stdout (with --json: in result.policy); notes go to stderr.`
  static override examples = [
    '<%= config.bin %> iam policy',
    '<%= config.bin %> iam policy --features backup-s3,s3-admin --bucket my-backups/pi --replication-role arn:aws:iam::123456789012:role/lifeboat-replication',
    '<%= config.bin %> iam policy --features dr --hosted-zone Z0123456789ABC --region us-west-2 > dr-policy.json',
  ]
  static override flags = {
    features: Flags.string({description: `Comma-separated: ${FEATURES.join(', ')} (default: from the config).`}),
    bucket: Flags.string({description: 'A bucket (optionally BUCKET/PREFIX) the S3 features may touch (repeatable).', multiple: true}),
    'replication-role': Flags.string({description: 'Role S3 replication runs as (iam:PassRole for s3-admin; repeatable).', multiple: true}),
    'backup-role': Flags.string({description: 'Role AWS Backup jobs run as (iam:PassRole for aws-backup; repeatable).', multiple: true}),
    topic: Flags.string({description: 'SNS topic ARN for notify-sns (repeatable; default: the config\'s SNS sinks).', multiple: true}),
    'hosted-zone': Flags.string({description: 'Route 53 hosted zone ID DR may change (repeatable).', multiple: true}),
    region: Flags.string({description: 'Region DR may launch and change EC2 resources in (repeatable).', multiple: true}),
    partition: Flags.string({description: 'AWS partition.', default: 'aws', options: ['aws', 'aws-cn', 'aws-us-gov']}),
  }

  async run(): Promise<PolicyResult> {
    const {config} = await this.getConfig()
    const f = this.flags
    let features: Feature[]
    if (f.features) {
      features = f.features.split(',').map((s) => s.trim()).filter(Boolean) as Feature[]
      const bad = features.filter((x) => !(FEATURES as readonly string[]).includes(x))
      if (bad.length > 0) throw new UsageError(`unknown feature ${bad.map((b) => `"${b}"`).join(', ')}`, {hint: `features: ${FEATURES.join(', ')}`})
    } else {
      const derived = featuresFromConfig(config)
      if (derived.length === 0) {
        throw new UsageError('the config uses no AWS feature, so there is nothing to allow', {hint: `pass --features (${FEATURES.join(', ')}) and --bucket`})
      }
      features = derived.map((d) => d.feature)
      for (const d of derived) this.info(`feature ${d.feature}: ${d.why}`)
    }
    const buckets = [
      ...(f.bucket ?? []).map((b) => parseBucket(b)),
      ...Object.values(config.repositories ?? {}).flatMap((r) => {
        const b = bucketOfLocation(r.location)
        return b ? [b] : []
      }),
    ]
    const topics = f.topic ?? (config.notifications?.sinks ?? []).flatMap((s) => (s.type === 'sns' ? [s.topicArn] : []))
    const result = buildPolicy({
      features,
      buckets,
      partition: f.partition,
      replicationRoleArns: f['replication-role'],
      backupRoleArns: f['backup-role'],
      topicArns: topics,
      hostedZoneIds: f['hosted-zone'],
      regions: f.region,
    })
    for (const n of result.notes) this.info(`note: ${n}`)
    if (!this.jsonEnabled()) this.log(JSON.stringify(result.policy, null, 2))
    return result
  }
}
