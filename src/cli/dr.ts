import {type Command, Flags} from '@oclif/core'
import {Listr, ListrLogger, ProcessOutput} from 'listr2'

import {resolveAws} from '../aws/clients.js'
import {defaultRunRoot, RunStore} from '../dr/journal.js'
import {loadPlaybook, type LoadedPlaybook} from '../dr/playbook.js'
import {loadRegistry} from '../dr/registry.js'
import {buildReport, type RunReport} from '../dr/report.js'
import {stepApplies, type RunEvent, type RunnerDeps, type RunResult} from '../dr/runner.js'
import type {Playbook} from '../dr/schema.js'
import {errorMessage, ExitCode, LifeboatError} from '../errors.js'
import type {JobOutcome} from '../ops/report.js'
import {reportJob} from '../ops/report.js'
import type {RunMode} from '../dr/step-types.js'
import {formatDuration} from '../progress.js'
import {awsFlags} from './aws-flags.js'
import {BaseCommand} from './base-command.js'
import {table} from './format.js'
import {jobIO} from './job-flags.js'
import type {PromptPolicy} from './prompt.js'
import {renderMode, type RenderMode} from './progress.js'

/** Plumbing shared by the `dr` commands: flags, registry, progress renderers, approvals, Ctrl-C. */

export const playbookFlag = Flags.string({char: 'f', description: 'The playbook file (YAML).', required: true})
export const runDirFlag = Flags.string({description: 'Where runs are kept (default $XDG_STATE_HOME/lifeboat/dr/runs).', env: 'LIFEBOAT_DR_RUN_DIR'})
export const approveFlag = Flags.string({
  description: 'Approve this approval step in advance (repeatable); without it a script stops with exit 10 at the step.',
  multiple: true,
  multipleNonGreedy: true,
})
export const drAwsFlags = {profile: awsFlags.profile}

export function runRoot(flag?: string): string {
  return flag ?? defaultRunRoot()
}

export async function readPlaybook(file: string): Promise<LoadedPlaybook> {
  const {steps} = await loadRegistry()
  return loadPlaybook(file, steps)
}

export async function runnerDeps(o: {profile?: string; approve?: string[]; policy?: PromptPolicy; signal?: AbortSignal; onEvent?: (ev: RunEvent) => void; beforePrompt?: () => void}): Promise<RunnerDeps> {
  const {steps, sweep, sleep, now} = await loadRegistry()
  const deps: RunnerDeps = {registry: steps, sweep, sleep, now, aws: resolveAws({profile: o.profile}), approved: o.approve ?? [], signal: o.signal, onEvent: o.onEvent}
  if (o.policy?.interactive) {
    deps.approve = async (stepId, message) => {
      o.beforePrompt?.()
      const {confirm} = await import('@inquirer/prompts')
      return confirm({message: `[${stepId}] ${message}`, default: false})
    }
  }
  return deps
}

/**
 * Ctrl-C aborts the run's signal: running steps see it, the journal is saved and `dr resume RUN` continues.
 * A second Ctrl-C exits at once (the journal is still consistent: it is written atomically).
 */
export function interruptible(): {signal: AbortSignal; dispose: () => void} {
  const ctl = new AbortController()
  let count = 0
  const onSig = () => {
    count++
    if (count === 1) {
      process.stderr.write('\ninterrupted: stopping the running steps (Ctrl-C again to exit at once; `lifeboat dr resume RUN` continues)\n')
      ctl.abort()
    } else process.exit(130)
  }
  process.on('SIGINT', onSig)
  process.on('SIGTERM', onSig)
  return {
    signal: ctl.signal,
    dispose() {
      process.off('SIGINT', onSig)
      process.off('SIGTERM', onSig)
    },
  }
}

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (e: Error) => void
  skip?: string
  output?: (s: string) => void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (e: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => {})
  return {promise, resolve, reject}
}

export interface RunProgress {
  onEvent: (ev: RunEvent) => void
  /** Call once the run is over (whatever happened): settles the display. */
  finish: () => Promise<void>
}

/**
 * Progress of a run: listr2 (a task per wave, a concurrent subtask per step) on a TTY ('simple' renderer
 * when an approval may prompt, so the question is not redrawn over), plain lines otherwise, nothing under --json.
 */
