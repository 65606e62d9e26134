/**
 * The default providers of `lifeboat status`: RAID engines (src/raid/engines.ts listAll, when this build has it),
 * the configured repositories (opened read-only with the usual password sources, never prompting), schedules,
 * AWS Backup recovery points (latestRecoveryPoint) and the job records.
 */
import type {AwsOptions} from '../aws/clients.js'
import {latestRecoveryPoint} from '../awsbackup/points.js'
import {backendFor, openRepository, resolveLocation, resolvePassword} from '../backup/open.js'
import type {LifeboatConfig} from '../config/schema.js'
import {errorMessage} from '../errors.js'
import {defaultRunner} from '../exec/runner.js'
import type {ArrayStatus} from '../raid/engine.js'
import {listSchedules} from '../schedule/schedules.js'
import {readJobRecords, stateDirFor} from './records.js'
import {type AwsPointFacts, type RepoFacts, rpoSeconds, type ScheduleFacts, type StatusProviders} from './status.js'

/**
 * listAll() of src/raid/engines.ts (branch raid-engines). Loaded by a computed specifier so this module builds
 * and runs without it; `undefined` when the build has no RAID engines.
 */
export async function raidListAll(): Promise<(() => Promise<ArrayStatus[]>) | undefined> {
  const specifier = '../raid/engines.js'
  try {
    const mod = (await import(specifier)) as {listAll?: (env?: unknown) => Promise<ArrayStatus[]>}
    if (typeof mod.listAll !== 'function') return undefined
    return () => mod.listAll!({runner: defaultRunner})
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined
    throw error
  }
}

export async function repositoryFacts(config: LifeboatConfig, env: NodeJS.ProcessEnv = process.env, now = new Date()): Promise<Array<RepoFacts | {name: string; location: string; error: string}>> {
  const entries = Object.entries(config.repositories ?? {})
  const targets =
    entries.length > 0
      ? entries.map(([name]) => resolveLocation(name, config, {}))
      : [resolveLocation(undefined, config, env)]
  // Nothing configured and no default repository: nothing to show (not a warning on a machine without backups).
  if (entries.length === 0 && targets[0].source === 'default' && !(await (await backendFor(targets[0].location)).exists({type: 'config', name: 'config'}))) return []
  return Promise.all(
    targets.map(async (loc) => {
      const name = loc.name ?? (loc.source === 'default' ? 'default' : loc.location)
      try {
        const repo = await openRepository({location: loc, password: () => resolvePassword({entry: loc.entry, env})})
        try {
          const snaps = await repo.listSnapshots()
          let newest: RepoFacts['newest']
          for (const s of snaps) {
            const t = Date.parse(s.snapshot.time)
            if (!newest || t > Date.parse(newest.time)) newest = {id: s.id, time: s.snapshot.time, ageSeconds: Math.max(0, Math.round((now.getTime() - t) / 1000))}
          }
          let sizeBytes = 0
          for (const type of ['pack', 'index', 'snapshot', 'key'] as const) for (const f of await repo.backend.list(type)) sizeBytes += f.size
          return {name, location: loc.location, rpoSeconds: rpoSeconds(loc.entry?.rpo), snapshots: snaps.length, newest, sizeBytes}
        } finally {
          await repo.close()
        }
      } catch (error) {
        return {name, location: loc.location, error: errorMessage(error)}
      }
    }),
  )
}

export async function scheduleFacts(root: string, now = new Date()): Promise<ScheduleFacts[]> {
  return listSchedules({root, now})
}

export async function awsBackupFacts(
  config: LifeboatConfig,
  aws: AwsOptions,
  now = new Date(),
  latest: typeof latestRecoveryPoint = latestRecoveryPoint,
): Promise<Array<AwsPointFacts | {resourceArn: string; rpoSeconds: number; error: string}>> {
  return Promise.all(
    (config.ops?.awsBackup ?? []).map(async (w) => {
      const rpo = rpoSeconds(w.rpo)!
      try {
        const p = await latest({resourceArn: w.resourceArn, vault: w.vault, aws: {...aws, region: w.region ?? aws.region}, now})
        return {
          resourceArn: w.resourceArn,
          rpoSeconds: rpo,
          ...(p ? {newest: {recoveryPointArn: p.recoveryPointArn, creationDate: p.creationDate.toISOString(), ageSeconds: p.ageSeconds}} : {}),
        }
      } catch (error) {
        return {resourceArn: w.resourceArn, rpoSeconds: rpo, error: errorMessage(error)}
      }
    }),
  )
}

export interface DefaultProviderOptions {
  config: LifeboatConfig
  aws: AwsOptions
  env?: NodeJS.ProcessEnv
  scheduleRoot?: string
  now?: Date
  /** Replace any provider (tests; the lead's wiring). */
  override?: Partial<StatusProviders>
}

export async function defaultProviders(o: DefaultProviderOptions): Promise<StatusProviders> {
  const env = o.env ?? process.env
  const now = o.now ?? new Date()
  const arrays = o.override && 'arrays' in o.override ? o.override.arrays : await raidListAll()
  return {
    arrays,
    repositories: () => repositoryFacts(o.config, env, now),
    schedules: () => scheduleFacts(o.scheduleRoot ?? o.config.ops?.scheduleRoot ?? '/', now),
    awsBackup: () => awsBackupFacts(o.config, o.aws, now),
    records: () => readJobRecords(stateDirFor(o.config, env)),
    now: () => now,
    ...o.override,
  }
}
