import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule as AwsLifecycleRule,
  type LifecycleRuleFilter,
  PutBucketLifecycleConfigurationCommand,
  type S3Client,
  type TransitionDefaultMinimumObjectSize,
} from '@aws-sdk/client-s3'
import {z} from 'zod'

import {parseYamlWithSchema} from '../config/parse.js'
import {UsageError} from '../errors.js'
import {isS3Error, s3Call, s3Failure} from './errors.js'
import {PACK_TAG_KEY} from './layout.js'
import {TAG_CHARS} from './names.js'
import {diffFields, type FieldChange} from './diff.js'
import {type ApplyOptions, verifyAfter} from './verify.js'

export type {ApplyOptions} from './verify.js'

/**
 * Bucket lifecycle rules: a friendly YAML shape (validated with AWS's own limits, errors at file:line), the
 * `backup-repo` preset, and plan → apply → verify against Get/PutBucketLifecycleConfiguration.
 */

/** Transition targets in AWS's "waterfall" order: a rule may only move objects down this list. */
export const TRANSITION_CLASSES = ['STANDARD_IA', 'INTELLIGENT_TIERING', 'ONEZONE_IA', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const
export type TransitionClass = (typeof TRANSITION_CLASSES)[number]
/** Minimum days after creation (or after becoming noncurrent) before a transition to the class (AWS enforces these). */
const MIN_DAYS: Partial<Record<TransitionClass, number>> = {STANDARD_IA: 30, ONEZONE_IA: 30}
/** Days an object must stay in a class before the next transition (AWS rejects shorter gaps after IA; Glacier's 90-day minimum). */
const MIN_STAY: Partial<Record<TransitionClass, number>> = {STANDARD_IA: 30, ONEZONE_IA: 30, GLACIER: 90}
/** Minimum storage durations: deleting earlier is charged as if stored that long (a warning, not an error). */
const MIN_BILLED: Partial<Record<TransitionClass, number>> = {STANDARD_IA: 30, ONEZONE_IA: 30, GLACIER_IR: 90, GLACIER: 90, DEEP_ARCHIVE: 180}

const storageClass = z.enum(TRANSITION_CLASSES, {
  error: (iss) => `storage class ${JSON.stringify(iss.input)} is not a transition target; use one of the exact AWS names: ${TRANSITION_CLASSES.join(', ')}`,
})
const days = (min: number) => z.number({error: 'a whole number of days'}).int('a whole number of days').min(min, `must be at least ${min}`)
/** AWS's rules for a tag key; undefined when fine. */
function tagKeyProblem(k: string): string | undefined {
  if (k.length === 0) return 'a tag key must not be empty'
  if (k.length > 128) return 'a tag key has at most 128 characters'
  if (!TAG_CHARS.test(k)) return 'a tag key may contain letters, digits, spaces and + - = . _ : / @'
  if (k.toLowerCase().startsWith('aws:')) return 'tag keys starting with "aws:" are reserved by AWS'
  return undefined
}
const tagValue = z
  .string({error: 'a tag value is a string (quote numbers and booleans)'})
  .max(256, 'a tag value has at most 256 characters')
  .regex(TAG_CHARS, 'a tag value may contain letters, digits, spaces and + - = . _ : / @')

const ruleSchema = z
  .strictObject({
    id: z.string().min(1, 'a rule needs an id').max(255, 'a rule id has at most 255 characters'),
    enabled: z.boolean().optional(),
    prefix: z.string().max(1024, 'a prefix has at most 1024 characters').optional(),
    tags: z.record(z.string(), tagValue).optional(),
    objectSizeGreaterThan: z.number().int().nonnegative().optional(),
    objectSizeLessThan: z.number().int().positive().optional(),
    transitions: z.array(z.strictObject({days: days(0), storageClass})).optional(),
    expiration: z.strictObject({days: days(1).optional(), expiredObjectDeleteMarker: z.boolean().optional()}).optional(),
    noncurrentVersionTransitions: z
      .array(z.strictObject({days: days(0), storageClass, newerNoncurrentVersions: z.number().int().min(1).max(100).optional()}))
      .optional(),
    noncurrentVersionExpiration: z.strictObject({days: days(1), newerNoncurrentVersions: z.number().int().min(1).max(100).optional()}).optional(),
    abortIncompleteMultipartUploadDays: days(1).optional(),
  })
  .superRefine((r, ctx) => {
    const issue = (path: Array<string | number>, message: string) => ctx.addIssue({code: 'custom', path, message})
    const hasTags = Object.keys(r.tags ?? {}).length > 0
    for (const k of Object.keys(r.tags ?? {})) {
      const problem = tagKeyProblem(k)
      if (problem) issue(['tags', k], problem)
    }
    if (!r.transitions?.length && !r.expiration && !r.noncurrentVersionTransitions?.length && !r.noncurrentVersionExpiration && r.abortIncompleteMultipartUploadDays === undefined) {
      issue([], `rule "${r.id}" has no action: give transitions, expiration, noncurrentVersionTransitions, noncurrentVersionExpiration or abortIncompleteMultipartUploadDays`)
    }
    if (r.objectSizeGreaterThan !== undefined && r.objectSizeLessThan !== undefined && r.objectSizeGreaterThan >= r.objectSizeLessThan) {
      issue(['objectSizeLessThan'], 'must be greater than objectSizeGreaterThan')
    }
    const lastTransition = checkTransitions(r.transitions ?? [], 'transitions', issue)
    if (r.expiration) {
      const e = r.expiration
      if (e.days === undefined && !e.expiredObjectDeleteMarker) issue(['expiration'], 'give days, or expiredObjectDeleteMarker: true')
      if (e.days !== undefined && e.expiredObjectDeleteMarker) issue(['expiration', 'expiredObjectDeleteMarker'], 'AWS does not allow expiredObjectDeleteMarker together with days')
      if (e.expiredObjectDeleteMarker && hasTags) issue(['expiration', 'expiredObjectDeleteMarker'], 'AWS does not allow expiredObjectDeleteMarker in a rule filtered by tags')
      if (e.days !== undefined && lastTransition && e.days <= lastTransition.days) {
        issue(['expiration', 'days'], `must be later than the last transition (${lastTransition.storageClass} after ${lastTransition.days} days)`)
      }
    }
    const lastNc = checkTransitions(r.noncurrentVersionTransitions ?? [], 'noncurrentVersionTransitions', issue)
    if (r.noncurrentVersionExpiration && lastNc && r.noncurrentVersionExpiration.days <= lastNc.days) {
      issue(['noncurrentVersionExpiration', 'days'], `must be later than the last noncurrent transition (${lastNc.storageClass} after ${lastNc.days} days)`)
    }
    if (r.abortIncompleteMultipartUploadDays !== undefined && hasTags) {
      issue(['abortIncompleteMultipartUploadDays'], 'AWS does not allow abortIncompleteMultipartUploadDays in a rule filtered by tags: put it in a rule with a prefix filter only')
    }
  })

type Issue = (path: Array<string | number>, message: string) => void

/** Checks one list of transitions (days ≥ class minimum, waterfall order, minimum stays); returns the last one. */
function checkTransitions(list: Array<{days: number; storageClass: TransitionClass}>, field: string, issue: Issue): {days: number; storageClass: TransitionClass} | undefined {
  const order = list.map((t, i) => ({...t, i})).sort((a, b) => a.days - b.days)
  const seen = new Set<string>()
  for (const [k, t] of order.entries()) {
    if (seen.has(t.storageClass)) issue([field, t.i, 'storageClass'], `${t.storageClass} appears twice`)
    seen.add(t.storageClass)
    const min = MIN_DAYS[t.storageClass]
    if (min !== undefined && t.days < min) issue([field, t.i, 'days'], `AWS requires at least ${min} days before a transition to ${t.storageClass}`)
    const prev = order[k - 1]
    if (!prev) continue
    if (prev.days === t.days) issue([field, t.i, 'days'], `two transitions on day ${t.days}`)
    else if (TRANSITION_CLASSES.indexOf(t.storageClass) < TRANSITION_CLASSES.indexOf(prev.storageClass)) {
      issue([field, t.i, 'storageClass'], `cannot move objects from ${prev.storageClass} back up to ${t.storageClass} (order: ${TRANSITION_CLASSES.join(' → ')})`)
    } else {
      const stay = MIN_STAY[prev.storageClass]
      if (stay !== undefined && t.days - prev.days < stay) {
        issue([field, t.i, 'days'], `must be at least ${stay} days after the transition to ${prev.storageClass} (day ${prev.days}): ${t.storageClass} on day ${prev.days + stay} or later`)
      }
    }
  }
  return order.at(-1)
}

export const lifecycleFileSchema = z
  .strictObject({rules: z.array(ruleSchema).max(1000, 'a bucket holds at most 1000 lifecycle rules')})
  .superRefine(
    (f, ctx) => {
      // Runs even when single rules are invalid (`when`), so a duplicate id is reported with the rest.
      const seen = new Map<string, number>()
      for (const [i, r] of f.rules.entries()) {
        if (typeof r?.id !== 'string') continue
        if (seen.has(r.id)) ctx.addIssue({code: 'custom', path: ['rules', i, 'id'], message: `rule id "${r.id}" is used twice (also rules[${seen.get(r.id)}])`})
        else seen.set(r.id, i)
      }
    },
    {when: (p) => Array.isArray((p.value as {rules?: unknown})?.rules)},
  )

export type LifecycleRuleInput = z.infer<typeof ruleSchema>

/** One rule in the normalized friendly form (what `show` prints and what plans compare). */
export interface LifecycleRule {
  id: string
  enabled: boolean
  prefix?: string
  tags?: Record<string, string>
  objectSizeGreaterThan?: number
  objectSizeLessThan?: number
  transitions?: Array<{days?: number; date?: string; storageClass: string}>
  expiration?: {days?: number; date?: string; expiredObjectDeleteMarker?: boolean}
  noncurrentVersionTransitions?: Array<{days?: number; storageClass: string; newerNoncurrentVersions?: number}>
  noncurrentVersionExpiration?: {days?: number; newerNoncurrentVersions?: number}
  abortIncompleteMultipartUploadDays?: number
}

/** Reads and validates a rules file; every problem is a ConfigError at file:line:column (exit 2). */
export function parseLifecycleFile(text: string, file: string): LifecycleRule[] {
  return parseYamlWithSchema(text, file, lifecycleFileSchema).rules.map((r) => normalizeInput(r))
}

function normalizeInput(r: LifecycleRuleInput): LifecycleRule {
  return clean({
    id: r.id,
    enabled: r.enabled ?? true,
    prefix: r.prefix || undefined,
    tags: r.tags && Object.keys(r.tags).length > 0 ? sortKeys(r.tags) : undefined,
    objectSizeGreaterThan: r.objectSizeGreaterThan,
    objectSizeLessThan: r.objectSizeLessThan,
    transitions: r.transitions?.length ? [...r.transitions].sort((a, b) => a.days - b.days).map((t) => ({days: t.days, storageClass: t.storageClass})) : undefined,
    expiration: r.expiration ? clean({days: r.expiration.days, expiredObjectDeleteMarker: r.expiration.expiredObjectDeleteMarker || undefined}) : undefined,
    noncurrentVersionTransitions: r.noncurrentVersionTransitions?.length
      ? [...r.noncurrentVersionTransitions].sort((a, b) => a.days - b.days).map((t) => clean({days: t.days, storageClass: t.storageClass, newerNoncurrentVersions: t.newerNoncurrentVersions}))
      : undefined,
    noncurrentVersionExpiration: r.noncurrentVersionExpiration ? clean({...r.noncurrentVersionExpiration}) : undefined,
    abortIncompleteMultipartUploadDays: r.abortIncompleteMultipartUploadDays,
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The backup-repo preset

export const COLD_CLASSES = ['GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const
export type ColdClass = (typeof COLD_CLASSES)[number]
export {PACK_TAG_KEY} from './layout.js'

export interface BackupRepoPresetOptions {
  /** The repository's prefix in the bucket ('' for a repository at the bucket's root). */
  prefix: string
  coldAfterDays: number
  coldClass: ColdClass
  /** Days after which incomplete multipart uploads under the prefix are aborted (default 7). */
  abortAfterDays?: number
}

/** Normalizes a repository prefix: no leading or trailing slashes ('' = the bucket's root). */
export function repoPrefix(p: string): string {
  return p.trim().replace(/^\/+/, '').replace(/\/+$/, '')
}

/**
 * Two rules for a restic-layout repository under `prefix`: data packs (`<prefix>/data/` AND tag
 * lifeboat-pack=data) move to the cold class after N days; tree packs, config, keys, index, snapshots and locks
 * never match. Incomplete multipart uploads under the prefix are aborted after 7 days (a separate rule: AWS
 * does not allow that action with a tag filter).
 */
export function backupRepoPreset(o: BackupRepoPresetOptions): LifecycleRule[] {
  const p = repoPrefix(o.prefix)
  if (p.includes('//')) throw new UsageError(`--prefix "${o.prefix}" contains an empty path segment`, {code: 'BAD_PREFIX'})
  if (!COLD_CLASSES.includes(o.coldClass)) {
    throw new UsageError(`--cold-class ${o.coldClass} is not a cold storage class`, {code: 'BAD_STORAGE_CLASS', hint: `use one of ${COLD_CLASSES.join(', ')}`})
  }
  const base = p === '' ? '' : `${p}/`
  const idPart = p === '' ? '(root)' : p
  const input: LifecycleRuleInput[] = [
    {
      id: `lifeboat-cold-data ${idPart}`.slice(0, 255),
      enabled: true,
      prefix: `${base}data/`,
      tags: {[PACK_TAG_KEY]: 'data'},
      transitions: [{days: o.coldAfterDays, storageClass: o.coldClass}],
    },
    {id: `lifeboat-abort-uploads ${idPart}`.slice(0, 255), enabled: true, prefix: base === '' ? undefined : base, abortIncompleteMultipartUploadDays: o.abortAfterDays ?? 7},
  ]
  return input.map((r) => {
    const parsed = ruleSchema.safeParse(r)
    if (!parsed.success) {
      const first = parsed.error.issues[0]
      const flag = first.path.includes('days') ? '--cold-after' : '--prefix'
      throw new UsageError(`${flag}: ${first.message}`, {code: 'BAD_PRESET', hint: 'see `lifeboat s3 lifecycle apply --help`'})
    }
    return normalizeInput(parsed.data)
  })
}

// ---------------------------------------------------------------------------------------------------------------
// AWS shape <-> friendly shape

export function toAwsRule(r: LifecycleRule): AwsLifecycleRule {
  const tags = Object.entries(r.tags ?? {}).map(([Key, Value]) => ({Key, Value}))
  const conditions = (r.prefix ? 1 : 0) + tags.length + (r.objectSizeGreaterThan === undefined ? 0 : 1) + (r.objectSizeLessThan === undefined ? 0 : 1)
  let Filter: LifecycleRuleFilter
  if (conditions > 1) {
    Filter = {
      And: clean({
        Prefix: r.prefix,
        Tags: tags.length > 0 ? tags : undefined,
        ObjectSizeGreaterThan: r.objectSizeGreaterThan,
        ObjectSizeLessThan: r.objectSizeLessThan,
      }),
    }
  } else if (tags.length === 1) Filter = {Tag: tags[0]}
  else if (r.objectSizeGreaterThan !== undefined) Filter = {ObjectSizeGreaterThan: r.objectSizeGreaterThan}
  else if (r.objectSizeLessThan !== undefined) Filter = {ObjectSizeLessThan: r.objectSizeLessThan}
  else Filter = {Prefix: r.prefix ?? ''}
  return clean({
    ID: r.id,
    Status: r.enabled ? 'Enabled' : 'Disabled',
    Filter,
    Transitions: r.transitions?.map((t) => clean({Days: t.days, Date: t.date ? new Date(t.date) : undefined, StorageClass: t.storageClass as TransitionClass})),
    Expiration: r.expiration
      ? clean({Days: r.expiration.days, Date: r.expiration.date ? new Date(r.expiration.date) : undefined, ExpiredObjectDeleteMarker: r.expiration.expiredObjectDeleteMarker})
      : undefined,
    NoncurrentVersionTransitions: r.noncurrentVersionTransitions?.map((t) =>
      clean({NoncurrentDays: t.days, StorageClass: t.storageClass as TransitionClass, NewerNoncurrentVersions: t.newerNoncurrentVersions}),
    ),
    NoncurrentVersionExpiration: r.noncurrentVersionExpiration
      ? clean({NoncurrentDays: r.noncurrentVersionExpiration.days, NewerNoncurrentVersions: r.noncurrentVersionExpiration.newerNoncurrentVersions})
      : undefined,
    AbortIncompleteMultipartUpload: r.abortIncompleteMultipartUploadDays === undefined ? undefined : {DaysAfterInitiation: r.abortIncompleteMultipartUploadDays},
  }) as AwsLifecycleRule
}

/** Any rule the bucket returns, in the friendly form (tolerates the old top-level Prefix and empty filters). */
export function fromAwsRule(a: AwsLifecycleRule, index = 0): LifecycleRule {
  const f = a.Filter ?? {}
  const and = f.And
  const tags: Record<string, string> = {}
  for (const t of [...(f.Tag ? [f.Tag] : []), ...(and?.Tags ?? [])]) if (t.Key !== undefined) tags[t.Key] = t.Value ?? ''
  const day = (d: Date | string | undefined) => (d === undefined ? undefined : new Date(d).toISOString().slice(0, 10))
  const transitions = (a.Transitions ?? []).map((t) => clean({days: t.Days, date: day(t.Date), storageClass: String(t.StorageClass ?? '')}))
  transitions.sort((x, y) => (x.days ?? 0) - (y.days ?? 0) || String(x.date).localeCompare(String(y.date)))
  const nct = (a.NoncurrentVersionTransitions ?? []).map((t) =>
    clean({days: t.NoncurrentDays, storageClass: String(t.StorageClass ?? ''), newerNoncurrentVersions: t.NewerNoncurrentVersions}),
  )
  nct.sort((x, y) => (x.days ?? 0) - (y.days ?? 0))
  const exp = a.Expiration
    ? clean({days: a.Expiration.Days, date: day(a.Expiration.Date), expiredObjectDeleteMarker: a.Expiration.ExpiredObjectDeleteMarker || undefined})
    : undefined
  return clean({
    id: a.ID ?? `(rule ${index + 1} without id)`,
    enabled: a.Status === 'Enabled',
    prefix: (and?.Prefix ?? f.Prefix ?? a.Prefix) || undefined,
    tags: Object.keys(tags).length > 0 ? sortKeys(tags) : undefined,
    objectSizeGreaterThan: and?.ObjectSizeGreaterThan ?? f.ObjectSizeGreaterThan,
    objectSizeLessThan: and?.ObjectSizeLessThan ?? f.ObjectSizeLessThan,
    transitions: transitions.length > 0 ? transitions : undefined,
    expiration: exp && Object.keys(exp).length > 0 ? exp : undefined,
    noncurrentVersionTransitions: nct.length > 0 ? nct : undefined,
    noncurrentVersionExpiration: a.NoncurrentVersionExpiration
      ? clean({days: a.NoncurrentVersionExpiration.NoncurrentDays, newerNoncurrentVersions: a.NoncurrentVersionExpiration.NewerNoncurrentVersions})
      : undefined,
    abortIncompleteMultipartUploadDays: a.AbortIncompleteMultipartUpload?.DaysAfterInitiation,
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Read, plan, apply, verify, remove

export interface CurrentLifecycle {
  bucket: string
  /** false when the bucket has no lifecycle configuration (NoSuchLifecycleConfiguration). */
  configured: boolean
  rules: LifecycleRule[]
  /** The rules exactly as the bucket returned them (kept rules are written back unchanged). */
  raw: AwsLifecycleRule[]
  transitionDefaultMinimumObjectSize?: string
}

export async function readLifecycle(client: S3Client, bucket: string): Promise<CurrentLifecycle> {
  try {
    const out = await client.send(new GetBucketLifecycleConfigurationCommand({Bucket: bucket}))
    const raw = out.Rules ?? []
    return {bucket, configured: raw.length > 0, rules: raw.map((r, i) => fromAwsRule(r, i)), raw, transitionDefaultMinimumObjectSize: out.TransitionDefaultMinimumObjectSize}
  } catch (error) {
    if (isS3Error(error, 'NoSuchLifecycleConfiguration')) return {bucket, configured: false, rules: [], raw: []}
    throw s3Failure(error, {bucket, call: 'GetBucketLifecycleConfiguration', action: 's3:GetLifecycleConfiguration'})
  }
}

export type RuleAction = 'add' | 'change' | 'remove' | 'keep' | 'unchanged'
export interface RuleChange {
  id: string
  action: RuleAction
  /** Field-level differences for `change` (from = bucket, to = wanted); every field for add/remove. */
  fields: FieldChange[]
}

export interface LifecyclePlan {
  bucket: string
  replace: boolean
  /** true when applying would write to the bucket. */
  changed: boolean
  changes: RuleChange[]
  /** The whole configuration after apply, in the friendly form (what verify expects to read back). */
  after: LifecycleRule[]
  warnings: string[]
  /** What apply writes: the rules (bucket order, new ones last) or, when none remain, a delete. */
  write: {kind: 'none'} | {kind: 'put'; rules: AwsLifecycleRule[]; transitionDefaultMinimumObjectSize?: string} | {kind: 'delete'}
}

/**
 * Compares the bucket's rules with the wanted ones (by id). Rules in the bucket that the wanted set does not
 * name are kept untouched, unless `replace` is set (then they are removed).
 */
export function planLifecycle(current: CurrentLifecycle, wanted: LifecycleRule[], o: {replace?: boolean} = {}): LifecyclePlan {
  const replace = Boolean(o.replace)
  const wantedById = new Map(wanted.map((r) => [r.id, r]))
  const changes: RuleChange[] = []
  const after: LifecycleRule[] = []
  const rules: AwsLifecycleRule[] = []
  const seen = new Set<string>()
  for (const [i, cur] of current.rules.entries()) {
    seen.add(cur.id)
    const w = wantedById.get(cur.id)
    if (w) {
      const fields = diffFields(noId(cur), noId(w))
      changes.push({id: cur.id, action: fields.length > 0 ? 'change' : 'unchanged', fields})
      after.push(w)
      rules.push(fields.length > 0 ? toAwsRule(w) : current.raw[i])
    } else if (replace) {
      changes.push({id: cur.id, action: 'remove', fields: diffFields(noId(cur), undefined)})
    } else {
      changes.push({id: cur.id, action: 'keep', fields: []})
      after.push(cur)
      rules.push(current.raw[i])
    }
  }
  for (const w of wanted) {
    if (seen.has(w.id)) continue
    changes.push({id: w.id, action: 'add', fields: diffFields(undefined, noId(w))})
    after.push(w)
    rules.push(toAwsRule(w))
  }
  const changed = changes.some((c) => c.action === 'add' || c.action === 'change' || c.action === 'remove')
  let write: LifecyclePlan['write'] = {kind: 'none'}
  if (changed) write = rules.length === 0 ? {kind: 'delete'} : {kind: 'put', rules, transitionDefaultMinimumObjectSize: current.transitionDefaultMinimumObjectSize}
  return {bucket: current.bucket, replace, changed, changes, after, warnings: costWarnings(wanted), write}
}

/** Early-deletion charges and similar surprises that AWS accepts but a user should hear about. */
export function costWarnings(rules: LifecycleRule[]): string[] {
  const out: string[] = []
  for (const r of rules) {
    const ts = (r.transitions ?? []).filter((t) => t.days !== undefined)
    const last = ts.at(-1)
    const billed = last ? MIN_BILLED[last.storageClass as TransitionClass] : undefined
    if (last && billed !== undefined && r.expiration?.days !== undefined && r.expiration.days - (last.days ?? 0) < billed) {
      out.push(
        `rule "${r.id}": objects expire ${r.expiration.days - (last.days ?? 0)} days after moving to ${last.storageClass}, whose minimum billed storage is ${billed} days (early deletion is charged)`,
      )
    }
  }
  return out
}

export interface ApplyResult {
  written: 'none' | 'put' | 'delete'
  verified: boolean
  /** Reads needed until the configuration read back matched. */
  verifyReads: number
}

/** Writes the plan (nothing when unchanged), then reads the configuration back until it matches. */
export async function applyLifecyclePlan(client: S3Client, plan: LifecyclePlan, o: ApplyOptions = {}): Promise<ApplyResult> {
  const bucket = plan.bucket
  const w = plan.write
  if (w.kind === 'none') return {written: 'none', verified: true, verifyReads: 0}
  if (w.kind === 'put') {
    await s3Call({bucket, call: 'PutBucketLifecycleConfiguration', action: 's3:PutLifecycleConfiguration'}, () =>
      client.send(
        new PutBucketLifecycleConfigurationCommand(
          clean({
            Bucket: bucket,
            LifecycleConfiguration: {Rules: w.rules},
            TransitionDefaultMinimumObjectSize: w.transitionDefaultMinimumObjectSize as TransitionDefaultMinimumObjectSize | undefined,
          }),
        ),
      ),
    )
  } else {
    await deleteLifecycle(client, bucket)
  }
  const reads = await verifyAfter(
    o,
    () => readLifecycle(client, bucket),
    (back) => diffRuleSets(back.rules, plan.after),
  )
  return {written: w.kind, verified: true, verifyReads: reads}
}

async function deleteLifecycle(client: S3Client, bucket: string): Promise<void> {
  await s3Call({bucket, call: 'DeleteBucketLifecycle', action: 's3:PutLifecycleConfiguration'}, () => client.send(new DeleteBucketLifecycleCommand({Bucket: bucket})))
}

/** Removes the bucket's whole lifecycle configuration and verifies that none is left. */
export async function removeLifecycle(client: S3Client, bucket: string, o: ApplyOptions = {}): Promise<{removed: boolean; verifyReads: number}> {
  const cur = await readLifecycle(client, bucket)
  if (!cur.configured) return {removed: false, verifyReads: 0}
  await deleteLifecycle(client, bucket)
  const reads = await verifyAfter(
    o,
    () => readLifecycle(client, bucket),
    (back) => diffRuleSets(back.rules, []),
  )
  return {removed: true, verifyReads: reads}
}

/** Differences between two rule sets (by id), as "id: field: from → to" lines; [] when equal. */
export function diffRuleSets(actual: LifecycleRule[], expected: LifecycleRule[]): string[] {
  const out: string[] = []
  const exp = new Map(expected.map((r) => [r.id, r]))
  for (const a of actual) {
    const e = exp.get(a.id)
    if (!e) out.push(`rule "${a.id}" is in the bucket but should not be`)
    else for (const f of diffFields(e, a)) out.push(`rule "${a.id}": ${f.path}: expected ${show(f.from)}, found ${show(f.to)}`)
    exp.delete(a.id)
  }
  for (const id of exp.keys()) out.push(`rule "${id}" is missing from the bucket`)
  return out
}

function show(v: unknown): string {
  return v === undefined ? '(none)' : JSON.stringify(v)
}

// ---------------------------------------------------------------------------------------------------------------

function noId(r: LifecycleRule): Omit<LifecycleRule, 'id'> {
  const {id: _id, ...rest} = r
  return rest
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** Drops undefined fields (so deep comparisons and request shapes carry no `key: undefined`). */
export function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

export interface WantedLifecycleOptions {
  /** A rules file (YAML); read and validated (file:line errors). */
  file?: string
  fileText?: string
  preset?: 'backup-repo'
  prefix?: string
  coldAfterDays?: number
  coldClass?: string
  /** One rule given by flags (--rule-id, --filter-prefix, --tag, --transition, …). */
  rule?: FlagRule
}

/** A rule from command-line flags; strings as typed (`--tag k=v`, `--transition 30:GLACIER`). */
export interface FlagRule {
  id?: string
  prefix?: string
  tags?: string[]
  transitions?: string[]
  expireDays?: number
  noncurrentExpireDays?: number
  abortUploadsDays?: number
}

function flagRuleGiven(r: FlagRule | undefined): r is FlagRule {
  return r !== undefined && Object.values(r).some((v) => v !== undefined && !(Array.isArray(v) && v.length === 0))
}

/** Builds and validates the flags' rule with the same checks as a file; errors name the flag (exit 2). */
export function ruleFromFlags(f: FlagRule): LifecycleRule {
  if (!f.id) throw new UsageError('a rule given by flags needs an id: pass --rule-id ID', {code: 'MISSING_FLAG'})
  const tags: Record<string, string> = {}
  for (const t of f.tags ?? []) {
    const i = t.indexOf('=')
    if (i <= 0) throw new UsageError(`--tag "${t}" is not KEY=VALUE`, {code: 'USAGE'})
    tags[t.slice(0, i)] = t.slice(i + 1)
  }
  const transitions = (f.transitions ?? []).map((t) => {
    const m = /^(\d+):([A-Za-z_]+)$/.exec(t.trim())
    if (!m) throw new UsageError(`--transition "${t}" is not DAYS:CLASS (e.g. 30:GLACIER)`, {code: 'USAGE'})
    return {days: Number(m[1]), storageClass: m[2] as TransitionClass}
  })
  const input = clean({
    id: f.id,
    prefix: f.prefix,
    tags: Object.keys(tags).length > 0 ? tags : undefined,
    transitions: transitions.length > 0 ? transitions : undefined,
    expiration: f.expireDays === undefined ? undefined : {days: f.expireDays},
    noncurrentVersionExpiration: f.noncurrentExpireDays === undefined ? undefined : {days: f.noncurrentExpireDays},
    abortIncompleteMultipartUploadDays: f.abortUploadsDays,
  })
  const parsed = ruleSchema.safeParse(input)
  if (parsed.success) return normalizeInput(parsed.data)
  const flagOf = (path: PropertyKey[]): string => {
    const [head, i] = path
    if (head === 'transitions') return typeof i === 'number' ? `--transition ${f.transitions?.[i]}` : '--transition'
    const names: Record<string, string> = {
      id: '--rule-id',
      prefix: '--filter-prefix',
      tags: '--tag',
      expiration: '--expire-days',
      noncurrentVersionExpiration: '--noncurrent-expire-days',
      abortIncompleteMultipartUploadDays: '--abort-uploads-days',
    }
    return names[String(head)] ?? 'the rule flags'
  }
  const lines = parsed.error.issues.map((i) => `${flagOf(i.path)}: ${i.message}`)
  throw new UsageError(lines.join('; '), {code: 'BAD_RULE', hint: 'see `lifeboat s3 lifecycle apply --help` and docs/s3.md'})
}

/** The wanted rules: a file, the backup-repo preset, or both (ids must not collide). */
export async function wantedLifecycle(o: WantedLifecycleOptions): Promise<LifecycleRule[]> {
  const rules: LifecycleRule[] = []
  if (o.file !== undefined) {
    let text = o.fileText
    if (text === undefined) {
      const fs = await import('node:fs/promises')
      try {
        text = await fs.readFile(o.file, 'utf8')
      } catch (error: any) {
        throw new UsageError(`rules file ${o.file} cannot be read (${error?.code ?? error})`, {code: 'FILE_UNREADABLE', where: o.file})
      }
    }
    rules.push(...parseLifecycleFile(text, o.file))
  }
  if (o.preset === undefined && (o.prefix !== undefined || o.coldAfterDays !== undefined || o.coldClass !== undefined)) {
    throw new UsageError('--prefix, --cold-after and --cold-class belong to a preset: add --preset backup-repo', {code: 'USAGE'})
  }
  if (o.preset === 'backup-repo') {
    if (o.prefix === undefined) {
      throw new UsageError('--preset backup-repo needs the repository prefix: pass --prefix P (the part after the bucket in s3://BUCKET/P; "" for the root)', {
        code: 'MISSING_FLAG',
      })
    }
    const preset = backupRepoPreset({prefix: o.prefix, coldAfterDays: o.coldAfterDays ?? 30, coldClass: (o.coldClass ?? 'GLACIER') as ColdClass})
    for (const r of preset) {
      if (rules.some((x) => x.id === r.id)) throw new UsageError(`rule id "${r.id}" is both in ${o.file} and made by the preset`, {code: 'DUPLICATE_RULE'})
      rules.push(r)
    }
  }
  if (flagRuleGiven(o.rule)) {
    const r = ruleFromFlags(o.rule)
    if (rules.some((x) => x.id === r.id)) throw new UsageError(`--rule-id "${r.id}" is also an id in the file or the preset`, {code: 'DUPLICATE_RULE'})
    rules.push(r)
  }
  if (o.file === undefined && o.preset === undefined && !flagRuleGiven(o.rule)) {
    throw new UsageError('which rules? pass -f rules.yaml, --preset backup-repo --prefix P, or a rule by flags (--rule-id ID --transition DAYS:CLASS …)', {
      code: 'MISSING_FLAG',
      hint: 'see docs/s3.md for the rules file format',
    })
  }
  return rules
}