export function runProgress(mode: RenderMode, opts: {mayPrompt?: boolean; title?: string; write?: (line: string) => void} = {}): RunProgress {
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'))
  if (mode === 'silent') return {onEvent: () => {}, finish: async () => {}}
  if (mode === 'plain') return plainRunProgress(write)

  const steps = new Map<string, Deferred>()
  const waves = new Map<number, Deferred>()
  let list: Listr<any, any, any> | undefined
  let running: Promise<void> | undefined
  const onEvent = (ev: RunEvent) => {
    switch (ev.kind) {
      case 'run-start': {
        list = new Listr(
          ev.waves.map((w, wi) => {
            waves.set(wi, deferred())
            return {
              title: `wave ${wi + 1}/${ev.waves.length}: ${w.name}`,
              task: (_ctx, task) =>
                task.newListr(
                  w.steps.map((s) => {
                    const d = deferred()
                    steps.set(s.id, d)
                    return {
                      title: `${s.id} (${s.type})`,
                      task: async (_c, t) => {
                        d.output = (m) => (t.output = m)
                        await d.promise
                        if (d.skip) t.skip(`${s.id}: ${d.skip}`)
                      },
                    }
                  }),
                  {concurrent: true, exitOnError: false},
                ),
            }
          }),
          {
            // 'simple' when a prompt may appear, or when the terminal reports no width (log-update would wrap at 1 column).
            renderer: opts.mayPrompt || !process.stderr.columns ? 'simple' : 'default',
            rendererOptions: {collapseErrors: false, logger: new ListrLogger({processOutput: new ProcessOutput(process.stderr, process.stderr)})} as any,
            exitOnError: false,
            registerSignalListeners: false,
          },
        )
        running = list!.run().then(
          () => {},
          () => {},
        )
        break
      }
      case 'step-progress':
      case 'step-log': {
        steps.get(ev.stepId)?.output?.(ev.message)
        break
      }
      case 'step-retry': {
        steps.get(ev.stepId)?.output?.(`attempt ${ev.attempt} failed (${ev.error}); retrying in ${formatDuration(ev.delayMs / 1000)}`)
        break
      }
      case 'step-done': {
        const d = steps.get(ev.stepId)
        if (!d) break
        if (ev.state === 'succeeded') d.resolve()
        else if (ev.state === 'failed') d.reject(new Error(`${ev.stepId}: ${ev.error ?? 'failed'}`))
        else {
          d.skip = `${ev.state}${ev.reason ? `: ${ev.reason}` : ''}`
          d.resolve()
        }
        break
      }
      case 'cleanup-done': {
        write(`cleanup: ${ev.removed} removed, ${ev.swept} found by tag, ${ev.leftovers} left over`)
        break
      }
      default:
    }
  }
  return {
    onEvent,
    async finish() {
      for (const d of steps.values()) {
        d.skip ??= 'not reached'
        d.resolve()
      }
      for (const d of waves.values()) d.resolve()
      await running
    },
  }
}

function plainRunProgress(write: (line: string) => void): RunProgress {
  const started = new Map<string, number>()
  let waveCount = 0
  return {
    onEvent(ev) {
      switch (ev.kind) {
        case 'run-start': {
          waveCount = ev.waves.length
          write(`${ev.resumed ? 'resuming' : 'starting'} ${ev.mode} run ${ev.runId} (${ev.dir})`)
          break
        }
        case 'wave-start': {
          write(`wave ${ev.wave + 1}/${waveCount}: ${ev.name}`)
          break
        }
        case 'step-start': {
          started.set(ev.stepId, Date.now())
          write(`  ${ev.stepId}: started${ev.attempt > 1 ? ` (attempt ${ev.attempt})` : ''}`)
          break
        }
        case 'step-log': {
          write(`  ${ev.stepId}: ${ev.message}`)
          break
        }
        case 'step-retry': {
          write(`  ${ev.stepId}: attempt ${ev.attempt} failed (${ev.error}); retrying in ${formatDuration(ev.delayMs / 1000)}`)
          break
        }
        case 'step-done': {
          const t = started.get(ev.stepId)
          const took = t ? ` in ${formatDuration((Date.now() - t) / 1000)}` : ''
          write(`  ${ev.stepId}: ${ev.state}${ev.state === 'succeeded' || ev.state === 'failed' ? took : ''}${ev.reason ? ` (${ev.reason})` : ''}${ev.error ? `: ${ev.error}` : ''}`)
          break
        }
        case 'cleanup-start': {
          write(`cleanup: removing ${ev.resources} recorded resource(s), then sweeping by tag`)
          break
        }
        case 'cleanup-resource': {
          write(`  ${ev.ok ? 'removed' : 'FAILED to remove'} ${ev.resource.kind} ${ev.resource.id} (${ev.resource.region})${ev.error ? `: ${ev.error}` : ''}`)
          break
        }
        case 'cleanup-done': {
          write(`cleanup: ${ev.removed} removed, ${ev.swept} found by tag, ${ev.leftovers} left over`)
          break
        }
        case 'rollback-step': {
          write(`  rollback ${ev.stepId}: ${ev.state}${ev.error ? `: ${ev.error}` : ''}`)
          break
        }
        default:
      }
    },
    finish: async () => {},
  }
}

