import {
  DeleteBucketReplicationCommand,
  GetBucketLocationCommand,
  GetBucketReplicationCommand,
  PutBucketReplicationCommand,
  type ReplicationConfiguration,
  type ReplicationRule,
  type S3Client,
  type StorageClass,
} from '@aws-sdk/client-s3'

import {LifeboatError, UsageError} from '../errors.js'
import {diffFields, type FieldChange} from './diff.js'
import {isS3Error, s3Call, s3Failure} from './errors.js'
import {clean} from './lifecycle.js'
import {readVersioning, type VersioningStatus} from './versioning.js'
import {type ApplyOptions, verifyAfter} from './verify.js'

/**
 * Bucket replication (CRR/SRR): one rule that Lifeboat manages (id `lifeboat` by default) copying new objects
 * to another bucket. Other rules of the bucket are kept unless `replace`. AWS needs versioning Enabled on both
 * buckets (it answers InvalidRequest otherwise), so that is checked first and said in words.
 */

export const DESTINATION_CLASSES = ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE', 'REDUCED_REDUNDANCY'] as const
const ROLE_ARN = /^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/

/** One replication rule in words (what show prints, what plans compare). */
export interface ReplicationRuleView {
  id: string
  status: 'Enabled' | 'Disabled'
  priority?: number
  prefix?: string
  tags?: Record<string, string>
  destinationBucket: string
  storageClass?: string
  deleteMarkerReplication: boolean
  account?: string
  /** Other settings the rule has (ReplicationTime, Metrics, EncryptionConfiguration, …), by name. */
  other?: string[]
}

export interface ReplicationState {
  bucket: string
  configured: boolean
  role?: string
  rules: ReplicationRuleView[]
  raw?: ReplicationConfiguration
}

export function arnOfBucket(name: string): string {
  return `arn:aws:s3:::${name}`
}

function bucketOfArn(arn: string | undefined): string {
  return arn?.replace(/^arn:aws[\w-]*:s3:::/, '') ?? ''
}

export function viewOfRule(r: ReplicationRule, i = 0): ReplicationRuleView {
  const f = r.Filter
  const tags: Record<string, string> = {}
  for (const t of [...(f?.Tag ? [f.Tag] : []), ...(f?.And?.Tags ?? [])]) if (t.Key !== undefined) tags[t.Key] = t.Value ?? ''
  const other = (['SourceSelectionCriteria', 'ExistingObjectReplication'] as const).filter((k) => r[k] !== undefined).map(String)
  const d = r.Destination
  for (const k of ['AccessControlTranslation', 'EncryptionConfiguration', 'ReplicationTime', 'Metrics'] as const) if (d?.[k] !== undefined) other.push(`Destination.${k}`)
  return clean({
    id: r.ID ?? `(rule ${i + 1} without id)`,
    status: r.Status === 'Enabled' ? 'Enabled' : 'Disabled',
    priority: r.Priority,
    prefix: (f?.And?.Prefix ?? f?.Prefix ?? r.Prefix) || undefined,
    tags: Object.keys(tags).length > 0 ? tags : undefined,
    destinationBucket: bucketOfArn(d?.Bucket),
    storageClass: d?.StorageClass,
    deleteMarkerReplication: r.DeleteMarkerReplication?.Status === 'Enabled',
    account: d?.Account,
    other: other.length > 0 ? other : undefined,
  }) as ReplicationRuleView
}

export async function readReplication(client: S3Client, bucket: string): Promise<ReplicationState> {
  try {
    const out = await client.send(new GetBucketReplicationCommand({Bucket: bucket}))
    const cfg = out.ReplicationConfiguration
    if (!cfg) return {bucket, configured: false, rules: []}
    return {bucket, configured: true, role: cfg.Role, rules: (cfg.Rules ?? []).map((r, i) => viewOfRule(r, i)), raw: cfg}
  } catch (error) {
    if (isS3Error(error, 'ReplicationConfigurationNotFoundError')) return {bucket, configured: false, rules: []}
    throw s3Failure(error, {bucket, call: 'GetBucketReplication', action: 's3:GetReplicationConfiguration'})
  }
}

export interface ReplicationWanted {
  role: string
  toBucket: string
  prefix?: string
  storageClass?: string
  deleteMarkers: boolean
  ruleId: string
}

