import {
  type AdvancedBackupSetting,
  type BackupClient,
  type BackupRule,
  CreateBackupPlanCommand,
  CreateBackupSelectionCommand,
  DeleteBackupPlanCommand,
  DeleteBackupSelectionCommand,
  GetBackupPlanCommand,
  GetBackupSelectionCommand,
  paginateListBackupPlans,
  paginateListBackupSelections,
  UpdateBackupPlanCommand,
} from '@aws-sdk/client-backup'

import {type BackupClientOptions, backupClient, call} from './aws.js'
import {
  compareFields,
  type FieldChange,
  keepUnmanaged,
  normalizeRule,
  normalizeSelection,
  type PlanFile,
  planToAws,
  planWarnings,
  type RuleSpec,
  ruleFromAws,
  type SelectionSpec,
  selectionFromAws,
  selectionToAws,
  unmanagedRuleFields,
} from './plan.js'

/** A plan as it is in AWS now. */
export interface CurrentPlan {
  id: string
  arn?: string
  versionId?: string
  name: string
  rules: RuleSpec[]
  /** Per rule name: AWS fields Lifeboat does not manage. */
  unmanaged: Record<string, Record<string, unknown>>
  /** The rules as AWS returned them (to carry unmanaged settings over on update). */
  awsRules: BackupRule[]
  /** Plan-level settings Lifeboat does not model (Windows VSS), kept on update. */
  advancedBackupSettings?: AdvancedBackupSetting[]
  selections: Array<SelectionSpec & {selectionId: string}>
  creationDate?: Date
  lastExecutionDate?: Date
}

export interface RuleDiff {
  name: string
  action: 'add' | 'change' | 'remove'
  changes: FieldChange[]
}
export interface SelectionDiff {
  name: string
  /** Selections cannot be updated in AWS: a changed selection is deleted and created again. */
  action: 'add' | 'replace' | 'remove'
  changes: FieldChange[]
}
export interface PlanDiff {
  name: string
  planId?: string
  /** create: no plan of that name; update: rules differ; none: rules are the same. */
  planAction: 'create' | 'update' | 'none'
  rules: RuleDiff[]
  selections: SelectionDiff[]
  changed: boolean
}

export interface ApplyResult {
  name: string
  planId?: string
  planArn?: string
  versionId?: string
  dryRun: boolean
  diff: PlanDiff
  /** What was written (empty on --dry-run or when nothing changed). */
  actions: string[]
  warnings: string[]
}

/** Finds a plan by name: ListBackupPlans (all pages), then GetBackupPlan and its selections. */
export async function readPlan(name: string, opts: BackupClientOptions = {}): Promise<CurrentPlan | undefined> {
  const client = backupClient(opts)
  const listed = await call('ListBackupPlans', undefined, async () => {
    for await (const page of paginateListBackupPlans({client}, {})) {
      const hit = (page.BackupPlansList ?? []).find((p) => p.BackupPlanName === name && !p.DeletionDate)
      if (hit) return hit
    }
    return undefined
  })
  if (!listed?.BackupPlanId) return undefined
  const id = listed.BackupPlanId
  const got = await call('GetBackupPlan', `plan ${name}`, () => client.send(new GetBackupPlanCommand({BackupPlanId: id})))
  const awsRules: BackupRule[] = got.BackupPlan?.Rules ?? []
  const selections = await readSelections(client, id, name)
  const unmanaged: CurrentPlan['unmanaged'] = {}
  for (const r of awsRules) {
    const u = unmanagedRuleFields(r)
    if (Object.keys(u).length > 0) unmanaged[r.RuleName ?? ''] = u
  }
  return {
    id,
    arn: got.BackupPlanArn ?? listed.BackupPlanArn,
    versionId: got.VersionId ?? listed.VersionId,
    name: got.BackupPlan?.BackupPlanName ?? name,
    rules: awsRules.map((r) => ruleFromAws(r)),
    unmanaged,
    awsRules,
    advancedBackupSettings: got.AdvancedBackupSettings?.length ? got.AdvancedBackupSettings : undefined,
    selections,
    creationDate: got.CreationDate ?? listed.CreationDate,
    lastExecutionDate: got.LastExecutionDate ?? listed.LastExecutionDate,
  }
}

