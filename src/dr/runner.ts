import {createHash} from 'node:crypto'
import fs from 'node:fs/promises'

import {makeAwsClient, type AwsOptions} from '../aws/clients.js'
import {ApprovalRequiredError, LifeboatError, UsageError, errorMessage} from '../errors.js'
import {interpolate, type Scope} from './interpolate.js'
import {DNS_SHIFTS} from './report.js'
import {makeToken, newRunId, RunStore, type Journal, type StepRecord} from './journal.js'
import {allSteps, parsePlaybook, type LoadedPlaybook, type StepRegistry} from './playbook.js'
import {whenList, type Playbook, type PlaybookStep} from './schema.js'
import type {CreatedResource, RunMode, StepContext, StepDefinition, StepResult} from './step-types.js'

/** What sweepRunResources (src/dr/sweep.ts) gets: find and delete whatever still carries the run's tag. */
export interface SweepContext {
  client<C>(ctor: new (config: any) => C, region: string): C
  regions: string[]
  signal: AbortSignal
  log: (message: string) => void
  sleep(ms: number): Promise<void>
  now(): Date
}
/**
 * Returns what it found: removed ones carry removedAt, the others undo.error. With dryRun it only looks
 * (the leak check after cleanup).
 */
export type SweepFn = (runId: string, ctx: SweepContext & {dryRun?: boolean}) => Promise<CreatedResource[]>

export type RunEvent =
  | {kind: 'run-start'; runId: string; dir: string; mode: RunMode; resumed: boolean; waves: Array<{name: string; steps: Array<{id: string; type: string}>}>}
  | {kind: 'wave-start'; wave: number; name: string}
  | {kind: 'wave-done'; wave: number; name: string}
  | {kind: 'step-start'; stepId: string; attempt: number}
  | {kind: 'step-progress'; stepId: string; message: string}
  | {kind: 'step-log'; stepId: string; message: string}
  | {kind: 'step-retry'; stepId: string; attempt: number; delayMs: number; error: string}
  | {kind: 'step-done'; stepId: string; state: StepRecord['state']; reason?: string; error?: string}
  | {kind: 'cleanup-start'; resources: number}
  | {kind: 'cleanup-resource'; resource: CreatedResource; ok: boolean; error?: string}
  | {kind: 'cleanup-done'; removed: number; swept: number; leftovers: number}
  | {kind: 'rollback-step'; stepId: string; state: string; error?: string}

export interface RunnerDeps {
  /** The step registry (src/dr/steps/index.ts in the CLI; fakes in tests). */
  registry: StepRegistry
  sweep?: SweepFn
  aws?: AwsOptions
  /** Client factory; default makeAwsClient(ctor, {profile, region}). */
  client?: <C>(ctor: new (config: any) => C, region: string) => C
  /** Asks a human (TTY only); absent in scripts, where an unapproved approval step stops the run with exit 10. */
  approve?: (stepId: string, message: string) => Promise<boolean>
  /** Step ids approved in advance (--approve STEP). */
  approved?: string[]
  signal?: AbortSignal
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  now?: () => Date
  onEvent?: (ev: RunEvent) => void
}

export interface StepSummary {
  id: string
  type: string
  wave: string
  state: StepRecord['state']
  reason?: string
  attempts: number
  startedAt?: string
  finishedAt?: string
  outputs?: Record<string, unknown>
  error?: {code: string; message: string}
  resources: CreatedResource[]
}

export interface RunResult {
  runId: string
  dir: string
  mode: RunMode
  playbook: string
  status: Journal['status']
  startedAt: string
  finishedAt?: string
  steps: StepSummary[]
  cleanup?: Journal['cleanup']
  error?: {code: string; message: string}
}

const MAX_BACKOFF_MS = 300_000
const DRILL_DNS_SKIP = 'drill: production DNS is never changed in a drill (name params.drillRecord to shift a drill record instead)'

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal))
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(t)
      reject(abortError(signal!))
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new LifeboatError('interrupted', {code: 'ABORTED'})
}

export class StepTimeout extends LifeboatError {
  constructor(stepId: string, ms: number) {
    super(`step "${stepId}" timed out after ${Math.round(ms / 1000)}s`, {code: 'STEP_TIMEOUT'})
  }
}

