import {z} from 'zod'

import {ApprovalRequiredError} from '../../src/errors.js'

import type {StepRegistry} from '../../src/dr/playbook.js'
import type {SweepFn} from '../../src/dr/runner.js'
import type {CreatedResource, StepContext, StepDefinition} from '../../src/dr/step-types.js'

/**
 * Fake step types for runner tests: a small "cloud" whose create is idempotent by token (like EC2's
 * ClientToken), so a duplicate launch is visible as extra entries.
 */
export interface CloudItem {
  id: string
  token: string
  region: string
  tags: Record<string, string>
}

export class FakeCloud {
  items = new Map<string, CloudItem>()
  byToken = new Map<string, string[]>()
  calls: Array<{step: string; op: string; at: number; token?: string}> = []
  counter = 0
  create(token: string, region: string, n: number, tags: Record<string, string>): string[] {
    const had = this.byToken.get(token)
    if (had) return had
    const ids = Array.from({length: n}, () => `i-${(++this.counter).toString(16).padStart(17, '0')}`)
    for (const id of ids) this.items.set(id, {id, token, region, tags})
    this.byToken.set(token, ids)
    return ids
  }
}

export interface FakeOptions {
  /** Per-step behaviour hooks by step id. */
  hooks?: Record<string, (ctx: StepContext) => Promise<void> | void>
}

export function fakeRegistry(cloud: FakeCloud, opts: FakeOptions = {}): StepRegistry {
  const hook = async (ctx: StepContext) => opts.hooks?.[ctx.stepId]?.(ctx)
  const record = (step: string, op: string, token?: string) => cloud.calls.push({step, op, at: Date.now(), token})
  const create: StepDefinition<{count: number; delayMs: number; region?: string}> = {
    type: 'fake.create',
    params: z.strictObject({count: z.number().int().min(1).default(1), delayMs: z.number().default(0), region: z.string().optional()}),
    async run(p, ctx) {
      record(ctx.stepId, 'start')
      const token = ctx.token('create')
      const region = p.region ?? ctx.regions.dr
      const ids = cloud.create(token, region, p.count, ctx.tags())
      record(ctx.stepId, 'create', token)
      for (const id of ids) await ctx.recordResource({kind: 'fake:instance', id, region})
      await hook(ctx)
      if (p.delayMs) await ctx.sleep(p.delayMs)
      record(ctx.stepId, 'end')
      return {outputs: {instanceIds: ids, region}}
    },
    async removeResource(r: CreatedResource) {
      record(r.stepId, `remove ${r.id}`)
      cloud.items.delete(r.id)
    },
    async plan(p, ctx) {
      return {action: 'create', summary: `create ${p.count} in ${p.region ?? ctx.regions.dr}`}
    },
    async readiness(_p, ctx) {
      return [{name: 'region reachable', ok: ctx.regions.dr !== 'eu-south-9', detail: ctx.regions.dr}]
    },
  }
  const echo: StepDefinition<{value: unknown; delayMs: number; dataAgeSeconds?: number}> = {
    type: 'fake.echo',
    params: z.strictObject({value: z.unknown(), delayMs: z.number().default(0), dataAgeSeconds: z.number().optional()}),
    async run(p, ctx) {
      record(ctx.stepId, 'start')
      await hook(ctx)
      if (p.delayMs) await ctx.sleep(p.delayMs)
      record(ctx.stepId, 'end')
      return {outputs: {value: p.value, ...(p.dataAgeSeconds === undefined ? {} : {dataAgeSeconds: p.dataAgeSeconds})}}
    },
    async rollback(_p, _r, ctx) {
      await opts.hooks?.[`rollback:${ctx.stepId}`]?.(ctx)
      record(ctx.stepId, 'rollback')
    },
    async plan(p) {
      return {action: 'none', summary: `echo ${JSON.stringify(p.value)}`}
    },
  }
  const fail: StepDefinition<{message: string}> = {
    type: 'fake.fail',
    params: z.strictObject({message: z.string().default('boom')}),
    async run(p, ctx) {
      record(ctx.stepId, 'start')
      await hook(ctx)
      throw Object.assign(new Error(p.message), {name: 'InsufficientInstanceCapacity'})
    },
    async plan() {
      return {action: 'none', summary: 'fails'}
    },
  }
  const approval: StepDefinition<{message: string}> = {
    type: 'approval',
    params: z.strictObject({message: z.string()}),
    async run(p, ctx) {
      record(ctx.stepId, 'start')
      if (!(await ctx.approve(p.message))) throw new ApprovalRequiredError(`step "${ctx.stepId}" needs approval: ${p.message}`)
      return {outputs: {approved: true}}
    },
    async plan(p) {
      return {action: 'ask', summary: p.message}
    },
  }
  const weights: StepDefinition<{hostedZoneId: string; name: string; type: string; weights: Record<string, number>; drillRecord?: {name: string}}> = {
    type: 'route53.weights',
    params: z.strictObject({hostedZoneId: z.string(), name: z.string(), type: z.string().default('A'), weights: z.record(z.string(), z.number()), drillRecord: z.strictObject({name: z.string()}).optional()}),
    async run(p0, ctx) {
      const p = ctx.mode === 'drill' && p0.drillRecord ? {...p0, name: p0.drillRecord.name} : p0
      record(ctx.stepId, `weights ${p.name} ${JSON.stringify(p.weights)}`)
      await ctx.recordResource({kind: 'route53:record-weights', id: `${p.hostedZoneId}/${p.name}`, region: 'global', undo: {previous: {primary: 100, dr: 0}}})
      return {outputs: {changeId: '/change/C1'}}
    },
    async removeResource(r) {
      record(r.stepId, `restore ${r.id}`)
    },
    async plan(p) {
      return {action: 'change', summary: `set ${p.name} weights ${JSON.stringify(p.weights)}`}
    },
  }
  const check: StepDefinition<{url: string}> = {
    type: 'http.check',
    params: z.strictObject({url: z.string(), expectStatus: z.number().default(200), retries: z.number().default(0)}),
    async run(p, ctx) {
      record(ctx.stepId, `check ${p.url}`)
      await hook(ctx)
      return {outputs: {status: 200}}
    },
    async plan(p) {
      return {action: 'check', summary: `GET ${p.url}`}
    },
  }
  return {'fake.create': create, 'fake.echo': echo, 'fake.fail': fail, approval, 'route53.weights': weights, 'http.check': check}
}

