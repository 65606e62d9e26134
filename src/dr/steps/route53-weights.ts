import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  type RRType,
} from '@aws-sdk/client-route-53'
import {z} from 'zod'

import type {CreatedResource, PlanLine, ReadinessCheck, StepContext, StepDefinition} from '../step-types.js'
import {StepFailedError, THROTTLE_ERRORS, duration, errText, formatMs, pollUntil, withBackoff} from './common.js'
import {httpCheck, httpCheckParams} from './http-check.js'
import {lookHealth, route53, route53HealthParams, waitHealthy} from './route53-health.js'

/**
 * route53.weights: shift traffic between weighted records by changing only their Weight, all in one atomic
 * ChangeResourceRecordSets batch of UPSERTs of the whole records as read, optionally in stages with a health
 * gate between them, waiting for INSYNC after each batch. One change at a time per hosted zone in this
 * process; backoff with jitter on Throttling and PriorRequestNotComplete.
 */

const weight = z.number().int().min(0).max(255)

const recordRef = z.object({hostedZoneId: z.string().min(1).optional(), name: z.string().min(1), type: z.string().min(1).optional()}).strict()

export const gateParams = z.union([
  z.object({http: httpCheckParams}).strict(),
  z.object({healthCheck: route53HealthParams}).strict(),
])

export const route53WeightsParams = z
  .object({
    hostedZoneId: z.string().min(1),
    name: z.string().min(1),
    type: z.string().min(1).default('A'),
    /** Final weights keyed by SetIdentifier, e.g. {primary: 0, dr: 100}. */
    weights: z.record(z.string(), weight).refine((w) => Object.keys(w).length > 0, {message: 'weights needs at least one SetIdentifier'}),
    /** Staged shift: the share (percent) of traffic on the records whose weight goes up, e.g. [10, 50, 100]. */
    stages: z.array(z.number().gt(0).max(100)).min(1).optional(),
    /** Health gate after each stage but the last (http check or Route 53 health check). */
    gate: gateParams.optional(),
    /** When a gate fails: 'stop' (default: leave the weights of the last stage, fail the step) or 'revert' (restore the old weights first). */
    onGateFailure: z.enum(['stop', 'revert']).default('stop'),
    /** In a drill, production records are never touched: this record (same SetIdentifiers) is shifted instead. */
    drillRecord: recordRef.optional(),
    comment: z.string().max(256).optional(),
    interval: duration.default(5_000),
    /** Limit for each batch to become INSYNC. */
    maxWait: duration.default(10 * 60_000),
  })
  .strict()
  .superRefine((p, zctx) => {
    const s = p.stages ?? []
    for (let i = 1; i < s.length; i++) {
      if (s[i] <= s[i - 1]) zctx.addIssue({code: 'custom', path: ['stages', i], message: 'stages must increase'})
    }
  })
export type Route53WeightsParams = z.output<typeof route53WeightsParams>

export interface WeightTarget {
  hostedZoneId: string
  name: string
  type: string
}

/** Route 53 names end with a dot, are lower case and escape * as \052. */
export function normalizeName(name: string): string {
  const n = name.toLowerCase().replace(/\\052/g, '*')
  return n.endsWith('.') ? n : `${n}.`
}