/** Starts a new run of a playbook in `mode`: creates the run directory and executes it. */
export async function startRun(o: {loaded: LoadedPlaybook; mode: RunMode; runRoot: string; deps: RunnerDeps}): Promise<RunResult> {
  const {playbook} = o.loaded
  const now = (o.deps.now ?? (() => new Date()))()
  const runId = newRunId(playbook.name, now)
  const regions = {...playbook.regions}
  const effective = o.mode === 'failback' ? {primary: regions.dr, dr: regions.primary} : regions
  const journal: Journal = {
    version: 1,
    runId,
    mode: o.mode,
    playbook: {name: playbook.name, strategy: playbook.strategy, source: o.loaded.file, sha256: createHash('sha256').update(o.loaded.text).digest('hex')},
    regions,
    effectiveRegions: effective,
    targets: {rtoMs: playbook.targets.rto, rpoMs: playbook.targets.rpo},
    aws: {profile: o.deps.aws?.profile},
    status: 'running',
    startedAt: now.toISOString(),
    resumes: [],
    approvals: [...new Set(o.deps.approved ?? [])],
    waves: playbook.waves.map((w) => ({name: w.name})),
    steps: Object.fromEntries(
      allSteps(playbook).map(({step, wave}) => [step.id, {id: step.id, type: step.type, wave, state: 'pending', attempts: 0, tokens: {}, stepState: {}, resources: []} satisfies StepRecord]),
    ),
  }
  const store = await RunStore.create(o.runRoot, journal, o.loaded.text)
  return execute(store, playbook, o.deps, false)
}

/** Opens a run directory: the journal and the run's own copy of the playbook (validated again). */
export async function openRun(dir: string, registry?: StepRegistry): Promise<{store: RunStore; playbook: Playbook}> {
  const store = await RunStore.open(dir)
  const text = await fs.readFile(store.playbookFile, 'utf8')
  const {playbook} = parsePlaybook(text, store.playbookFile, registry)
  return {store, playbook}
}

/**
 * Continues a run after a crash, Ctrl-C, a failure or a missing approval. Finished steps are not redone;
 * a step that was running when the process died runs again with the same tokens, so AWS hands back the
 * resources the first attempt created instead of making new ones.
 */
export async function resumeRun(dir: string, deps: RunnerDeps): Promise<RunResult> {
  const {store, playbook} = await openRun(dir, deps.registry)
  const j = store.journal
  if (j.status === 'succeeded') throw new UsageError(`run ${j.runId} already finished successfully; nothing to resume`, {code: 'RUN_FINISHED'})
  if (j.status === 'rolled-back' || j.status === 'rollback-failed') {
    throw new UsageError(`run ${j.runId} was rolled back; start a new run instead`, {code: 'RUN_ROLLED_BACK'})
  }
  j.approvals = [...new Set([...j.approvals, ...(deps.approved ?? [])])]
  j.resumes.push((deps.now ?? (() => new Date()))().toISOString())
  return execute(store, playbook, deps, true)
}

class Engine {
  readonly now: () => Date
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  readonly signal: AbortSignal
  private readonly clients = new Map<unknown, Map<string, unknown>>()
  private promptChain: Promise<unknown> = Promise.resolve()

  constructor(
    readonly store: RunStore,
    readonly playbook: Playbook,
    readonly deps: RunnerDeps,
  ) {
    this.now = deps.now ?? (() => new Date())
    this.sleep = deps.sleep ?? abortableSleep
    this.signal = deps.signal ?? new AbortController().signal
  }

  get j(): Journal {
    return this.store.journal
  }

  emit(ev: RunEvent): void {
    this.deps.onEvent?.(ev)
  }

  client<C>(ctor: new (config: any) => C, region: string): C {
    if (this.deps.client) return this.deps.client(ctor, region)
    let byRegion = this.clients.get(ctor)
    if (!byRegion) this.clients.set(ctor, (byRegion = new Map()))
    if (!byRegion.has(region)) byRegion.set(region, makeAwsClient(ctor, {profile: this.deps.aws?.profile ?? this.j.aws.profile, region}))
    return byRegion.get(region) as C
  }

  scope(): Scope {
    const steps: Scope['steps'] = {}
    for (const r of Object.values(this.j.steps)) if (r.state === 'succeeded') steps[r.id] = r.outputs ?? {}
    return {steps, regions: this.j.effectiveRegions, run: {id: this.j.runId, mode: this.j.mode}}
  }

  def(type: string): StepDefinition {
    const d = this.deps.registry[type]
    if (!d) throw new LifeboatError(`unknown step type "${type}"`, {code: 'UNKNOWN_STEP_TYPE'})
    return d
  }