/** A sweep over the fake cloud: deletes whatever still carries the run's tag. */
export function fakeSweep(cloud: FakeCloud): SweepFn {
  return async (runId, ctx) => {
    const found: CreatedResource[] = []
    for (const item of cloud.items.values()) {
      if (item.tags['lifeboat:run-id'] !== runId) continue
      const r: CreatedResource = {kind: 'fake:instance', id: item.id, region: item.region, stepId: item.tags['lifeboat:step'] ?? '?'}
      if (!ctx?.dryRun) {
        cloud.items.delete(item.id)
        r.removedAt = new Date().toISOString()
      }
      found.push(r)
    }
    return found
  }
}

/** The JSON envelope a command printed last on stdout (pretty-printed, so not one line). */
export function jsonEnvelope(stdout: string): any {
  const start = stdout.lastIndexOf('\n{\n')
  return JSON.parse(start === -1 ? stdout : stdout.slice(start + 1))
}

/** The example playbook, exactly as written there. */
export const SHOP = `name: shop-pilot-light
strategy: pilot-light
regions: { primary: us-east-1, dr: us-west-2 }
targets: { rto: 30m, rpo: 1h }
waves:
  - name: prepare
    steps:
      - id: copy-ami
        type: ami.copy
        params: { sourceImageId: ami-0123456789abcdef0, sourceRegion: us-east-1, name: shop-dr }
  - name: launch
    steps:
      - id: app
        type: ec2.launch
        params: { imageId: "\${steps.copy-ami.imageId}", instanceType: t3.small, count: 2, tags: { app: shop } }
  - name: network
    steps:
      - id: eip
        type: eip.associate
        params: { allocationId: eipalloc-0123456789abcdef0, instanceId: "\${steps.app.instanceIds[0]}" }
      - id: go
        type: approval
        params: { message: "Shift shop traffic to us-west-2?" }
  - name: traffic
    steps:
      - id: dns
        type: route53.weights
        params: { hostedZoneId: Z0123456789ABC, name: app.example.com., type: A, weights: { primary: 0, dr: 100 } }
      - id: smoke
        type: http.check
        dependsOn: [dns]
        params: { url: "https://app.example.com/health", expectStatus: 200, retries: 10 }
`
