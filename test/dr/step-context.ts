/**
 * A StepContext for step tests: fake clock (sleep advances now(), nothing waits for real), journal-like
 * recording of resources and state, clients made with static test credentials for the requested region.
 */
import type {CreatedResource, RunMode, StepContext} from '../../src/dr/step-types.js'

export interface TestContext extends StepContext {
  resources: CreatedResource[]
  sleeps: number[]
  logs: string[]
  clients: Array<{ctor: string; region: string}>
  /** Fake milliseconds elapsed since the context was made. */
  elapsed(): number
}

export interface TestContextOptions {
  runId?: string
  stepId?: string
  mode?: RunMode
  regions?: {primary: string; dr: string}
  state?: Record<string, unknown>
  approve?: (message: string) => Promise<boolean>
  /** Called on every sleep (after the clock moved), e.g. to change the fake's state over time. */
  onSleep?: (ms: number, now: Date) => void
  start?: Date
}

export function testContext(o: TestContextOptions = {}): TestContext {
  const start = (o.start ?? new Date('2026-11-22T05:00:00.000Z')).getTime()
  let t = start
  const runId = o.runId ?? 'run-20261122-0500-abcd'
  const stepId = o.stepId ?? 'step'
  const mode = o.mode ?? 'failover'
  const ctx: TestContext = {
    runId,
    mode,
    stepId,
    regions: o.regions ?? {primary: 'us-east-1', dr: 'us-west-2'},
    aws: {},
    resources: [],
    sleeps: [],
    logs: [],
    clients: [],
    client(Ctor, region) {
      ctx.clients.push({ctor: Ctor.name, region})
      return new Ctor({region, credentials: {accessKeyId: 'AKIDTEST', secretAccessKey: 'test'}, maxAttempts: 1})
    },
    token(suffix?: string) {
      return `${runId}-${stepId}${suffix ? `-${suffix}` : ''}`.slice(0, 64)
    },
    tags() {
      return {'lifeboat:run-id': runId, 'lifeboat:step': stepId, 'lifeboat:mode': mode}
    },
    async recordResource(r) {
      ctx.resources.push({...r, stepId})
    },
    state: {...o.state},
    async saveState(patch) {
      Object.assign(ctx.state, patch)
    },
    approve: o.approve ?? (async () => false),
    log: {
      info: (m) => ctx.logs.push(m),
      progress: (m) => ctx.logs.push(`~ ${m}`),
    },
    signal: new AbortController().signal,
    async sleep(ms) {
      ctx.sleeps.push(ms)
      t += ms
      o.onSleep?.(ms, new Date(t))
    },
    now: () => new Date(t),
    elapsed: () => t - start,
  }
  return ctx
}