  /** A StepContext for a step (run, rollback, cleanup, plan and readiness all use this shape). */
  context(rec: StepRecord, signal: AbortSignal, opts: {readOnly?: boolean} = {}): StepContext {
    const j = this.j
    const readOnly = () => new LifeboatError('read-only: plan and readiness change nothing', {code: 'READ_ONLY'})
    return {
      runId: j.runId,
      mode: j.mode,
      stepId: rec.id,
      regions: {...j.effectiveRegions},
      aws: {profile: this.deps.aws?.profile ?? j.aws.profile},
      client: (ctor, region) => this.client(ctor, region),
      token: (suffix = '') => {
        const existing = rec.tokens[suffix]
        if (existing) return existing
        const t = makeToken(j.runId, rec.id, suffix)
        rec.tokens[suffix] = t
        // Deterministic anyway (run + step + suffix); saved for the record, a write error surfaces on the next save.
        if (!opts.readOnly) this.store.save().catch(() => {})
        return t
      },
      tags: () => ({'lifeboat:run-id': j.runId, 'lifeboat:step': rec.id, 'lifeboat:mode': j.mode, 'lifeboat:playbook': j.playbook.name}),
      recordResource: async (r) => {
        if (opts.readOnly) throw readOnly()
        const i = rec.resources.findIndex((x) => x.kind === r.kind && x.id === r.id && x.region === r.region)
        const full: CreatedResource = {...r, stepId: rec.id}
        if (i === -1) rec.resources.push(full)
        else rec.resources[i] = {...rec.resources[i], ...full}
        await this.store.save()
      },
      state: rec.stepState,
      saveState: async (patch) => {
        if (opts.readOnly) throw readOnly()
        Object.assign(rec.stepState, patch)
        await this.store.save()
      },
      approve: (message) => this.approve(rec, message),
      log: {
        info: (message) => this.emit({kind: 'step-log', stepId: rec.id, message}),
        progress: (message) => this.emit({kind: 'step-progress', stepId: rec.id, message}),
      },
      signal,
      sleep: (ms) => this.sleep(ms, signal),
      now: this.now,
      targets: {...j.targets},
    }
  }

  private async approve(rec: StepRecord, message: string): Promise<boolean> {
    const at = () => this.now().toISOString()
    if (this.j.approvals.includes(rec.id)) {
      rec.approval = {by: 'flag', at: at(), answer: true}
      await this.store.save()
      return true
    }
    const ask = this.deps.approve
    if (!ask) {
      throw new ApprovalRequiredError(`step "${rec.id}" needs approval: ${message}`, {
        where: `${this.store.dir}`,
        hint: `pass --approve ${rec.id}; \`lifeboat dr resume ${this.j.runId} --approve ${rec.id}\` continues this run`,
        details: {runId: this.j.runId, step: rec.id, flag: `--approve ${rec.id}`},
      })
    }
    // One question at a time, even when two approval steps share a wave.
    const answer = (this.promptChain = this.promptChain.then(() => ask(rec.id, message))) as Promise<boolean>
    const yes = await answer
    rec.approval = {by: 'prompt', at: at(), answer: yes}
    if (yes) this.j.approvals.push(rec.id)
    await this.store.save()
    return yes
  }

  /**
   * The params a step runs with: failback overrides, then ${...} interpolation, then the drill DNS record.
   * Returns a skip reason instead when the runner must not run the step.
   */
  params(step: PlaybookStep): {params: Record<string, unknown>} | {skip: string} {
    const params = interpolate(modeParams(step, this.j.mode, this.j.regions), this.scope()) as Record<string, unknown>
    // Enforced here as well as in the step: a drill never runs a DNS shift on production records.
    if (this.j.mode === 'drill' && DNS_SHIFTS.includes(step.type) && params.drillRecord === undefined) {
      return {skip: DRILL_DNS_SKIP}
    }
    return {params}
  }
}

/** A step's raw params for a mode: failback transforms (below), or the drill overrides. */
export function modeParams(step: PlaybookStep, mode: RunMode, regions: {primary: string; dr: string}): Record<string, unknown> {
  if (mode === 'failback') return failbackParams(step, regions)
  if (mode === 'drill' && step.drill) return {...step.params, ...step.drill.params}
  return step.params
}