export function modeOf(id: string | undefined): RunMode {
  const verb = (id ?? '').split(':').at(-1)
  return verb === 'failback' ? 'failback' : verb === 'drill' ? 'drill' : 'failover'
}

/** The run commands (failover, failback, drill, resume): progress, Ctrl-C, result table, exit codes. */
export abstract class DrRunCommand<T extends typeof Command> extends BaseCommand<T> {
  /**
   * Runs `work` with progress and Ctrl-C handling. With `job`, the run is reported as the job dr-<mode>
   * (resource = the playbook): notifications, --metrics-file, --log-file and the record `lifeboat status` reads,
   * with the achieved RTO/RPO from the journal. The result and the exit code are the same either way.
   */
  protected async execute(o: {approve?: string[]; profile?: string; mayPrompt: boolean; work: (deps: RunnerDeps) => Promise<RunResult>; job?: {mode: RunMode; playbook: string}}): Promise<RunResult> {
    if (!o.job) return this.finishRun(await this.executeRun(o))
    const {config} = await this.getConfig()
    const flags = this.flags as {'metrics-file'?: string; 'log-file'?: string}
    let report: RunReport | undefined
    const result = await reportJob(
      {job: `dr-${o.job.mode}`, resource: o.job.playbook, io: jobIO(flags, config, (m) => this.info(m))},
      async () => {
        const r = await this.executeRun(o)
        try {
          report = buildReport((await RunStore.open(r.dir)).journal)
        } catch (error) {
          this.info(`the run's RTO/RPO could not be measured for the job report: ${errorMessage(error)}`)
        }
        return r
      },
      (r) => drRunOutcome(r, report),
    )
    return this.finishRun(result)
  }

  private async executeRun(o: {approve?: string[]; profile?: string; mayPrompt: boolean; work: (deps: RunnerDeps) => Promise<RunResult>}): Promise<RunResult> {
    const policy = this.prompts
    const progress = runProgress(renderMode({json: this.jsonEnabled()}), {mayPrompt: o.mayPrompt && policy.interactive})
    const intr = interruptible()
    let result: RunResult
    try {
      const deps = await runnerDeps({profile: o.profile, approve: o.approve, policy, signal: intr.signal, onEvent: progress.onEvent})
      result = await o.work(deps)
    } catch (error) {
      await progress.finish()
      // Exit 10: show where the run stands before the error that names the flag.
      const run = (error as {details?: {run?: RunResult}}).details?.run
      if (run && !this.jsonEnabled()) this.renderRun(run)
      throw error
    } finally {
      intr.dispose()
      await progress.finish()
    }
    if (!this.jsonEnabled()) this.renderRun(result)
    return result
  }

  private finishRun(result: RunResult): RunResult {
    if (result.status === 'aborted') {
      throw new LifeboatError(`run ${result.runId} was interrupted`, {code: 'ABORTED', where: result.dir, hint: `continue with: lifeboat dr resume ${result.runId}`, details: result})
    }
    const leftovers = drillLeftovers(result)
    if (leftovers.length > 0) {
      throw new LifeboatError(`drill ${result.runId} left ${leftovers.length} resource(s) behind: ${leftovers.map((x) => `${x.kind} ${x.id} (${x.region}): ${x.error}`).join('; ')}`, {
        code: 'DRILL_LEFTOVERS',
        where: result.dir,
        hint: `remove them with: lifeboat dr cleanup ${result.runId}`,
        details: result,
      })
    }
    if (result.status === 'failed') this.exitCodeAfterRun = ExitCode.FAILURE
    return result
  }