async function readSelections(client: BackupClient, planId: string, planName: string): Promise<CurrentPlan['selections']> {
  const ids = await call('ListBackupSelections', `plan ${planName}`, async () => {
    const out: string[] = []
    for await (const page of paginateListBackupSelections({client}, {BackupPlanId: planId})) {
      for (const s of page.BackupSelectionsList ?? []) if (s.SelectionId) out.push(s.SelectionId)
    }
    return out
  })
  const out: CurrentPlan['selections'] = []
  for (const selectionId of ids) {
    const got = await call('GetBackupSelection', `selection ${selectionId} of plan ${planName}`, () =>
      client.send(new GetBackupSelectionCommand({BackupPlanId: planId, SelectionId: selectionId})),
    )
    if (got.BackupSelection) out.push({...selectionFromAws(got.BackupSelection), selectionId})
  }
  return out
}

/** What applying `want` to `current` changes; AWS defaults and ordering are normalised away. */
export function diffPlan(want: PlanFile, current: CurrentPlan | undefined): PlanDiff {
  const rules: RuleDiff[] = []
  const selections: SelectionDiff[] = []
  const curRules = new Map((current?.rules ?? []).map((r) => [r.name, r]))
  const wantRules = new Map(want.rules.map((r) => [r.name, r]))
  for (const r of want.rules) {
    const cur = curRules.get(r.name)
    if (!cur) {
      rules.push({name: r.name, action: 'add', changes: compareFields({}, stripUndefined(normalizeRule(r)))})
      continue
    }
    const changes = compareFields(normalizeRule(cur), normalizeRule(r))
    if (changes.length > 0) rules.push({name: r.name, action: 'change', changes})
  }
  for (const r of current?.rules ?? []) {
    if (!wantRules.has(r.name)) rules.push({name: r.name, action: 'remove', changes: compareFields(stripUndefined(normalizeRule(r)), {})})
  }
  const curSel = new Map((current?.selections ?? []).map((s) => [s.name, s]))
  const wantSel = want.selections ?? []
  const wantSelNames = new Set(wantSel.map((s) => s.name))
  for (const s of wantSel) {
    const cur = curSel.get(s.name)
    if (!cur) {
      selections.push({name: s.name, action: 'add', changes: compareFields({}, stripUndefined(normalizeSelection(s)))})
      continue
    }
    const changes = compareFields(normalizeSelection(cur), normalizeSelection(s))
    if (changes.length > 0) selections.push({name: s.name, action: 'replace', changes})
  }
  for (const s of current?.selections ?? []) {
    if (!wantSelNames.has(s.name)) selections.push({name: s.name, action: 'remove', changes: compareFields(stripUndefined(normalizeSelection(s)), {})})
  }
  const planAction = !current ? 'create' : rules.length > 0 ? 'update' : 'none'
  return {name: want.name, planId: current?.id, planAction, rules, selections, changed: planAction !== 'none' || selections.length > 0}
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}

export interface ApplyOptions extends BackupClientOptions {
  dryRun?: boolean
  /** Called with each write as it is about to be made ("create plan shop-db-hourly", …). */
  onAction?: (action: string) => void
}

/**
 * Makes AWS match the plan: CreateBackupPlan or UpdateBackupPlan (only when rules differ), then selections
 * (removed and changed ones deleted, new and changed ones created). With nothing to change, no write call is made.
 */