/** Literal region names swap (primary ↔ dr); a two-record route53.weights mirrors; `failback.params` win. */
export function failbackParams(step: PlaybookStep, regions: {primary: string; dr: string}): Record<string, unknown> {
  const swap = (v: unknown): unknown => {
    if (v === regions.primary) return regions.dr
    if (v === regions.dr) return regions.primary
    if (Array.isArray(v)) return v.map(swap)
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]))
    return v
  }
  const p = swap(step.params) as Record<string, unknown>
  const override = step.failback?.params ?? {}
  if (step.type === 'route53.weights' && override.weights === undefined && p.weights && typeof p.weights === 'object') {
    const entries = Object.entries(p.weights as Record<string, unknown>)
    if (entries.length !== 2) {
      throw new UsageError(`step "${step.id}": failback can mirror only two weighted records; give failback.params.weights`, {code: 'FAILBACK_WEIGHTS'})
    }
    p.weights = {[entries[0][0]]: entries[1][1], [entries[1][0]]: entries[0][1]}
  }
  return {...p, ...override}
}

export function stepApplies(step: PlaybookStep, mode: RunMode): boolean {
  const w = whenList(step.when)
  return w.includes('always') || w.includes(mode)
}

async function execute(store: RunStore, playbook: Playbook, deps: RunnerDeps, resumed: boolean): Promise<RunResult> {
  const e = new Engine(store, playbook, deps)
  const j = e.j
  await store.lock()
  try {
    j.status = 'running'
    delete j.error
    delete j.finishedAt
    await store.save()
    e.emit({kind: 'run-start', runId: j.runId, dir: store.dir, mode: j.mode, resumed, waves: playbook.waves.map((w) => ({name: w.name, steps: w.steps.map((s) => ({id: s.id, type: s.type}))}))})
    let stop: 'failed' | 'awaiting-approval' | 'aborted' | undefined
    for (const [wi, wave] of playbook.waves.entries()) {
      const wrec = j.waves[wi]
      const finished = wave.steps.every((s) => isFinal(j.steps[s.id]))
      if (finished) continue
      if (e.signal.aborted) {
        stop = 'aborted'
        break
      }
      wrec.startedAt ??= e.now().toISOString()
      await store.save()
      e.emit({kind: 'wave-start', wave: wi, name: wave.name})
      const running = new Map<string, Promise<void>>()
      for (const step of wave.steps) running.set(step.id, runStep(e, step, running))
      await Promise.all(running.values())
      wrec.finishedAt = e.now().toISOString()
      await store.save()
      e.emit({kind: 'wave-done', wave: wi, name: wave.name})
      const recs = wave.steps.map((s) => ({s, r: j.steps[s.id]}))
      if (e.signal.aborted) stop = 'aborted'
      else if (recs.some(({s, r}) => (r.state === 'failed' && !s.continueOnError) || r.state === 'blocked')) stop = 'failed'
      else if (recs.some(({r}) => r.state === 'awaiting-approval' || r.state === 'pending')) stop = 'awaiting-approval'
      if (stop) break
    }
    j.status = stop ?? 'succeeded'
    j.finishedAt = e.now().toISOString()
    const failed = Object.values(j.steps).find((r) => r.state === 'failed')
    if (stop === 'failed' && failed?.error) j.error = {code: failed.error.code, message: `step "${failed.id}": ${failed.error.message}`}
    if (stop === 'aborted') j.error = {code: 'ABORTED', message: 'interrupted'}
    await store.save()
    if (j.mode === 'drill' && (j.status === 'succeeded' || j.status === 'failed')) await cleanupEngine(e)
  } finally {
    await store.unlock()
  }
  const result = runResult(store)
  if (j.status === 'awaiting-approval') {
    const waiting = Object.values(j.steps).filter((r) => r.state === 'awaiting-approval').map((r) => r.id)
    throw new ApprovalRequiredError(`run ${j.runId} is waiting for approval of ${waiting.map((s) => `"${s}"`).join(', ')}`, {
      where: store.dir,
      hint: `continue with: lifeboat dr resume ${j.runId} ${waiting.map((s) => `--approve ${s}`).join(' ')}`,
      details: {runId: j.runId, dir: store.dir, steps: waiting, flags: waiting.map((s) => `--approve ${s}`), run: result},
    })
  }
  return result
}

function isFinal(r: StepRecord): boolean {
  return r.state === 'succeeded' || r.state === 'skipped'
}

