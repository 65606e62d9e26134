import {createHash, randomBytes} from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'

import {xdgStateHome} from '../config/paths.js'
import {writeFileAtomic} from '../fsutil.js'
import {LifeboatError, UsageError} from '../errors.js'
import type {CreatedResource, RunMode} from './step-types.js'

/**
 * The run journal: one directory per run (<root>/<RUN>/) with a copy of the playbook (playbook.yaml, the
 * run is pinned to it), journal.json (rewritten atomically after every state change: temp file, fsync,
 * rename) and a lock file while a process works on the run.
 */

export type StepState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'blocked' | 'awaiting-approval'
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'aborted' | 'awaiting-approval' | 'rolled-back' | 'rollback-failed'

export interface StepRecord {
  id: string
  type: string
  wave: number
  state: StepState
  /** Why a step was skipped or blocked ("when: failover", "drill: production DNS", "dependency app failed"). */
  reason?: string
  attempts: number
  startedAt?: string
  finishedAt?: string
  /** The params the step ran with (after interpolation). */
  params?: Record<string, unknown>
  outputs?: Record<string, unknown>
  error?: {code: string; message: string}
  /** Idempotency tokens handed out (suffix → token): the same on resume. */
  tokens: Record<string, string>
  /** Step-private state (ctx.state / ctx.saveState). */
  stepState: Record<string, unknown>
  resources: CreatedResource[]
  approval?: {by: 'flag' | 'prompt'; at: string; answer: boolean}
  rollback?: {state: 'succeeded' | 'failed' | 'nothing-to-undo' | 'disabled'; at: string; error?: string}
}

export interface WaveRecord {
  name: string
  startedAt?: string
  finishedAt?: string
}

export interface CleanupRecord {
  at: string
  removed: CreatedResource[]
  swept: CreatedResource[]
  leftovers: Array<CreatedResource & {error: string}>
}

export interface Journal {
  version: 1
  runId: string
  mode: RunMode
  playbook: {name: string; strategy: string; source: string; sha256: string}
  /** Playbook regions as written; `effective` is what steps see (swapped in failback). */
  regions: {primary: string; dr: string}
  effectiveRegions: {primary: string; dr: string}
  targets: {rtoMs: number; rpoMs: number}
  aws: {profile?: string}
  status: RunStatus
  startedAt: string
  finishedAt?: string
  /** Time the run spent stopped (crash, Ctrl-C, waiting for --approve) is part of the RTO: nothing is subtracted. */
  resumes: string[]
  approvals: string[]
  error?: {code: string; message: string}
  waves: WaveRecord[]
  steps: Record<string, StepRecord>
  cleanup?: CleanupRecord
}

export function defaultRunRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(xdgStateHome(env), 'lifeboat', 'dr', 'runs')
}

export function newRunId(name: string, now: Date): string {
  const stamp = now.toISOString().replaceAll(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${stamp}-${name.slice(0, 40)}-${randomBytes(3).toString('hex')}`
}

/** A deterministic EC2/Backup idempotency token (≤ 64 chars) for run + step + suffix. */
export function makeToken(runId: string, stepId: string, suffix = ''): string {
  const h = createHash('sha256').update(`${runId}\u0000${stepId}\u0000${suffix}`).digest('hex').slice(0, 40)
  return `lb-${h}`
}

/** Resolves RUN (a run id under the root, or a path to a run directory) to its directory. */
export async function findRunDir(run: string, root: string): Promise<string> {
  for (const dir of [run, path.join(root, run)]) {
    try {
      await fs.access(path.join(dir, 'journal.json'))
      return dir
    } catch {
      // try the next
    }
  }
  throw new UsageError(`no DR run "${run}" in ${root}`, {code: 'RUN_NOT_FOUND', hint: '`lifeboat dr runs` lists the runs (pass --run-dir when they live elsewhere)'})
}

export class RunStore {
  private writing: Promise<void> = Promise.resolve()
  constructor(
    readonly dir: string,
    public journal: Journal,
  ) {}

  static async create(root: string, journal: Journal, playbookText: string): Promise<RunStore> {
    const dir = path.join(root, journal.runId)
    await fs.mkdir(dir, {recursive: true, mode: 0o700})
    await writeAtomic(path.join(dir, 'playbook.yaml'), playbookText)
    const store = new RunStore(dir, journal)
    await store.save()
    return store
  }

  static async open(dir: string): Promise<RunStore> {
    const text = await fs.readFile(path.join(dir, 'journal.json'), 'utf8')
    const journal = JSON.parse(text) as Journal
    if (journal.version !== 1) throw new LifeboatError(`${dir}/journal.json has unknown version ${journal.version}`, {code: 'JOURNAL_VERSION'})
    return new RunStore(dir, journal)
  }

  get playbookFile(): string {
    return path.join(this.dir, 'playbook.yaml')
  }

  /** Writes journal.json atomically; concurrent callers are serialized (steps of a wave save in parallel). */
  save(): Promise<void> {
    const text = JSON.stringify(this.journal, null, 2) + '\n'
    // A failed write must not poison later ones (each write carries the whole journal).
    const next = this.writing.catch(() => {}).then(() => writeAtomic(path.join(this.dir, 'journal.json'), text))
    this.writing = next
    return next
  }

  /** Takes the run's lock (a file with our pid); refuses when a live process holds it. */
  async lock(): Promise<void> {
    const file = path.join(this.dir, 'lock')
    try {
      const pid = Number((await fs.readFile(file, 'utf8')).trim())
      if (pid && pid !== process.pid && alive(pid)) {
        throw new LifeboatError(`run ${this.journal.runId} is in use by process ${pid}`, {code: 'RUN_LOCKED', hint: 'wait for it to finish, or stop it (Ctrl-C) and resume'})
      }
    } catch (error: any) {
      if (error instanceof LifeboatError) throw error
    }
    await writeAtomic(file, `${process.pid}\n`)
  }

  async unlock(): Promise<void> {
    await fs.rm(path.join(this.dir, 'lock'), {force: true})
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error: any) {
    return error?.code === 'EPERM'
  }
}

export async function writeAtomic(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text)
}

export interface RunSummary {
  runId: string
  dir: string
  playbook: string
  mode: RunMode
  status: RunStatus
  startedAt: string
  finishedAt?: string
  steps: {total: number; succeeded: number; failed: number; skipped: number}
  leftovers: number
}

/** Every run under the root, newest first. */
export async function listRuns(root: string): Promise<RunSummary[]> {
  let names: string[]
  try {
    names = await fs.readdir(root)
  } catch (error: any) {
    if (error?.code === 'ENOENT') return []
    throw error
  }
  const out: RunSummary[] = []
  for (const name of names) {
    try {
      const {journal: j} = await RunStore.open(path.join(root, name))
      const steps = Object.values(j.steps)
      out.push({
        runId: j.runId,
        dir: path.join(root, name),
        playbook: j.playbook.name,
        mode: j.mode,
        status: j.status,
        startedAt: j.startedAt,
        finishedAt: j.finishedAt,
        steps: {
          total: steps.length,
          succeeded: steps.filter((s) => s.state === 'succeeded').length,
          failed: steps.filter((s) => s.state === 'failed').length,
          skipped: steps.filter((s) => s.state === 'skipped').length,
        },
        leftovers: j.cleanup?.leftovers.length ?? 0,
      })
    } catch {
      // not a run directory
    }
  }
  return out.sort((a, b) => b.startedAt.localeCompare(a.startedAt))
}