function zoneId(id: string): string {
  return id.replace(/^\/hostedzone\//, '')
}

// ---- one change at a time per hosted zone (within this process) ----
const zoneQueues = new Map<string, Promise<unknown>>()

/** Runs fn after every earlier call for the same zone finished (success or not). */
export function serializeZone<T>(hostedZoneId: string, fn: () => Promise<T>): Promise<T> {
  const key = zoneId(hostedZoneId)
  const prev = zoneQueues.get(key) ?? Promise.resolve()
  const next = prev.then(fn, fn)
  const tail = next.catch(() => undefined)
  zoneQueues.set(key, tail)
  void tail.then(() => {
    if (zoneQueues.get(key) === tail) zoneQueues.delete(key)
  })
  return next
}

const R53_RETRY = [...THROTTLE_ERRORS, 'PriorRequestNotComplete']

/** The weighted records of one name+type (whole records, as Route 53 returns them). */
export async function readRecords(ctx: StepContext, t: WeightTarget): Promise<ResourceRecordSet[]> {
  const want = normalizeName(t.name)
  const out: ResourceRecordSet[] = []
  let start: {StartRecordName?: string; StartRecordType?: RRType; StartRecordIdentifier?: string} = {StartRecordName: want, StartRecordType: t.type as RRType}
  for (;;) {
    const r = await withBackoff(
      ctx,
      () => route53(ctx).send(new ListResourceRecordSetsCommand({HostedZoneId: zoneId(t.hostedZoneId), ...start, MaxItems: 100})),
      {retryOn: R53_RETRY},
    )
    const page = r.ResourceRecordSets ?? []
    let past = false
    for (const rr of page) {
      if (normalizeName(rr.Name ?? '') === want && rr.Type === t.type) out.push(rr)
      else if (out.length > 0 || normalizeName(rr.Name ?? '') !== want) past = true
    }
    if (past || !r.IsTruncated) return out
    start = {StartRecordName: r.NextRecordName, StartRecordType: r.NextRecordType, StartRecordIdentifier: r.NextRecordIdentifier}
  }
}

/** Records by SetIdentifier for the names in `ids`; refuses clearly when one is missing or not weighted. */
export function pickRecords(records: ResourceRecordSet[], ids: string[], t: WeightTarget): Map<string, ResourceRecordSet> {
  const bySet = new Map(records.filter((r) => r.SetIdentifier !== undefined).map((r) => [r.SetIdentifier!, r]))
  const missing = ids.filter((id) => !bySet.has(id))
  if (missing.length > 0) {
    const have = [...bySet.keys()].sort()
    throw new StepFailedError(
      `${t.name} ${t.type} in hosted zone ${t.hostedZoneId} has no record with SetIdentifier ${missing.map((m) => `"${m}"`).join(', ')}` +
        (have.length ? ` (it has ${have.map((h) => `"${h}"`).join(', ')})` : ' (no weighted records of that name and type)'),
      {code: 'DR_RECORD_NOT_FOUND', hint: 'weights is keyed by the records\' SetIdentifier; check the name (with its trailing dot), type and zone'},
    )
  }
  const notWeighted = ids.filter((id) => bySet.get(id)!.Weight === undefined)
  if (notWeighted.length > 0) {
    throw new StepFailedError(`records ${notWeighted.join(', ')} of ${t.name} ${t.type} are not weighted records (no Weight); this step only changes weights`, {code: 'DR_RECORD_NOT_WEIGHTED'})
  }
  return new Map(ids.map((id) => [id, bySet.get(id)!]))
}

/**
 * The weights of each stage. `stage` is the share (%) of traffic on the "gaining" records (final weight above
 * the current one); gaining records keep the ratios of their final weights, the others the ratios of their
 * current weights, on a total of 100. The last stage is always exactly the final weights.
 */
export function stageWeights(current: Record<string, number>, final: Record<string, number>, stages: number[] | undefined): Array<Record<string, number>> {
  const out: Array<Record<string, number>> = []
  const ids = Object.keys(final)
  const gaining = ids.filter((id) => final[id] > (current[id] ?? 0))
  const losing = ids.filter((id) => !gaining.includes(id))
  const gSum = gaining.reduce((s, id) => s + final[id], 0)
  const lSum = losing.reduce((s, id) => s + (current[id] ?? 0), 0)
  if (stages && gSum > 0 && lSum > 0) {
    for (const share of stages) {
      if (share >= 100) break
      const w: Record<string, number> = {}
      for (const id of ids) {
        w[id] = gaining.includes(id) ? Math.round((share * final[id]) / gSum) : Math.round(((100 - share) * (current[id] ?? 0)) / lSum)
      }
      out.push(w)
    }
  }
  out.push({...final})
  return out
}

async function submitBatch(ctx: StepContext, t: WeightTarget, records: Map<string, ResourceRecordSet>, weights: Record<string, number>, comment: string): Promise<string> {
  const Changes = [...records.entries()].map(([id, rr]) => ({Action: 'UPSERT' as const, ResourceRecordSet: {...rr, Weight: weights[id]}}))
  const r = await withBackoff(
    ctx,
    () => route53(ctx).send(new ChangeResourceRecordSetsCommand({HostedZoneId: zoneId(t.hostedZoneId), ChangeBatch: {Comment: comment, Changes}})),
    {
      retryOn: R53_RETRY,
      maxAttempts: 10,
      onRetry: (err, n, ms) => ctx.log.progress(`${(err as Error).name}: retry ${n} in ${formatMs(ms)}`),
    },
  )
  const id = r.ChangeInfo?.Id
  if (!id) throw new StepFailedError('ChangeResourceRecordSets returned no change id')
  return id
}

export async function waitInsync(ctx: StepContext, changeId: string, intervalMs: number, maxWait: number): Promise<void> {
  await pollUntil(ctx, {
    what: `Route 53 change ${changeId} to be INSYNC`,
    intervalMs,
    timeoutMs: maxWait,
    hint: 'the change is applied but not yet on every Route 53 server; `lifeboat dr resume` waits for it again',
    check: async () => {
      const r = await withBackoff(ctx, () => route53(ctx).send(new GetChangeCommand({Id: changeId})), {retryOn: R53_RETRY})
      const status = r.ChangeInfo?.Status
      return {done: status === 'INSYNC', progress: `${changeId}: ${status}`}
    },
  })
}

/** Applies weights in one atomic batch (serialized per zone) and waits for INSYNC. Re-reads the records first. */
export async function applyWeights(
  ctx: StepContext,
  t: WeightTarget,
  weights: Record<string, number>,
  o: {comment: string; interval: number; maxWait: number; onSubmitted?: (changeId: string) => Promise<void>},
): Promise<{changeId: string; records: Map<string, ResourceRecordSet>}> {
  return serializeZone(t.hostedZoneId, async () => {
    const records = pickRecords(await readRecords(ctx, t), Object.keys(weights), t)
    const changeId = await submitBatch(ctx, t, records, weights, o.comment)
    await o.onSubmitted?.(changeId)
    await waitInsync(ctx, changeId, o.interval, o.maxWait)
    return {changeId, records}
  })
}

function weightsOf(records: Map<string, ResourceRecordSet>): Record<string, number> {
  return Object.fromEntries([...records.entries()].map(([id, r]) => [id, r.Weight ?? 0]))
}

function fmtWeights(w: Record<string, number>): string {
  return Object.entries(w)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
}

/** The record the step changes in this mode; undefined in a drill without a drill record. */
export function targetFor(p: Route53WeightsParams, ctx: StepContext): WeightTarget | undefined {
  if (ctx.mode === 'drill') {
    if (!p.drillRecord) return undefined
    return {hostedZoneId: p.drillRecord.hostedZoneId ?? p.hostedZoneId, name: p.drillRecord.name, type: p.drillRecord.type ?? p.type}
  }
  return {hostedZoneId: p.hostedZoneId, name: p.name, type: p.type}
}

async function runGate(p: Route53WeightsParams, ctx: StepContext): Promise<string> {
  if (!p.gate) return ctx.now().toISOString()
  if ('http' in p.gate) return (await httpCheck(p.gate.http, ctx)).passedAt
  return (await waitHealthy(p.gate.healthCheck, ctx)).healthyAt
}

export const route53Weights: StepDefinition<Route53WeightsParams> = {
  type: 'route53.weights',
  params: route53WeightsParams,

  async run(p, ctx) {
    const t = targetFor(p, ctx)
    if (!t) {
      ctx.log.info(`drill: ${p.name} ${p.type} is a production record and no drillRecord is named; weights left unchanged`)
      return {outputs: {skipped: 'drill without drillRecord', changeId: null, shiftedAt: null}}
    }
    const opts = {interval: p.interval, maxWait: p.maxWait}
    const ids = Object.keys(p.weights)
    // The weights before this step, read once and kept in the journal: a resume must restore these, not a stage's.
    let previous = ctx.state.previousWeights as Record<string, number> | undefined
    if (!previous) {
      previous = weightsOf(pickRecords(await readRecords(ctx, t), ids, t))
      await ctx.saveState({previousWeights: previous, target: t})
      await ctx.recordResource({kind: 'route53:record-weights', id: `${zoneId(t.hostedZoneId)}/${normalizeName(t.name)}/${t.type}`, region: 'global', undo: {...t, weights: previous}})
    }
    // A change submitted before a crash: wait for it before going on.
    if (typeof ctx.state.changeId === 'string' && ctx.state.insync !== true) await waitInsync(ctx, ctx.state.changeId, p.interval, p.maxWait)

    const plan = stageWeights(previous, p.weights, p.stages)
    const doneStages = typeof ctx.state.stagesDone === 'number' ? ctx.state.stagesDone : 0
    let changeId = typeof ctx.state.changeId === 'string' ? ctx.state.changeId : ''
    const gates: string[] = []
    for (let i = doneStages; i < plan.length; i++) {
      const w = plan[i]
      ctx.log.info(`${t.name} ${t.type}: ${plan.length > 1 ? `stage ${i + 1}/${plan.length}: ` : ''}${fmtWeights(w)}`)
      const comment = p.comment ?? `lifeboat ${ctx.mode} ${ctx.runId} step ${ctx.stepId}${plan.length > 1 ? ` stage ${i + 1}/${plan.length}` : ''}`
      const r = await applyWeights(ctx, t, w, {
        ...opts,
        comment,
        onSubmitted: (id) => ctx.saveState({changeId: id, insync: false}),
      })
      changeId = r.changeId
      await ctx.saveState({insync: true, stagesDone: i + 1})
      if (i < plan.length - 1 && p.gate) {
        try {
          gates.push(await runGate(p, ctx))
        } catch (error) {
          if (p.onGateFailure === 'revert') {
            ctx.log.info(`health gate failed after stage ${i + 1}: restoring ${fmtWeights(previous)}`)
            await applyWeights(ctx, t, previous, {...opts, comment: `lifeboat ${ctx.runId} step ${ctx.stepId}: revert after failed gate`})
            await ctx.saveState({stagesDone: 0, changeId: undefined, insync: true})
          }
          throw new StepFailedError(`health gate failed after stage ${i + 1}/${plan.length} (${fmtWeights(w)}): ${errText(error)}`, {
            code: 'DR_GATE_FAILED',
            cause: error,
            hint: p.onGateFailure === 'revert' ? 'weights were restored to their previous values' : 'weights stay at this stage; `dr rollback` restores the previous ones',
          })
        }
      }
    }
    const shiftedAt = ctx.now().toISOString()
    return {outputs: {changeId, shiftedAt, previousWeights: previous, weights: plan.at(-1), stages: plan, gatesPassedAt: gates, hostedZoneId: t.hostedZoneId, name: t.name, type: t.type}}
  },

  async rollback(p, result, ctx) {
    const prev = (result.outputs.previousWeights ?? ctx.state.previousWeights) as Record<string, number> | undefined
    const t = (ctx.state.target as WeightTarget | undefined) ?? targetFor(p, ctx)
    if (!prev || !t) return
    await applyWeights(ctx, t, prev, {interval: p.interval, maxWait: p.maxWait, comment: `lifeboat rollback ${ctx.runId} step ${ctx.stepId}`})
  },

  async removeResource(resource: CreatedResource, ctx: StepContext) {
    if (resource.kind !== 'route53:record-weights' || !resource.undo) return
    const u = resource.undo as unknown as WeightTarget & {weights: Record<string, number>}
    await applyWeights(ctx, u, u.weights, {interval: 5_000, maxWait: 10 * 60_000, comment: `lifeboat cleanup ${ctx.runId} step ${resource.stepId}`})
  },

  async plan(p, ctx): Promise<PlanLine> {
    const t = targetFor(p, ctx)
    if (!t) return {action: 'none', summary: `drill: leave ${p.name} ${p.type} unchanged (production record; name a drillRecord to shift one)`}
    const details: Record<string, unknown> = {...t, weights: p.weights}
    let from = ''
    try {
      const recs = pickRecords(await readRecords(ctx, t), Object.keys(p.weights), t)
      const cur = weightsOf(recs)
      details.currentWeights = cur
      details.stages = stageWeights(cur, p.weights, p.stages)
      from = ` from ${fmtWeights(cur)}`
    } catch (error) {
      details.problem = errText(error)
    }
    const staged = p.stages ? ` in stages ${p.stages.join(' → ')}%${p.gate ? ' with a health gate between them' : ''}` : ''
    return {action: 'change', summary: `set weights of ${t.name} ${t.type} in ${t.hostedZoneId} to ${fmtWeights(p.weights)}${from}${staged} (one batch each, wait INSYNC)`, details}
  },

  async readiness(p, ctx): Promise<ReadinessCheck[]> {
    const checks: ReadinessCheck[] = []
    const targets: WeightTarget[] = [{hostedZoneId: p.hostedZoneId, name: p.name, type: p.type}]
    const drill = targetFor(p, {...ctx, mode: 'drill'})
    if (drill) targets.push(drill)
    for (const t of targets) {
      const name = `weighted records ${t.name} ${t.type} (${Object.keys(p.weights).join(', ')}) in ${t.hostedZoneId}`
      let recs: Map<string, ResourceRecordSet>
      try {
        recs = pickRecords(await readRecords(ctx, t), Object.keys(p.weights), t)
      } catch (error) {
        checks.push({name, ok: false, detail: errText(error)})
        continue
      }
      checks.push({name, ok: true, detail: fmtWeights(weightsOf(recs))})
      for (const [id, rr] of recs) {
        if (!rr.HealthCheckId) {
          checks.push({name: `${t.name} "${id}" health check`, ok: false, detail: 'no health check attached: Route 53 keeps sending traffic to it when it is down', severity: 'warn'})
          continue
        }
        if (rr.TTL !== undefined && rr.TTL > 60) {
          checks.push({name: `${t.name} "${id}" TTL`, ok: false, detail: `TTL ${rr.TTL}s; keep it ≤ 60s with a health check so a shift takes effect quickly`, severity: 'warn'})
        }
        try {
          const h = await lookHealth(ctx, rr.HealthCheckId)
          checks.push({name: `${t.name} "${id}" health check ${rr.HealthCheckId}`, ok: true, detail: `${h.healthy}/${h.total} checkers healthy`})
        } catch (error) {
          checks.push({name: `${t.name} "${id}" health check ${rr.HealthCheckId}`, ok: false, detail: errText(error)})
        }
      }
    }
    return checks
  },
}