async function runStep(e: Engine, step: PlaybookStep, wave: Map<string, Promise<void>>): Promise<void> {
  // Let the wave register every step's promise before anyone looks up a dependency.
  await null
  const j = e.j
  const rec = j.steps[step.id]
  if (isFinal(rec)) return
  const finish = async (state: StepRecord['state'], extra: {reason?: string; error?: unknown} = {}) => {
    rec.state = state
    rec.reason = extra.reason
    if (extra.error === undefined) delete rec.error
    else rec.error = {code: errorCode(extra.error), message: errorMessage(extra.error)}
    if (state === 'succeeded' || state === 'failed') rec.finishedAt = e.now().toISOString()
    await e.store.save()
    e.emit({kind: 'step-done', stepId: rec.id, state, reason: extra.reason, error: rec.error?.message})
  }
  if (!stepApplies(step, j.mode)) return finish('skipped', {reason: `when: ${whenList(step.when).join(', ')} (this run is a ${j.mode})`})

  // Dependencies: same-wave ones are awaited; earlier waves are finished by now.
  for (const dep of step.dependsOn) await wave.get(dep)
  for (const dep of step.dependsOn) {
    const d = j.steps[dep]
    if (d.state === 'failed' || d.state === 'blocked') return finish('blocked', {reason: `dependency "${dep}" ${d.state}`})
    if (d.state === 'awaiting-approval' || d.state === 'pending' || d.state === 'running') return finish('pending', {reason: `waits for "${dep}"`})
  }
  if (e.signal.aborted) return

  let params: Record<string, unknown>
  let def: StepDefinition
  let parsed: unknown
  try {
    def = e.def(step.type)
    const p = e.params(step)
    if ('skip' in p) return finish('skipped', {reason: p.skip})
    params = p.params
    rec.params = params
    const r = def.params.safeParse(params)
    if (!r.success) {
      const msg = r.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ')
      throw new LifeboatError(`invalid params after interpolation: ${msg}`, {code: 'INVALID_PARAMS'})
    }
    parsed = r.data
  } catch (error) {
    rec.attempts += 1
    rec.startedAt ??= e.now().toISOString()
    return finish('failed', {error})
  }

  for (let attempt = 1; ; attempt++) {
    rec.attempts += 1
    rec.state = 'running'
    delete rec.reason
    rec.startedAt ??= e.now().toISOString()
    await e.store.save()
    e.emit({kind: 'step-start', stepId: rec.id, attempt: rec.attempts})
    const attemptCtl = new AbortController()
    const signal = AbortSignal.any([e.signal, attemptCtl.signal])
    let timer: NodeJS.Timeout | undefined
    try {
      const ctx = e.context(rec, signal)
      const work = def.run(parsed, ctx)
      const guards: Array<Promise<never>> = [
        new Promise<never>((_, reject) => {
          const onAbort = () => reject(abortError(signal))
          if (signal.aborted) onAbort()
          else signal.addEventListener('abort', onAbort, {once: true})
        }),
      ]
      if (step.timeout !== undefined) {
        const ms = step.timeout
        timer = setTimeout(() => attemptCtl.abort(new StepTimeout(step.id, ms)), ms)
      }
      const result: StepResult = await Promise.race([work, ...guards])
      work.catch(() => {})
      rec.outputs = result.outputs ?? {}
      return await finish('succeeded')
    } catch (error) {
      if (error instanceof ApprovalRequiredError) return finish('awaiting-approval', {reason: error.message})
      if (e.signal.aborted) return finish('failed', {error: new LifeboatError('interrupted (Ctrl-C); `lifeboat dr resume` runs the step again', {code: 'ABORTED'})})
      if (attempt > step.retries || !retryable(error)) return finish('failed', {error})
      const delayMs = Math.min(step.retryDelay * 2 ** (attempt - 1), MAX_BACKOFF_MS)
      e.emit({kind: 'step-retry', stepId: rec.id, attempt: rec.attempts, delayMs, error: errorMessage(error)})
      rec.error = {code: errorCode(error), message: errorMessage(error)}
      try {
        await e.sleep(delayMs, e.signal)
      } catch {
        return finish('failed', {error: new LifeboatError('interrupted (Ctrl-C) while waiting to retry', {code: 'ABORTED'})})
      }
    } finally {
      if (timer) clearTimeout(timer)
    }
  }
}

function retryable(error: unknown): boolean {
  if (error instanceof ApprovalRequiredError || error instanceof UsageError) return false
  const code = errorCode(error)
  return code !== 'INVALID_PARAMS' && code !== 'APPROVAL_DECLINED'
}

