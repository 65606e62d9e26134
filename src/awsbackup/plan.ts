import fs from 'node:fs/promises'
import {z} from 'zod'

import type {BackupPlanInput, BackupRule, BackupRuleInput, BackupSelection, Condition, ConditionParameter, Lifecycle} from '@aws-sdk/client-backup'

import {parseYamlWithSchema} from '../config/parse.js'
import {ConfigError} from '../errors.js'
import {stableJson} from './util.js'

/*
 * Backup plans as code: the YAML shape (zod, with AWS's rules checked before anything is sent), the
 * conversion to and from AWS's BackupPlanInput/BackupSelection, and the normalised form used to compare
 * what a file says with what AWS has (so re-applying the same file changes nothing).
 */

const NAME_RE = /^[A-Za-z0-9_.-]{1,50}$/
const VAULT_NAME_RE = /^[A-Za-z0-9_-]{2,50}$/
export const VAULT_ARN_RE = /^arn:aws[a-z-]*:backup:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:backup-vault:[A-Za-z0-9_-]{2,50}$/
export const ROLE_ARN_RE = /^arn:aws[a-z-]*:iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/
const RESOURCE_ARN_RE = /^(arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-*]*:(\d{12}|\*)?:.+|\*)$/

/** AWS's defaults for fields a rule may leave out; compared as equal to an absent field. */
export const AWS_DEFAULTS = {
  schedule: 'cron(0 5 ? * * *)',
  timezone: 'UTC',
  startWindowMinutes: 480,
  completionWindowMinutes: 10_080,
} as const

const lifecycleSchema = z.strictObject({
  moveToColdStorageAfterDays: z.number().int().min(1).optional(),
  deleteAfterDays: z.number().int().min(1).optional(),
  optInToArchiveForSupportedResources: z.boolean().optional(),
})

const kvSchema = z.strictObject({key: z.string().min(1), value: z.string()})

const ruleSchema = z.strictObject({
  name: z.string().regex(NAME_RE, 'letters, digits, "-", "_" or "." (1–50)'),
  vault: z.string().regex(VAULT_NAME_RE, 'a backup vault name (2–50 letters, digits, "-", "_")'),
  schedule: z.string().optional(),
  timezone: z.string().optional(),
  startWindowMinutes: z.number().int().optional(),
  completionWindowMinutes: z.number().int().optional(),
  lifecycle: lifecycleSchema.optional(),
  copyTo: z
    .array(
      z.strictObject({
        vaultArn: z.string().regex(VAULT_ARN_RE, 'a backup vault ARN (arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME)'),
        lifecycle: lifecycleSchema.optional(),
      }),
    )
    .optional(),
  recoveryPointTags: z.record(z.string(), z.string()).optional(),
  continuousBackup: z.boolean().optional(),
})

const selectionSchema = z.strictObject({
  name: z.string().regex(NAME_RE, 'letters, digits, "-", "_" or "." (1–50)'),
  iamRoleArn: z.string().regex(ROLE_ARN_RE, 'an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)'),
  resources: z.array(z.string().regex(RESOURCE_ARN_RE, 'a resource ARN (wildcards allowed) or "*"')).optional(),
  notResources: z.array(z.string().regex(RESOURCE_ARN_RE, 'a resource ARN (wildcards allowed)')).optional(),
  /** Resources with ANY of these tags (AWS ListOfTags, STRINGEQUALS). */
  tags: z.array(kvSchema).optional(),
  /** All of these must hold (AWS Conditions). */
  conditions: z
    .strictObject({
      stringEquals: z.array(kvSchema).optional(),
      stringNotEquals: z.array(kvSchema).optional(),
      stringLike: z.array(kvSchema).optional(),
      stringNotLike: z.array(kvSchema).optional(),
    })
    .optional(),
})