export function checkReplicationInput(bucket: string, w: ReplicationWanted): void {
  if (!ROLE_ARN.test(w.role)) {
    throw new UsageError(`--role "${w.role}" is not an IAM role ARN`, {code: 'BAD_ROLE', hint: 'give the role S3 assumes to replicate, e.g. arn:aws:iam::123456789012:role/s3-replication'})
  }
  if (w.toBucket === bucket) throw new UsageError('--to-bucket is the bucket itself: replicate to another bucket', {code: 'USAGE'})
  if (w.storageClass !== undefined && !(DESTINATION_CLASSES as readonly string[]).includes(w.storageClass)) {
    throw new UsageError(`--storage-class ${w.storageClass} is not an S3 storage class`, {code: 'BAD_STORAGE_CLASS', hint: `use one of the exact AWS names: ${DESTINATION_CLASSES.join(', ')}`})
  }
  if (w.ruleId.length === 0 || w.ruleId.length > 255) throw new UsageError('--rule-id must have 1–255 characters', {code: 'USAGE'})
}

export interface ReplicationPlan {
  bucket: string
  replace: boolean
  changed: boolean
  role: {from?: string; to: string; changed: boolean}
  changes: Array<{id: string; action: 'add' | 'change' | 'remove' | 'keep' | 'unchanged'; fields: FieldChange[]}>
  /** The whole configuration apply writes. */
  configuration: ReplicationConfiguration
  /** What verify expects to read back. */
  after: {role: string; rules: ReplicationRuleView[]}
}

export function planReplication(current: ReplicationState, w: ReplicationWanted, o: {replace?: boolean} = {}): ReplicationPlan {
  const replace = Boolean(o.replace)
  const rawRules = current.raw?.Rules ?? []
  const existing = rawRules.find((r) => r.ID === w.ruleId)
  const otherPriorities = rawRules.filter((r) => r.ID !== w.ruleId).map((r) => r.Priority ?? 0)
  const priority = existing?.Priority ?? (replace || otherPriorities.length === 0 ? 1 : Math.max(...otherPriorities) + 1)
  const ours: ReplicationRule = {
    ID: w.ruleId,
    Priority: priority,
    Status: 'Enabled',
    Filter: {Prefix: w.prefix ?? ''},
    Destination: clean({Bucket: arnOfBucket(w.toBucket), StorageClass: w.storageClass as StorageClass | undefined}),
    DeleteMarkerReplication: {Status: w.deleteMarkers ? 'Enabled' : 'Disabled'},
  }
  const oursView = viewOfRule(ours)
  const changes: ReplicationPlan['changes'] = []
  const rules: ReplicationRule[] = []
  const views: ReplicationRuleView[] = []
  for (const [i, r] of rawRules.entries()) {
    const v = current.rules[i]
    if (r.ID === w.ruleId) {
      const fields = diffFields(noId(v), noId(oursView))
      changes.push({id: v.id, action: fields.length > 0 ? 'change' : 'unchanged', fields})
      rules.push(fields.length > 0 ? ours : r)
      views.push(fields.length > 0 ? oursView : v)
    } else if (replace) {
      changes.push({id: v.id, action: 'remove', fields: diffFields(noId(v), undefined)})
    } else {
      changes.push({id: v.id, action: 'keep', fields: []})
      rules.push(r)
      views.push(v)
    }
  }
  if (!existing) {
    changes.push({id: w.ruleId, action: 'add', fields: diffFields(undefined, noId(oursView))})
    rules.push(ours)
    views.push(oursView)
  }
  const role = {from: current.role, to: w.role, changed: current.role !== w.role}
  const changed = role.changed || changes.some((c) => c.action === 'add' || c.action === 'change' || c.action === 'remove')
  return {bucket: current.bucket, replace, changed, role, changes, configuration: {Role: w.role, Rules: rules}, after: {role: w.role, rules: views}}
}

function noId(v: ReplicationRuleView): Omit<ReplicationRuleView, 'id'> {
  const {id: _id, ...rest} = v
  return rest
}

/**
 * The client to use for the destination bucket: the same one, unless the destination is in another region
 * (`toRegion`, or asked with GetBucketLocation; a denied lookup keeps the same client).
 */
export async function destinationClient(
  client: S3Client,
  dest: string,
  makeClient: (region: string) => Promise<S3Client>,
  toRegion?: string,
): Promise<{client: S3Client; region?: string}> {
  let region = toRegion
  if (!region) {
    try {
      const out = await client.send(new GetBucketLocationCommand({Bucket: dest}))
      const c = out.LocationConstraint as string | undefined
      region = !c ? 'us-east-1' : c === 'EU' ? 'eu-west-1' : c
    } catch {
      return {client}
    }
  }
  const own = await client.config.region().catch(() => undefined)
  return own === region ? {client, region} : {client: await makeClient(region), region}
}