function errorCode(error: unknown): string {
  if (error instanceof LifeboatError) return error.code
  const name = (error as {name?: string})?.name
  return typeof name === 'string' && name !== 'Error' ? name : 'FAILURE'
}

export function runResult(store: RunStore): RunResult {
  const j = store.journal
  const waveName = (i: number) => j.waves[i]?.name ?? String(i)
  return {
    runId: j.runId,
    dir: store.dir,
    mode: j.mode,
    playbook: j.playbook.name,
    status: j.status,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    steps: Object.values(j.steps).map((r) => ({
      id: r.id,
      type: r.type,
      wave: waveName(r.wave),
      state: r.state,
      reason: r.reason,
      attempts: r.attempts,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      outputs: r.outputs,
      error: r.error,
      resources: r.resources,
    })),
    cleanup: j.cleanup,
    error: j.error,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Drill cleanup and rollback

/**
 * Removes every resource the run recorded (newest step first) through the step's removeResource, then
 * sweeps both regions for anything still tagged lifeboat:run-id=<run>. Whatever could not be removed is a
 * leftover, listed in the journal; `dr cleanup RUN` tries again.
 */
export async function cleanupRun(dir: string, deps: RunnerDeps): Promise<RunResult> {
  const {store, playbook} = await openRun(dir, deps.registry)
  const e = new Engine(store, playbook, deps)
  await store.lock()
  try {
    await cleanupEngine(e)
  } finally {
    await store.unlock()
  }
  return runResult(store)
}

async function cleanupEngine(e: Engine): Promise<void> {
  const j = e.j
  const recs = Object.values(j.steps)
    .filter((r) => r.resources.length > 0)
    .sort((a, b) => (b.startedAt ?? '').localeCompare(a.startedAt ?? '') || b.wave - a.wave)
  const pending = recs.flatMap((r) => r.resources.filter((x) => !x.removedAt).map((x) => ({r, x})).reverse())
  e.emit({kind: 'cleanup-start', resources: pending.length})
  const removed: CreatedResource[] = []
  const leftovers: Array<CreatedResource & {error: string}> = []
  const signal = e.signal
  for (const {r, x} of pending) {
    const def = e.deps.registry[r.type]
    if (!def?.removeResource) {
      leftovers.push({...x, error: `step type ${r.type} cannot remove ${x.kind}`})
      e.emit({kind: 'cleanup-resource', resource: x, ok: false, error: leftovers.at(-1)!.error})
      continue
    }
    try {
      await def.removeResource(x, e.context(r, signal))
      x.removedAt = e.now().toISOString()
      removed.push(x)
      await e.store.save()
      e.emit({kind: 'cleanup-resource', resource: x, ok: true})
    } catch (error) {
      leftovers.push({...x, error: errorMessage(error)})
      e.emit({kind: 'cleanup-resource', resource: x, ok: false, error: errorMessage(error)})
    }
  }
  let swept: CreatedResource[] = []
  if (e.deps.sweep) {
    const sctx: SweepContext = {
      client: (ctor, region) => e.client(ctor, region),
      regions: [...new Set([j.regions.primary, j.regions.dr])],
      signal,
      log: (message) => e.emit({kind: 'step-log', stepId: '(cleanup)', message}),
      sleep: (ms) => e.sleep(ms, signal),
      now: e.now,
    }
    try {
      // Whatever still carries the run's tag (the journal missed it, or its removal failed above).
      const found = await e.deps.sweep(j.runId, sctx)
      swept = found.filter((x) => x.removedAt)
      for (const x of found.filter((f) => !f.removedAt)) {
        if (!leftovers.some((l) => l.kind === x.kind && l.id === x.id)) leftovers.push({...x, error: String(x.undo?.error ?? 'could not be removed')})
      }
      // The leak check: look again, delete nothing; anything still tagged is a leftover.
      for (const x of await e.deps.sweep(j.runId, {...sctx, dryRun: true})) {
        if (!leftovers.some((l) => l.kind === x.kind && l.id === x.id)) leftovers.push({...x, error: 'still tagged with the run id after cleanup'})
      }
    } catch (error) {
      leftovers.push({kind: 'sweep', id: `lifeboat:run-id=${j.runId}`, region: `${j.regions.primary},${j.regions.dr}`, stepId: '(sweep)', error: errorMessage(error)})
    }
  } else {
    leftovers.push({kind: 'sweep', id: `lifeboat:run-id=${j.runId}`, region: '', stepId: '(sweep)', error: 'no tag sweep available in this build'})
  }
  j.cleanup = {at: e.now().toISOString(), removed: [...(j.cleanup?.removed ?? []), ...removed], swept: [...(j.cleanup?.swept ?? []), ...swept], leftovers}
  await e.store.save()
  e.emit({kind: 'cleanup-done', removed: removed.length, swept: swept.length, leftovers: leftovers.length})
}

/**
 * Undoes a run, newest finished step first: a step's `rollback: {type, params}`, else its type's rollback,
 * else removal of the resources it recorded. Stops at the first failure (undoing instances while DNS still
 * points at them would be worse); running it again continues where it stopped.
 */
export async function rollbackRun(dir: string, deps: RunnerDeps): Promise<RunResult> {
  const {store, playbook} = await openRun(dir, deps.registry)
  const e = new Engine(store, playbook, deps)
  const j = e.j
  const byId = new Map(allSteps(playbook).map((l) => [l.step.id, l.step]))
  await store.lock()
  try {
    const order = Object.values(j.steps)
      .filter((r) => r.state === 'succeeded' || r.resources.some((x) => !x.removedAt))
      .sort((a, b) => (b.finishedAt ?? b.startedAt ?? '').localeCompare(a.finishedAt ?? a.startedAt ?? '') || b.wave - a.wave)
    let failed = false
    for (const rec of order) {
      if (rec.rollback && rec.rollback.state !== 'failed') continue
      const step = byId.get(rec.id)!
      const at = () => e.now().toISOString()
      try {
        const ctx = e.context(rec, e.signal)
        let state: NonNullable<StepRecord['rollback']>['state'] = 'succeeded'
        const def = e.def(rec.type)
        if (step.rollback === false) state = 'disabled'
        else if (step.rollback) {
          const rdef = e.def(step.rollback.type)
          const params = rdef.params.parse(interpolate(step.rollback.params, e.scope()))
          await rdef.run(params, {...ctx, token: (s = '') => ctx.token(`rollback:${s}`)})
        } else if (rec.state === 'succeeded' && def.rollback) {
          await def.rollback(def.params.parse(rec.params ?? {}), {outputs: rec.outputs ?? {}}, ctx)
          const now = at()
          for (const x of rec.resources) x.removedAt ??= now
        } else if (def.removeResource && rec.resources.some((x) => !x.removedAt)) {
          for (const x of [...rec.resources].reverse()) {
            if (x.removedAt) continue
            await def.removeResource(x, ctx)
            x.removedAt = at()
            await store.save()
          }
        } else state = 'nothing-to-undo'
        rec.rollback = {state, at: at()}
        await store.save()
        e.emit({kind: 'rollback-step', stepId: rec.id, state})
      } catch (error) {
        rec.rollback = {state: 'failed', at: at(), error: errorMessage(error)}
        await store.save()
        e.emit({kind: 'rollback-step', stepId: rec.id, state: 'failed', error: errorMessage(error)})
        failed = true
        break
      }
    }
    j.status = failed ? 'rollback-failed' : 'rolled-back'
    const bad = Object.values(j.steps).find((r) => r.rollback?.state === 'failed')
    j.error = bad ? {code: 'ROLLBACK_FAILED', message: `rollback of step "${bad.id}" failed: ${bad.rollback!.error}`} : undefined
    await store.save()
  } finally {
    await store.unlock()
  }
  return runResult(store)
}

// ---------------------------------------------------------------------------------------------------------
// plan and readiness (read-only)

export interface PlanRow {
  wave: string
  step: string
  type: string
  action: string
  summary: string
  details?: Record<string, unknown>
}

function readOnlyEngine(playbook: Playbook, mode: RunMode, deps: RunnerDeps): Engine {
  const regions = {...playbook.regions}
  const journal: Journal = {
    version: 1,
    runId: `plan-${playbook.name}`,
    mode,
    playbook: {name: playbook.name, strategy: playbook.strategy, source: '', sha256: ''},
    regions,
    effectiveRegions: mode === 'failback' ? {primary: regions.dr, dr: regions.primary} : regions,
    targets: {rtoMs: playbook.targets.rto, rpoMs: playbook.targets.rpo},
    aws: {profile: deps.aws?.profile},
    status: 'running',
    startedAt: new Date(0).toISOString(),
    resumes: [],
    approvals: deps.approved ?? [],
    waves: playbook.waves.map((w) => ({name: w.name})),
    steps: Object.fromEntries(allSteps(playbook).map(({step, wave}) => [step.id, {id: step.id, type: step.type, wave, state: 'pending', attempts: 0, tokens: {}, stepState: {}, resources: []} satisfies StepRecord])),
  }
  const store = new RunStore('(plan)', journal)
  store.save = async () => {}
  return new Engine(store, playbook, {...deps, approve: async () => false})
}

/** Params for read-only use: references to outputs that do not exist yet stay as `${...}` text. */
function previewParams(e: Engine, step: PlaybookStep): {params: Record<string, unknown>; parsed: unknown} | {skip: string} {
  const params = interpolate(modeParams(step, e.j.mode, e.j.regions), e.scope(), {unresolved: 'keep'}) as Record<string, unknown>
  if (e.j.mode === 'drill' && DNS_SHIFTS.includes(step.type) && params.drillRecord === undefined) return {skip: DRILL_DNS_SKIP}
  const r = e.def(step.type).params.safeParse(params)
  return {params, parsed: r.success ? r.data : params}
}

export async function planPlaybook(playbook: Playbook, mode: RunMode, deps: RunnerDeps): Promise<PlanRow[]> {
  const e = readOnlyEngine(playbook, mode, deps)
  const rows: PlanRow[] = []
  for (const [wi, wave] of playbook.waves.entries()) {
    const lines = await Promise.all(
      wave.steps.map(async (step): Promise<PlanRow> => {
        const base = {wave: wave.name, step: step.id, type: step.type}
        if (!stepApplies(step, mode)) return {...base, action: 'skip', summary: `not run in a ${mode} (when: ${whenList(step.when).join(', ')})`}
        try {
          const p = previewParams(e, step)
          if ('skip' in p) return {...base, action: 'skip', summary: p.skip}
          const line = await e.def(step.type).plan(p.parsed, e.context(e.j.steps[step.id], e.signal, {readOnly: true}))
          return {...base, action: line.action, summary: line.summary, details: line.details}
        } catch (error) {
          return {...base, action: 'error', summary: errorMessage(error)}
        }
      }),
    )
    rows.push(...lines)
    void wi
  }
  return rows
}

export interface ReadinessRow extends Omit<import('./step-types.js').ReadinessCheck, 'severity'> {
  step: string
  severity: 'error' | 'warn'
}

export interface ReadinessResult {
  ok: boolean
  checks: ReadinessRow[]
}

/**
 * Read-only checks: credentials in both regions (STS GetCallerIdentity), then each step's own readiness
 * checks (AMIs, templates, subnets, EIPs, zones and records, recovery point age ≤ RPO, …).
 */
export async function readinessPlaybook(
  playbook: Playbook,
  mode: RunMode,
  deps: RunnerDeps & {identity?: (region: string) => Promise<{account?: string; arn?: string}>},
): Promise<ReadinessResult> {
  const e = readOnlyEngine(playbook, mode, deps)
  const checks: ReadinessRow[] = []
  const identity =
    deps.identity ??
    (async (region: string) => {
      const {STSClient, GetCallerIdentityCommand} = await import('@aws-sdk/client-sts')
      const out = await e.client(STSClient, region).send(new GetCallerIdentityCommand({}))
      return {account: out.Account, arn: out.Arn}
    })
  for (const [role, region] of Object.entries(playbook.regions)) {
    try {
      const id = await identity(region)
      checks.push({step: '(run)', name: `credentials in ${role} region ${region}`, ok: true, detail: `account ${id.account ?? '?'} as ${id.arn ?? '?'}`, severity: 'error'})
    } catch (error) {
      checks.push({step: '(run)', name: `credentials in ${role} region ${region}`, ok: false, detail: errorMessage(error), severity: 'error'})
    }
  }
  const perStep = await Promise.all(
    allSteps(playbook).map(async ({step}) => {
      if (!stepApplies(step, mode)) return []
      const def = e.def(step.type)
      if (!def.readiness) return []
      try {
        const p = previewParams(e, step)
        if ('skip' in p) return []
        const list = await def.readiness(p.parsed, e.context(e.j.steps[step.id], e.signal, {readOnly: true}))
        return list.map((c) => ({...c, step: step.id, severity: c.severity ?? 'error'}) as ReadinessRow)
      } catch (error) {
        return [{step: step.id, name: `${step.type} readiness`, ok: false, detail: errorMessage(error), severity: 'error'} as ReadinessRow]
      }
    }),
  )
  checks.push(...perStep.flat())
  return {ok: checks.every((c) => c.ok || c.severity === 'warn'), checks}
}