export const planFileSchema = z
  .strictObject({
    name: z.string().regex(NAME_RE, 'letters, digits, "-", "_" or "." (1–50)'),
    rules: z.array(ruleSchema).min(1, 'a plan needs at least one rule'),
    selections: z.array(selectionSchema).optional(),
    /** Plan tags: set when the plan is created (AWS does not update them through UpdateBackupPlan). */
    tags: z.record(z.string(), z.string()).optional(),
  })
  .superRefine((plan, ctx) => {
    const seenRules = new Set<string>()
    plan.rules.forEach((r, i) => {
      const at = (...p: Array<string | number>) => ['rules', i, ...p]
      if (seenRules.has(r.name)) ctx.addIssue({code: 'custom', path: at('name'), message: `rule name "${r.name}" is used twice`})
      seenRules.add(r.name)
      if (r.schedule !== undefined) {
        const why = scheduleProblem(r.schedule)
        if (why) ctx.addIssue({code: 'custom', path: at('schedule'), message: why})
      }
      if (r.timezone !== undefined && !validTimezone(r.timezone)) {
        ctx.addIssue({code: 'custom', path: at('timezone'), message: `"${r.timezone}" is not an IANA time zone (e.g. UTC, Europe/Berlin)`})
      }
      if (r.startWindowMinutes !== undefined && r.startWindowMinutes < 60) {
        ctx.addIssue({code: 'custom', path: at('startWindowMinutes'), message: `AWS Backup needs at least 60 minutes (got ${r.startWindowMinutes})`})
      }
      if (r.completionWindowMinutes !== undefined) {
        const start = r.startWindowMinutes ?? AWS_DEFAULTS.startWindowMinutes
        if (r.completionWindowMinutes <= start) {
          ctx.addIssue({
            code: 'custom',
            path: at('completionWindowMinutes'),
            message: `must be greater than the start window (${start} minutes${r.startWindowMinutes === undefined ? ', AWS default' : ''})`,
          })
        }
      }
      lifecycleProblems(r.lifecycle, at('lifecycle'), ctx)
      const seenCopies = new Set<string>()
      ;(r.copyTo ?? []).forEach((c, j) => {
        if (seenCopies.has(c.vaultArn)) ctx.addIssue({code: 'custom', path: at('copyTo', j, 'vaultArn'), message: 'this vault is named twice'})
        seenCopies.add(c.vaultArn)
        lifecycleProblems(c.lifecycle, at('copyTo', j, 'lifecycle'), ctx)
      })
    })
    const seenSel = new Set<string>()
    ;(plan.selections ?? []).forEach((s, i) => {
      if (seenSel.has(s.name)) ctx.addIssue({code: 'custom', path: ['selections', i, 'name'], message: `selection name "${s.name}" is used twice`})
      seenSel.add(s.name)
      const c = s.conditions
      const any = (s.resources?.length ?? 0) + (s.tags?.length ?? 0) + (c?.stringEquals?.length ?? 0) + (c?.stringLike?.length ?? 0)
      if (any === 0) {
        ctx.addIssue({code: 'custom', path: ['selections', i], message: 'a selection needs resources, tags or conditions (stringEquals/stringLike) to select anything'})
      }
    })
  })

export type PlanFile = z.infer<typeof planFileSchema>
export type RuleSpec = PlanFile['rules'][number]
export type SelectionSpec = NonNullable<PlanFile['selections']>[number]
export type LifecycleSpec = z.infer<typeof lifecycleSchema>
type KV = z.infer<typeof kvSchema>

function lifecycleProblems(l: LifecycleSpec | undefined, path: Array<string | number>, ctx: z.core.$RefinementCtx): void {
  if (!l) return
  if (l.moveToColdStorageAfterDays !== undefined && l.deleteAfterDays !== undefined && l.deleteAfterDays < l.moveToColdStorageAfterDays + 90) {
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'deleteAfterDays'],
      message: `recovery points must stay in cold storage at least 90 days: deleteAfterDays must be at least moveToColdStorageAfterDays + 90 = ${l.moveToColdStorageAfterDays + 90} (got ${l.deleteAfterDays})`,
    })
  }
}