  protected renderRun(r: RunResult): void {
    const rows = r.steps.map((s) => [s.wave, s.id, s.type, s.state, s.attempts, s.startedAt && s.finishedAt ? formatDuration((Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000) : '', s.error?.message ?? s.reason ?? ''])
    this.log(table(['WAVE', 'STEP', 'TYPE', 'STATE', 'TRIES', 'TOOK', 'NOTE'], rows))
    this.log('')
    this.log(`run ${r.runId}: ${r.status}${r.error ? ` (${r.error.message})` : ''}`)
    if (r.cleanup) this.log(`cleanup: ${r.cleanup.removed.length} removed, ${r.cleanup.swept.length} found by tag, ${r.cleanup.leftovers.length} left over`)
    this.log(`journal: ${r.dir}/journal.json · report: lifeboat dr report ${r.runId} --html report.html`)
    if (r.status === 'failed') this.log(`after fixing the cause: lifeboat dr resume ${r.runId}   (or undo: lifeboat dr rollback ${r.runId})`)
  }
}

/** Whether any approval step of the playbook would ask in this mode (so the renderer leaves room for it). */
export function hasOpenApprovals(p: Playbook, mode: RunMode, approved: string[] = []): boolean {
  return p.waves.some((w) => w.steps.some((s) => s.type === 'approval' && stepApplies(s, mode) && !approved.includes(s.id)))
}

/** Leftovers are a run's failure only when it cleaned up (a drill's end, `dr cleanup`), not on rollback. */
function drillLeftovers(r: RunResult): NonNullable<RunResult['cleanup']>['leftovers'] {
  const leftovers = r.cleanup?.leftovers ?? []
  return r.mode === 'drill' && r.status !== 'rolled-back' && r.status !== 'rollback-failed' ? leftovers : []
}

/** The job outcome of a failover/failback/drill run: numbers {rtoSeconds, rpoSeconds, steps, leakedResources}. */
export function drRunOutcome(r: RunResult, report?: RunReport): JobOutcome {
  const leaked = r.cleanup?.leftovers.length ?? 0
  const failedSteps = r.steps.filter((s) => s.state === 'failed')
  const measured = (x: {achievedSeconds: number | null} | undefined) => (x?.achievedSeconds === null || x?.achievedSeconds === undefined ? 'not measured' : x.achievedSeconds)
  const numbers = {
    rtoSeconds: measured(report?.rto),
    rpoSeconds: measured(report?.rpo),
    steps: r.steps.length,
    failedSteps: failedSteps.length,
    leakedResources: leaked,
  }
  const missed = [report?.rto.met === false ? 'RTO' : undefined, report?.rpo.met === false ? 'RPO' : undefined].filter(Boolean)
  const targets = report ? `; RTO ${typeof numbers.rtoSeconds === 'number' ? formatDuration(numbers.rtoSeconds) : 'not measured'} of ${formatDuration(report.rto.targetSeconds)}, RPO ${typeof numbers.rpoSeconds === 'number' ? formatDuration(numbers.rpoSeconds) : 'not measured'} of ${formatDuration(report.rpo.targetSeconds)}` : ''
  const reportCmd = `lifeboat dr report ${r.runId}`
  if (r.status === 'succeeded' && drillLeftovers(r).length === 0) {
    return {
      state: missed.length > 0 ? 'warning' : 'success',
      summary: `${r.mode} of ${r.playbook} succeeded (${r.steps.length} steps)${targets}${missed.length > 0 ? ` — ${missed.join(' and ')} target MISSED` : ''}`,
      numbers,
      action: missed.length > 0 ? `See \`${reportCmd}\` for the slow steps; tune the playbook or the targets.` : undefined,
    }
  }
  const why =
    drillLeftovers(r).length > 0
      ? `left ${leaked} resource(s) behind`
      : r.status === 'failed'
        ? `failed at ${failedSteps.map((s) => s.id).join(', ') || 'a step'}${r.error ? `: ${r.error.message}` : failedSteps[0]?.error ? `: ${failedSteps[0].error.message}` : ''}`
        : `ended ${r.status}${r.error ? `: ${r.error.message}` : ''}`
  return {
    state: 'failure',
    summary: `${r.mode} of ${r.playbook} ${why}${targets}`,
    numbers,
    action:
      drillLeftovers(r).length > 0
        ? `Remove them with \`lifeboat dr cleanup ${r.runId}\` (they cost money until then).`
        : `See \`${reportCmd}\`; after fixing the cause: lifeboat dr resume ${r.runId} (or undo: lifeboat dr rollback ${r.runId}).`,
  }
}
