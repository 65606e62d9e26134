/**
 * Least-privilege IAM policy for what Lifeboat is configured to do. Each feature adds the actions the
 * corresponding commands call, scoped to the configured buckets/prefixes, topics, hosted zones and roles where
 * IAM allows it; actions AWS only authorizes on "*" (Describe*, List* of AWS Backup) stay on "*".
 *
 *   backup-s3       repositories in S3: list (prefix-scoped), get/put/delete objects, tags, cold restores, locks
 *   s3-admin        lifecycle, versioning, replication (+ iam:PassRole of the replication role), object lock
 *   aws-backup      the aws-backup commands (vaults, plans, selections, jobs, points, restores, copies)
 *                   + iam:PassRole of the backup role
 *   aws-backup-rpo  read-only: the newest recovery point (status, points latest, schedules)
 *   dr              EC2 and Route 53 calls of DR playbooks; deletes only resources tagged lifeboat:run-id
 *   notify-sns      sns:Publish to the configured topics
 */
import type {LifeboatConfig} from '../config/schema.js'
import {UsageError} from '../errors.js'

export const FEATURES = ['backup-s3', 's3-admin', 'aws-backup', 'aws-backup-rpo', 'dr', 'notify-sns'] as const
export type Feature = (typeof FEATURES)[number]

export interface Statement {
  Sid: string
  Effect: 'Allow'
  Action: string[]
  Resource: string | string[]
  Condition?: Record<string, Record<string, string | string[]>>
}

export interface PolicyDocument {
  Version: '2012-10-17'
  Statement: Statement[]
}

export interface BucketScope {
  bucket: string
  /** Key prefix without leading/trailing slashes; "" for the whole bucket. */
  prefix: string
}

export interface PolicyInput {
  features: Feature[]
  buckets: BucketScope[]
  /** AWS partition (aws, aws-cn, aws-us-gov). */
  partition?: string
  replicationRoleArns?: string[]
  backupRoleArns?: string[]
  topicArns?: string[]
  hostedZoneIds?: string[]
  /** Limit EC2 calls of DR to these regions (aws:RequestedRegion). */
  regions?: string[]
}

export interface PolicyResult {
  policy: PolicyDocument
  features: Feature[]
  /** Where each feature came from (flag or config) and assumptions the owner should review. */
  notes: string[]
  /** Characters of the minified JSON (managed policies allow 6,144). */
  size: number
}

/** The tag DR puts on every resource a run creates (src/dr): cleanup deletes only those. */
export const DR_RUN_TAG = 'lifeboat:run-id'

/** Bucket and prefix of a repository location (s3://B/P, s3:https://host/B/P); undefined for local folders. */
export function bucketOfLocation(location: string): BucketScope | undefined {
  let rest: string
  if (location.startsWith('s3://')) rest = location.slice('s3://'.length)
  else if (location.startsWith('s3:')) {
    const url = location.slice('s3:'.length)
    try {
      rest = new URL(url).pathname.replace(/^\/+/, '')
    } catch {
      rest = url.replace(/^[^/]*\/+/, '')
    }
  } else return undefined
  const [bucket, ...p] = rest.split('/').filter(Boolean)
  return bucket ? {bucket, prefix: p.join('/')} : undefined
}

/** --bucket values: "B" or "B/prefix". */
export function parseBucket(v: string): BucketScope {
  const loc = v.startsWith('s3:') ? bucketOfLocation(v) : undefined
  if (loc) return loc
  const [bucket, ...p] = v.split('/').filter(Boolean)
  if (!bucket || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UsageError(`--bucket "${v}" is not a bucket name (3–63 lower-case letters, digits, dots, hyphens), optionally followed by /PREFIX`)
  }
  return {bucket, prefix: p.join('/')}
}

/** The features the config implies, with the reason for each. */
export function featuresFromConfig(config: LifeboatConfig): Array<{feature: Feature; why: string}> {
  const out: Array<{feature: Feature; why: string}> = []
  const s3Repos = Object.entries(config.repositories ?? {}).filter(([, r]) => bucketOfLocation(r.location))
  if (s3Repos.length > 0) out.push({feature: 'backup-s3', why: `S3 repositories: ${s3Repos.map(([n]) => n).join(', ')}`})
  if ((config.ops?.awsBackup ?? []).length > 0) out.push({feature: 'aws-backup-rpo', why: 'ops.awsBackup resources are watched'})
  if ((config.dr?.playbooks ?? []).length > 0) out.push({feature: 'dr', why: 'dr.playbooks are configured'})
  if ((config.notifications?.sinks ?? []).some((s) => s.type === 'sns')) out.push({feature: 'notify-sns', why: 'SNS notification sinks'})
  return out
}