/** Why a ScheduleExpression is not one AWS Backup accepts, or undefined. */
export function scheduleProblem(expr: string): string | undefined {
  const s = expr.trim()
  const cron = /^cron\((.*)\)$/.exec(s)
  if (cron) {
    const fields = cron[1].trim().split(/\s+/)
    if (fields.length !== 6) return `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}: ${expr}`
    const [min, hour, dom, month, dow, year] = fields
    if (!/^\d{1,2}$/.test(min) || Number(min) > 59) return `the minutes field must be one number 0–59 (AWS Backup runs at most hourly), got "${min}"`
    if (!/^[\d*,/-]+$/.test(hour)) return `bad hours field "${hour}"`
    if (!/^[\d*,/?LW-]+$/.test(dom)) return `bad day-of-month field "${dom}"`
    if (!/^([\d*,/-]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)+$/i.test(month)) return `bad month field "${month}"`
    if (!/^([\d*,/?L#-]|SUN|MON|TUE|WED|THU|FRI|SAT)+$/i.test(dow)) return `bad day-of-week field "${dow}"`
    if (!/^[\d*,/-]+$/.test(year)) return `bad year field "${year}"`
    if ((dom === '?') === (dow === '?')) return 'exactly one of day-of-month and day-of-week must be "?" (e.g. cron(0 * ? * * *))'
    return undefined
  }
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(s)
  if (rate) {
    const n = Number(rate[1])
    const unit = rate[2]
    if (n < 1) return 'a rate must be at least 1'
    if ((n === 1) !== !unit.endsWith('s')) return `write rate(1 ${unit.replace(/s$/, '')}) for one and rate(N ${unit.replace(/s?$/, 's')}) for more`
    if (unit.startsWith('minute') && n < 60) return 'AWS Backup runs at most hourly: a rate in minutes must be at least 60'
    return undefined
  }
  return `"${expr}" is neither cron(min hour day-of-month month day-of-week year) nor rate(N hours|days)`
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', {timeZone: tz})
    return true
  } catch {
    return false
  }
}

const UTC_ALIASES = new Set(['utc', 'etc/utc', 'gmt', 'etc/gmt', 'uct', 'etc/uct', 'zulu', 'etc/zulu', 'universal', 'etc/universal', 'etc/gmt0', 'etc/gmt+0', 'etc/gmt-0', 'gmt0'])

/** Loads and validates a plan file; errors carry file:line:column (ConfigError, exit 2). */
export async function loadPlanFile(file: string): Promise<PlanFile> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (error: any) {
    throw new ConfigError(`plan file ${file} cannot be read (${error?.code ?? error})`, [], {where: file})
  }
  return parsePlanText(text, file)
}

export function parsePlanText(text: string, file: string): PlanFile {
  try {
    return parseYamlWithSchema(text, file, planFileSchema)
  } catch (error) {
    // The shared loader's hint names `config validate`; a plan file is re-checked by `plan diff`.
    if (error instanceof ConfigError && error.issues.length > 0) {
      throw new ConfigError(error.message, error.issues, {
        code: error.code,
        where: error.where,
        hint: `fix the fields named above; \`lifeboat aws-backup plan apply -f ${file} --dry-run\` re-checks the file`,
      })
    }
    throw error
  }
}

/** Warnings about a valid plan (things AWS allows but the user probably did not mean). */
export function planWarnings(plan: PlanFile): string[] {
  const out: string[] = []
  if (!plan.selections || plan.selections.length === 0) {
    out.push(`plan "${plan.name}" has no selections: AWS accepts it, but it backs nothing up until a selection is attached`)
  }
  for (const r of plan.rules) {
    if (!r.lifecycle?.deleteAfterDays) out.push(`rule "${r.name}" has no lifecycle.deleteAfterDays: its recovery points are kept (and paid for) forever`)
  }
  return out
}

// ---- to AWS ----

function lifecycleToAws(l: LifecycleSpec | undefined): Lifecycle | undefined {
  if (!l) return undefined
  const out: Lifecycle = {}
  if (l.moveToColdStorageAfterDays !== undefined) out.MoveToColdStorageAfterDays = l.moveToColdStorageAfterDays
  if (l.deleteAfterDays !== undefined) out.DeleteAfterDays = l.deleteAfterDays
  if (l.optInToArchiveForSupportedResources !== undefined) out.OptInToArchiveForSupportedResources = l.optInToArchiveForSupportedResources
  return out
}

export function ruleToAws(r: RuleSpec): BackupRuleInput {
  const out: BackupRuleInput = {RuleName: r.name, TargetBackupVaultName: r.vault}
  if (r.schedule !== undefined) out.ScheduleExpression = r.schedule.trim()
  if (r.timezone !== undefined) out.ScheduleExpressionTimezone = r.timezone
  if (r.startWindowMinutes !== undefined) out.StartWindowMinutes = r.startWindowMinutes
  if (r.completionWindowMinutes !== undefined) out.CompletionWindowMinutes = r.completionWindowMinutes
  if (r.lifecycle) out.Lifecycle = lifecycleToAws(r.lifecycle)
  if (r.copyTo?.length) out.CopyActions = r.copyTo.map((c) => ({DestinationBackupVaultArn: c.vaultArn, ...(c.lifecycle ? {Lifecycle: lifecycleToAws(c.lifecycle)} : {})}))
  if (r.recoveryPointTags && Object.keys(r.recoveryPointTags).length > 0) out.RecoveryPointTags = r.recoveryPointTags
  if (r.continuousBackup !== undefined) out.EnableContinuousBackup = r.continuousBackup
  return out
}

export function planToAws(plan: PlanFile): BackupPlanInput {
  return {BackupPlanName: plan.name, Rules: plan.rules.map((r) => ruleToAws(r))}
}

const kvToParams = (kvs: KV[] | undefined): ConditionParameter[] | undefined => (kvs?.length ? kvs.map((k) => ({ConditionKey: k.key, ConditionValue: k.value})) : undefined)

export function selectionToAws(s: SelectionSpec): BackupSelection {
  const out: BackupSelection = {SelectionName: s.name, IamRoleArn: s.iamRoleArn}
  if (s.resources?.length) out.Resources = s.resources
  if (s.notResources?.length) out.NotResources = s.notResources
  if (s.tags?.length) out.ListOfTags = s.tags.map((t) => ({ConditionType: 'STRINGEQUALS', ConditionKey: t.key, ConditionValue: t.value}))
  const c = s.conditions
  if (c && (c.stringEquals?.length || c.stringNotEquals?.length || c.stringLike?.length || c.stringNotLike?.length)) {
    out.Conditions = {}
    if (c.stringEquals?.length) out.Conditions.StringEquals = kvToParams(c.stringEquals)
    if (c.stringNotEquals?.length) out.Conditions.StringNotEquals = kvToParams(c.stringNotEquals)
    if (c.stringLike?.length) out.Conditions.StringLike = kvToParams(c.stringLike)
    if (c.stringNotLike?.length) out.Conditions.StringNotLike = kvToParams(c.stringNotLike)
  }
  return out
}

// ---- from AWS (for `plan show` and for comparing) ----

function lifecycleFromAws(l: Lifecycle | undefined): LifecycleSpec | undefined {
  if (!l) return undefined
  const out: LifecycleSpec = {}
  if (l.MoveToColdStorageAfterDays !== undefined && l.MoveToColdStorageAfterDays !== null) out.moveToColdStorageAfterDays = l.MoveToColdStorageAfterDays
  if (l.DeleteAfterDays !== undefined && l.DeleteAfterDays !== null) out.deleteAfterDays = l.DeleteAfterDays
  if (l.OptInToArchiveForSupportedResources) out.optInToArchiveForSupportedResources = true
  return Object.keys(out).length > 0 ? out : undefined
}

export function ruleFromAws(r: BackupRule | BackupRuleInput): RuleSpec {
  const out: RuleSpec = {name: r.RuleName ?? '', vault: r.TargetBackupVaultName ?? ''}
  if (r.ScheduleExpression) out.schedule = r.ScheduleExpression
  if (r.ScheduleExpressionTimezone) out.timezone = r.ScheduleExpressionTimezone
  if (r.StartWindowMinutes !== undefined) out.startWindowMinutes = r.StartWindowMinutes
  if (r.CompletionWindowMinutes !== undefined) out.completionWindowMinutes = r.CompletionWindowMinutes
  const l = lifecycleFromAws(r.Lifecycle)
  if (l) out.lifecycle = l
  if (r.CopyActions?.length) {
    out.copyTo = r.CopyActions.map((c) => {
      const cl = lifecycleFromAws(c.Lifecycle)
      return {vaultArn: c.DestinationBackupVaultArn ?? '', ...(cl ? {lifecycle: cl} : {})}
    })
  }
  if (r.RecoveryPointTags && Object.keys(r.RecoveryPointTags).length > 0) out.recoveryPointTags = r.RecoveryPointTags
  if (r.EnableContinuousBackup) out.continuousBackup = true
  return out
}

const paramsToKv = (ps: ConditionParameter[] | undefined): KV[] => (ps ?? []).map((p) => ({key: p.ConditionKey ?? '', value: p.ConditionValue ?? ''}))

export function selectionFromAws(s: BackupSelection): SelectionSpec {
  const out: SelectionSpec = {name: s.SelectionName ?? '', iamRoleArn: s.IamRoleArn ?? ''}
  if (s.Resources?.length) out.resources = s.Resources
  if (s.NotResources?.length) out.notResources = s.NotResources
  if (s.ListOfTags?.length) out.tags = s.ListOfTags.map((t: Condition) => ({key: t.ConditionKey ?? '', value: t.ConditionValue ?? ''}))
  const c = s.Conditions
  const cond: NonNullable<SelectionSpec['conditions']> = {}
  if (c?.StringEquals?.length) cond.stringEquals = paramsToKv(c.StringEquals)
  if (c?.StringNotEquals?.length) cond.stringNotEquals = paramsToKv(c.StringNotEquals)
  if (c?.StringLike?.length) cond.stringLike = paramsToKv(c.StringLike)
  if (c?.StringNotLike?.length) cond.stringNotLike = paramsToKv(c.StringNotLike)
  if (Object.keys(cond).length > 0) out.conditions = cond
  return out
}

// ---- comparison ----

/** One field that differs: values as the user writes them (undefined = absent / AWS default). */
export interface FieldChange {
  field: string
  from: unknown
  to: unknown
}

function normLifecycle(l: LifecycleSpec | undefined): Record<string, unknown> {
  return {
    moveToColdStorageAfterDays: l?.moveToColdStorageAfterDays,
    deleteAfterDays: l?.deleteAfterDays,
    optInToArchiveForSupportedResources: l?.optInToArchiveForSupportedResources ? true : undefined,
  }
}

function normTimezone(tz: string | undefined): string {
  if (tz === undefined || UTC_ALIASES.has(tz.toLowerCase())) return AWS_DEFAULTS.timezone
  return tz
}

/**
 * A rule's comparable form: AWS's defaults filled in (absent start window = 480, absent timezone = UTC,
 * …), empty lists/maps removed, copy actions sorted. Fields AWS has that Lifeboat does not manage
 * (index/scan actions, air-gapped targets, delete-after-event) are not compared: apply keeps them.
 */
export function normalizeRule(r: RuleSpec): Record<string, unknown> {
  const lc = normLifecycle(r.lifecycle)
  return {
    vault: r.vault,
    schedule: (r.schedule ?? AWS_DEFAULTS.schedule).replace(/\s+/g, ' ').replace(/\( /, '(').replace(/ \)/, ')'),
    timezone: normTimezone(r.timezone),
    startWindowMinutes: r.startWindowMinutes ?? AWS_DEFAULTS.startWindowMinutes,
    completionWindowMinutes: r.completionWindowMinutes ?? AWS_DEFAULTS.completionWindowMinutes,
    'lifecycle.moveToColdStorageAfterDays': lc.moveToColdStorageAfterDays,
    'lifecycle.deleteAfterDays': lc.deleteAfterDays,
    'lifecycle.optInToArchiveForSupportedResources': lc.optInToArchiveForSupportedResources,
    copyTo: (r.copyTo ?? []).length === 0 ? undefined : [...(r.copyTo ?? [])].map((c) => ({vaultArn: c.vaultArn, lifecycle: normLifecycle(c.lifecycle)})).sort((a, b) => (a.vaultArn < b.vaultArn ? -1 : 1)),
    recoveryPointTags: r.recoveryPointTags && Object.keys(r.recoveryPointTags).length > 0 ? r.recoveryPointTags : undefined,
    continuousBackup: r.continuousBackup ? true : undefined,
  }
}

/** The AWS rule fields Lifeboat does not manage but that are set (apply carries them over into its update). */
export function unmanagedRuleFields(r: BackupRule): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (r.TargetLogicallyAirGappedBackupVaultArn) out.TargetLogicallyAirGappedBackupVaultArn = r.TargetLogicallyAirGappedBackupVaultArn
  if (r.IndexActions?.length) out.IndexActions = r.IndexActions
  if (r.ScanActions?.length) out.ScanActions = r.ScanActions
  if (r.Lifecycle?.DeleteAfterEvent) out['Lifecycle.DeleteAfterEvent'] = r.Lifecycle.DeleteAfterEvent
  for (const c of r.CopyActions ?? []) if (c.Lifecycle?.DeleteAfterEvent) out[`CopyActions[${c.DestinationBackupVaultArn}].Lifecycle.DeleteAfterEvent`] = c.Lifecycle.DeleteAfterEvent
  return out
}