export async function applyPlan(want: PlanFile, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const client = backupClient(opts)
  const warnings = planWarnings(want)
  const current = await readPlan(want.name, {client})
  const diff = diffPlan(want, current)
  for (const [rule, fields] of Object.entries(current?.unmanaged ?? {})) {
    if (diff.rules.some((r) => r.name === rule && r.action === 'change')) {
      warnings.push(`rule "${rule}" has settings Lifeboat does not manage (${Object.keys(fields).join(', ')}); the update keeps them as they are`)
    }
  }
  const result: ApplyResult = {name: want.name, planId: current?.id, planArn: current?.arn, versionId: current?.versionId, dryRun: Boolean(opts.dryRun), diff, actions: [], warnings}
  if (opts.dryRun || !diff.changed) return result

  const act = (a: string) => {
    opts.onAction?.(a)
    result.actions.push(a)
  }
  const body = planToAws(want)
  let planId = current?.id
  if (diff.planAction === 'create') {
    act(`create plan ${want.name}`)
    const tags = want.tags && Object.keys(want.tags).length > 0 ? want.tags : undefined
    const out = await call('CreateBackupPlan', `plan ${want.name}`, () =>
      client.send(new CreateBackupPlanCommand({BackupPlan: body, BackupPlanTags: tags})),
    )
    planId = out.BackupPlanId
    result.planId = out.BackupPlanId
    result.planArn = out.BackupPlanArn
    result.versionId = out.VersionId
  } else if (diff.planAction === 'update' && planId) {
    act(`update plan ${want.name} (${diff.rules.map((r) => `${r.action} rule ${r.name}`).join(', ')})`)
    const id = planId
    const update = {
      ...body,
      Rules: (body.Rules ?? []).map((r) => {
        const cur = current?.awsRules.find((x) => x.RuleName === r.RuleName)
        return cur ? keepUnmanaged(r, cur) : r
      }),
      ...(current?.advancedBackupSettings ? {AdvancedBackupSettings: current.advancedBackupSettings} : {}),
    }
    const out = await call('UpdateBackupPlan', `plan ${want.name}`, () => client.send(new UpdateBackupPlanCommand({BackupPlanId: id, BackupPlan: update})))
    result.versionId = out.VersionId
    result.planArn = out.BackupPlanArn ?? result.planArn
  }
  if (!planId) throw new Error(`AWS did not return an id for plan ${want.name}`)
  const planIdFinal = planId

  for (const s of diff.selections.filter((x) => x.action !== 'add')) {
    const cur = current?.selections.find((c) => c.name === s.name)
    if (!cur) continue
    act(`delete selection ${s.name}${s.action === 'replace' ? ' (to create it again changed)' : ''}`)
    await call('DeleteBackupSelection', `selection ${s.name}`, () =>
      client.send(new DeleteBackupSelectionCommand({BackupPlanId: planIdFinal, SelectionId: cur.selectionId})),
    )
  }
  for (const s of diff.selections.filter((x) => x.action !== 'remove')) {
    const spec = (want.selections ?? []).find((w) => w.name === s.name)
    if (!spec) continue
    act(`create selection ${s.name}`)
    const sel = selectionToAws(spec)
    await call('CreateBackupSelection', `selection ${s.name}`, () =>
      client.send(new CreateBackupSelectionCommand({BackupPlanId: planIdFinal, BackupSelection: sel})),
    )
  }
  return result
}

export interface DeletePlanResult {
  name: string
  planId: string
  dryRun: boolean
  rules: string[]
  selections: string[]
  actions: string[]
}

/** Deletes a plan: its selections first (AWS refuses to delete a plan that has any), then the plan. Recovery points stay. */
export async function deletePlan(current: CurrentPlan, opts: ApplyOptions = {}): Promise<DeletePlanResult> {
  const client = backupClient(opts)
  const result: DeletePlanResult = {
    name: current.name,
    planId: current.id,
    dryRun: Boolean(opts.dryRun),
    rules: current.rules.map((r) => r.name),
    selections: current.selections.map((s) => s.name),
    actions: [],
  }
  const planned = [...current.selections.map((s) => `delete selection ${s.name}`), `delete plan ${current.name} (${current.id})`]
  if (opts.dryRun) {
    result.actions = planned
    return result
  }
  for (const s of current.selections) {
    opts.onAction?.(`delete selection ${s.name}`)
    await call('DeleteBackupSelection', `selection ${s.name}`, () => client.send(new DeleteBackupSelectionCommand({BackupPlanId: current.id, SelectionId: s.selectionId})))
    result.actions.push(`delete selection ${s.name}`)
  }
  opts.onAction?.(`delete plan ${current.name}`)
  await call('DeleteBackupPlan', `plan ${current.name}`, () => client.send(new DeleteBackupPlanCommand({BackupPlanId: current.id})))
  result.actions.push(`delete plan ${current.name} (${current.id})`)
  return result
}

/** The plan as a plan file (what `plan show` prints): re-applying it changes nothing. */
export function currentToFile(current: CurrentPlan): PlanFile {
  const file: PlanFile = {name: current.name, rules: current.rules}
  if (current.selections.length > 0) file.selections = current.selections.map(({selectionId: _id, ...s}) => s)
  return file
}