export function buildPolicy(input: PolicyInput): PolicyResult {
  const part = input.partition ?? 'aws'
  const features = [...new Set(input.features)].sort((a, b) => FEATURES.indexOf(a) - FEATURES.indexOf(b))
  const st: Statement[] = []
  const notes: string[] = []
  const buckets = dedupeBuckets(input.buckets)
  const bucketArn = (b: string) => `arn:${part}:s3:::${b}`
  const needBuckets = (f: Feature) => {
    if (buckets.length === 0) throw new UsageError(`the ${f} feature needs the buckets it may touch`, {hint: 'pass --bucket BUCKET[/PREFIX] (repeatable), or configure S3 repositories'})
  }

  if (features.includes('backup-s3')) {
    needBuckets('backup-s3')
    // ListBucket is authorized on the bucket; the prefix condition keeps it to the repository's keys.
    for (const [i, b] of buckets.entries()) {
      const s: Statement = {Sid: `RepoList${i}`, Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketArn(b.bucket)}
      if (b.prefix) s.Condition = {StringLike: {'s3:prefix': [`${b.prefix}/*`, b.prefix]}}
      st.push(s)
    }
    st.push({
      Sid: 'RepoBucketRead',
      Effect: 'Allow',
      Action: ['s3:GetBucketLocation', 's3:GetBucketObjectLockConfiguration', 's3:GetBucketVersioning'],
      Resource: buckets.map((b) => bucketArn(b.bucket)).filter(unique),
    })
    st.push({
      Sid: 'RepoObjects',
      Effect: 'Allow',
      Action: [
        's3:GetObject',
        's3:PutObject',
        's3:DeleteObject',
        's3:GetObjectTagging',
        's3:PutObjectTagging',
        's3:RestoreObject',
        's3:AbortMultipartUpload',
        's3:ListMultipartUploadParts',
        's3:GetObjectRetention',
        's3:PutObjectRetention',
        's3:GetObjectLegalHold',
      ],
      Resource: buckets.map((b) => `${bucketArn(b.bucket)}/${b.prefix ? `${b.prefix}/` : ''}*`),
    })
  }

  if (features.includes('s3-admin')) {
    needBuckets('s3-admin')
    st.push({
      Sid: 'BucketConfiguration',
      Effect: 'Allow',
      Action: [
        's3:GetLifecycleConfiguration',
        's3:PutLifecycleConfiguration',
        's3:GetBucketVersioning',
        's3:PutBucketVersioning',
        's3:GetReplicationConfiguration',
        's3:PutReplicationConfiguration',
        's3:GetBucketObjectLockConfiguration',
        's3:PutBucketObjectLockConfiguration',
        's3:GetBucketLocation',
      ],
      Resource: buckets.map((b) => bucketArn(b.bucket)).filter(unique),
    })
    const roles = input.replicationRoleArns?.length ? input.replicationRoleArns : [`arn:${part}:iam::*:role/lifeboat-replication*`]
    if (!input.replicationRoleArns?.length) notes.push('s3-admin: no --replication-role given; iam:PassRole is limited to roles named lifeboat-replication*')
    st.push({Sid: 'PassReplicationRole', Effect: 'Allow', Action: ['iam:PassRole'], Resource: roles, Condition: {StringEquals: {'iam:PassedToService': 's3.amazonaws.com'}}})
  }

  if (features.includes('aws-backup')) {
    st.push({
      Sid: 'AwsBackup',
      Effect: 'Allow',
      Action: [
        'backup:ListBackupVaults',
        'backup:DescribeBackupVault',
        'backup:CreateBackupVault',
        'backup:PutBackupVaultLockConfiguration',
        'backup:ListBackupPlans',
        'backup:GetBackupPlan',
        'backup:CreateBackupPlan',
        'backup:UpdateBackupPlan',
        'backup:DeleteBackupPlan',
        'backup:ListBackupSelections',
        'backup:GetBackupSelection',
        'backup:CreateBackupSelection',
        'backup:DeleteBackupSelection',
        'backup:StartBackupJob',
        'backup:DescribeBackupJob',
        'backup:ListBackupJobs',
        'backup:ListRecoveryPointsByBackupVault',
        'backup:ListRecoveryPointsByResource',
        'backup:DescribeRecoveryPoint',
        'backup:GetRecoveryPointRestoreMetadata',
        'backup:StartRestoreJob',
        'backup:DescribeRestoreJob',
        'backup:ListRestoreJobs',
        'backup:StartCopyJob',
        'backup:DescribeCopyJob',
        'backup:ListCopyJobs',
        'backup:ListTags',
        'backup:TagResource',
      ],
      Resource: '*',
    })
    // CreateBackupVault also needs the storage capsule permission.
    st.push({Sid: 'AwsBackupVaultStorage', Effect: 'Allow', Action: ['backup-storage:MountCapsule'], Resource: '*'})
    const roles = input.backupRoleArns?.length ? input.backupRoleArns : [`arn:${part}:iam::*:role/service-role/AWSBackupDefaultServiceRole`]
    if (!input.backupRoleArns?.length) notes.push('aws-backup: no --backup-role given; iam:PassRole is limited to AWSBackupDefaultServiceRole')
    st.push({Sid: 'PassBackupRole', Effect: 'Allow', Action: ['iam:PassRole'], Resource: roles, Condition: {StringEquals: {'iam:PassedToService': 'backup.amazonaws.com'}}})
  } else if (features.includes('aws-backup-rpo')) {
    st.push({
      Sid: 'AwsBackupRecoveryPoints',
      Effect: 'Allow',
      Action: ['backup:ListRecoveryPointsByResource', 'backup:ListRecoveryPointsByBackupVault', 'backup:DescribeRecoveryPoint'],
      Resource: '*',
    })
  }

  if (features.includes('dr')) {
    const region = input.regions?.length ? {Condition: {StringEquals: {'aws:RequestedRegion': input.regions}}} : {}
    if (!input.regions?.length) notes.push('dr: no --region given; EC2 actions are allowed in every region')
    st.push({
      Sid: 'DrDescribe',
      Effect: 'Allow',
      Action: [
        'ec2:DescribeImages',
        'ec2:DescribeInstances',
        'ec2:DescribeInstanceStatus',
        'ec2:DescribeLaunchTemplates',
        'ec2:DescribeLaunchTemplateVersions',
        'ec2:DescribeSubnets',
        'ec2:DescribeSecurityGroups',
        'ec2:DescribeAddresses',
        'ec2:DescribeSnapshots',
        'ec2:DescribeTags',
      ],
      Resource: '*',
      ...region,
    })
    st.push({Sid: 'DrLaunch', Effect: 'Allow', Action: ['ec2:CopyImage', 'ec2:RunInstances'], Resource: '*', ...region})
    st.push({
      Sid: 'DrTagOnCreate',
      Effect: 'Allow',
      Action: ['ec2:CreateTags'],
      Resource: '*',
      Condition: {StringEquals: {'ec2:CreateAction': ['RunInstances', 'CopyImage'], ...(input.regions?.length ? {'aws:RequestedRegion': input.regions} : {})}},
    })
    st.push({
      Sid: 'DrOperate',
      Effect: 'Allow',
      Action: ['ec2:StartInstances', 'ec2:StopInstances', 'ec2:ModifyInstanceAttribute', 'ec2:AssociateAddress', 'ec2:DisassociateAddress'],
      Resource: '*',
      ...region,
    })
    st.push({
      Sid: 'DrCleanupOwnResources',
      Effect: 'Allow',
      Action: ['ec2:TerminateInstances', 'ec2:DeregisterImage', 'ec2:DeleteSnapshot'],
      Resource: '*',
      Condition: {Null: {[`aws:ResourceTag/${DR_RUN_TAG}`]: 'false'}, ...(input.regions?.length ? {StringEquals: {'aws:RequestedRegion': input.regions}} : {})},
    })
    const zones = input.hostedZoneIds?.length ? input.hostedZoneIds.map((z) => `arn:${part}:route53:::hostedzone/${z.replace(/^\/?hostedzone\//, '')}`) : [`arn:${part}:route53:::hostedzone/*`]
    if (!input.hostedZoneIds?.length) notes.push('dr: no --hosted-zone given; Route 53 record changes are allowed in every hosted zone of the account')
    st.push({Sid: 'DrDnsRecords', Effect: 'Allow', Action: ['route53:ChangeResourceRecordSets', 'route53:ListResourceRecordSets'], Resource: zones})
    st.push({Sid: 'DrDnsChanges', Effect: 'Allow', Action: ['route53:GetChange'], Resource: `arn:${part}:route53:::change/*`})
    st.push({Sid: 'DrHealthChecks', Effect: 'Allow', Action: ['route53:GetHealthCheck', 'route53:GetHealthCheckStatus'], Resource: `arn:${part}:route53:::healthcheck/*`})
  }

  if (features.includes('notify-sns')) {
    if (!input.topicArns?.length) throw new UsageError('the notify-sns feature needs the topics', {hint: 'configure SNS sinks (notifications) or pass --topic ARN'})
    st.push({Sid: 'NotifySns', Effect: 'Allow', Action: ['sns:Publish'], Resource: [...new Set(input.topicArns)]})
  }

  if (st.length === 0) throw new UsageError('no feature selected', {hint: `pass --features with some of: ${FEATURES.join(', ')}`})
  const policy: PolicyDocument = {Version: '2012-10-17', Statement: st}
  const size = JSON.stringify(policy).length
  if (size > 6144) notes.push(`the policy is ${size} characters; managed policies allow 6,144: split it by feature`)
  return {policy, features, notes, size}
}

function unique<T>(v: T, i: number, a: T[]): boolean {
  return a.indexOf(v) === i
}

function dedupeBuckets(b: BucketScope[]): BucketScope[] {
  const seen = new Set<string>()
  return b
    .map((x) => ({bucket: x.bucket, prefix: x.prefix.replace(/^\/+|\/+$/g, '')}))
    .filter((x) => {
      const k = `${x.bucket}/${x.prefix}`
      if (seen.has(k)) return false
      seen.add(k)
      return true
    })
}