/**
 * Replication needs versioning Enabled on both buckets. Throws VERSIONING_REQUIRED (exit 1) naming each bucket
 * that lacks it and the command that enables it. A destination whose versioning cannot be read (another
 * account) is a warning: AWS itself will refuse the rule if it is not versioned.
 */
export async function checkReplicationVersioning(
  source: {client: S3Client; bucket: string},
  dest: {client: S3Client; bucket: string; region?: string},
): Promise<{warnings: string[]; source: VersioningStatus; destination?: VersioningStatus}> {
  const warnings: string[] = []
  const src = (await readVersioning(source.client, source.bucket)).status
  let dst: VersioningStatus | undefined
  try {
    dst = (await readVersioning(dest.client, dest.bucket)).status
  } catch (error) {
    if (!(error instanceof LifeboatError) || error.code !== 'S3_ACCESS_DENIED') throw error
    warnings.push(`could not read the versioning of ${dest.bucket} (access denied, another account?): AWS refuses the rule if it is not Enabled there`)
  }
  const missing: string[] = []
  const fixes: string[] = []
  if (src !== 'Enabled') {
    missing.push(`${source.bucket} is ${src}`)
    fixes.push(`lifeboat s3 versioning enable --bucket ${source.bucket}`)
  }
  if (dst !== undefined && dst !== 'Enabled') {
    missing.push(`${dest.bucket} is ${dst}`)
    fixes.push(`lifeboat s3 versioning enable --bucket ${dest.bucket}${dest.region ? ` --region ${dest.region}` : ''}`)
  }
  if (missing.length > 0) {
    throw new LifeboatError(`replication needs versioning Enabled on both buckets: ${missing.join(', ')}`, {
      code: 'VERSIONING_REQUIRED',
      where: `s3://${source.bucket}`,
      hint: `enable it first: ${fixes.join(' ; ')}`,
    })
  }
  return {warnings, source: src, destination: dst}
}

/** Writes the plan's configuration (only when changed), then reads it back until it matches. */
export async function applyReplicationPlan(client: S3Client, plan: ReplicationPlan, o: ApplyOptions = {}): Promise<{written: boolean; verifyReads: number}> {
  if (!plan.changed) return {written: false, verifyReads: 0}
  const bucket = plan.bucket
  try {
    await client.send(new PutBucketReplicationCommand({Bucket: bucket, ReplicationConfiguration: plan.configuration}))
  } catch (error) {
    if (isS3Error(error, 'InvalidRequest') && /version/i.test((error as Error).message ?? '')) {
      throw new LifeboatError(`S3 refused the replication rule: ${(error as Error).message}`, {
        code: 'VERSIONING_REQUIRED',
        where: `s3://${bucket}`,
        hint: 'replication needs versioning Enabled on both buckets: `lifeboat s3 versioning enable --bucket NAME` for each',
        cause: error,
      })
    }
    throw s3Failure(error, {bucket, call: 'PutBucketReplication', action: 's3:PutReplicationConfiguration (and iam:PassRole on the role)'})
  }
  const verifyReads = await verifyAfter(
    o,
    () => readReplication(client, bucket),
    (back) => {
      const d: string[] = []
      if (back.role !== plan.after.role) d.push(`role: expected ${plan.after.role}, found ${back.role ?? '(none)'}`)
      const exp = new Map(plan.after.rules.map((r) => [r.id, r]))
      for (const r of back.rules) {
        const e = exp.get(r.id)
        if (!e) d.push(`rule "${r.id}" is in the bucket but should not be`)
        else for (const f of diffFields(e, r)) d.push(`rule "${r.id}": ${f.path}: expected ${JSON.stringify(f.from) ?? '(none)'}, found ${JSON.stringify(f.to) ?? '(none)'}`)
        exp.delete(r.id)
      }
      for (const id of exp.keys()) d.push(`rule "${id}" is missing from the bucket`)
      return d
    },
  )
  return {written: true, verifyReads}
}

export async function removeReplication(client: S3Client, bucket: string, o: ApplyOptions = {}): Promise<{removed: boolean; verifyReads: number}> {
  const cur = await readReplication(client, bucket)
  if (!cur.configured) return {removed: false, verifyReads: 0}
  await s3Call({bucket, call: 'DeleteBucketReplication', action: 's3:PutReplicationConfiguration'}, () => client.send(new DeleteBucketReplicationCommand({Bucket: bucket})))
  const verifyReads = await verifyAfter(
    o,
    () => readReplication(client, bucket),
    (back) => (back.configured ? [`replication is still configured (${back.rules.length} rule(s))`] : []),
  )
  return {removed: true, verifyReads}
}