const sortKv = (kvs: KV[] | undefined): KV[] | undefined =>
  kvs?.length ? [...kvs].sort((a, b) => (a.key === b.key ? (a.value < b.value ? -1 : 1) : a.key < b.key ? -1 : 1)) : undefined
const sortStrings = (xs: string[] | undefined): string[] | undefined => (xs?.length ? [...new Set(xs)].sort() : undefined)

export function normalizeSelection(s: SelectionSpec): Record<string, unknown> {
  return {
    iamRoleArn: s.iamRoleArn,
    resources: sortStrings(s.resources),
    notResources: sortStrings(s.notResources),
    tags: sortKv(s.tags),
    'conditions.stringEquals': sortKv(s.conditions?.stringEquals),
    'conditions.stringNotEquals': sortKv(s.conditions?.stringNotEquals),
    'conditions.stringLike': sortKv(s.conditions?.stringLike),
    'conditions.stringNotLike': sortKv(s.conditions?.stringNotLike),
  }
}

/**
 * Carries the settings Lifeboat does not model from the rule AWS has into the rule about to be sent, so an
 * update from the file does not silently drop them (index/scan actions, air-gapped target, DeleteAfterEvent).
 */
export function keepUnmanaged(out: BackupRuleInput, current: BackupRule): BackupRuleInput {
  const r: BackupRuleInput = {...out}
  if (current.TargetLogicallyAirGappedBackupVaultArn) r.TargetLogicallyAirGappedBackupVaultArn = current.TargetLogicallyAirGappedBackupVaultArn
  if (current.IndexActions?.length) r.IndexActions = current.IndexActions
  if (current.ScanActions?.length) r.ScanActions = current.ScanActions
  if (current.Lifecycle?.DeleteAfterEvent) r.Lifecycle = {...r.Lifecycle, DeleteAfterEvent: current.Lifecycle.DeleteAfterEvent}
  if (r.CopyActions) {
    r.CopyActions = r.CopyActions.map((c) => {
      const cur = current.CopyActions?.find((x) => x.DestinationBackupVaultArn === c.DestinationBackupVaultArn)
      return cur?.Lifecycle?.DeleteAfterEvent ? {...c, Lifecycle: {...c.Lifecycle, DeleteAfterEvent: cur.Lifecycle.DeleteAfterEvent}} : c
    })
  }
  return r
}

export function compareFields(from: Record<string, unknown>, to: Record<string, unknown>): FieldChange[] {
  const out: FieldChange[] = []
  for (const field of new Set([...Object.keys(from), ...Object.keys(to)])) {
    if (stableJson(from[field]) !== stableJson(to[field])) out.push({field, from: from[field], to: to[field]})
  }
  return out
}
