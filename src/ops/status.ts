/**
 * `lifeboat status`: one picture of everything — arrays, repositories, schedules, AWS Backup recovery points,
 * DR readiness, notifiers. Every source is a provider that can be injected (tests) and that may fail on its own:
 * a source that cannot be read is shown as "unknown" (yellow) instead of hiding the rest.
 *
 * Levels: ok (green), warn (yellow), red. Exit code (see exitCodeFor): 1 when anything other than a degraded array
 * is red, 4 when the only red items are degraded/rebuilding arrays, 3 when something is yellow, else 0.
 */
import os from 'node:os'

import type {LifeboatConfig} from '../config/schema.js'
import {errorMessage, ExitCode} from '../errors.js'
import {formatBytes} from '../progress.js'
import type {ArrayStatus} from '../raid/engine.js'
import type {ListedSchedule} from '../schedule/schedules.js'
import {type MetricSample, sample} from './metrics.js'
import {type JobRecord, type JobRecordFile, latestRecord, repositoryKey} from './records.js'
import {parseDurationSeconds} from './duration.js'

export type Level = 'ok' | 'warn' | 'red'

export interface StatusItem {
  level: Level
  name: string
  /** One line for the human screen. */
  detail: string
  /** True for red items that are degraded (not failed) arrays: they map to exit 4. */
  degradedArray?: boolean
  data?: Record<string, unknown>
}

export interface StatusSection {
  name: 'arrays' | 'repositories' | 'schedules' | 'awsBackup' | 'dr' | 'notifications'
  title: string
  level: Level
  items: StatusItem[]
  /** Why the section could not be read, or why it is empty. */
  note?: string
}

export interface StatusReport {
  host: string
  time: string
  level: Level
  exitCode: number
  sections: StatusSection[]
}

export interface RepoFacts {
  name: string
  location: string
  rpoSeconds?: number
  snapshots: number
  newest?: {id: string; time: string; ageSeconds: number}
  sizeBytes?: number
}

export interface AwsPointFacts {
  resourceArn: string
  rpoSeconds: number
  newest?: {recoveryPointArn: string; creationDate: string; ageSeconds: number}
}

export type ScheduleFacts = ListedSchedule

/** The sources `status` reads. Each may throw; the section then says so. */
export interface StatusProviders {
  arrays?: () => Promise<ArrayStatus[]>
  repositories?: () => Promise<Array<RepoFacts | {name: string; location: string; error: string}>>
  schedules?: () => Promise<ScheduleFacts[]>
  awsBackup?: () => Promise<Array<AwsPointFacts | {resourceArn: string; rpoSeconds: number; error: string}>>
  records: () => JobRecordFile[]
  now?: () => Date
}

function worst(levels: Level[]): Level {
  return levels.includes('red') ? 'red' : levels.includes('warn') ? 'warn' : 'ok'
}

function age(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)}s`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m`
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)}h`
  return `${(seconds / 86_400).toFixed(1)}d`
}

async function section(name: StatusSection['name'], title: string, fn: () => Promise<StatusItem[]>, empty: string): Promise<StatusSection> {
  try {
    const items = await fn()
    return {name, title, level: worst(items.map((i) => i.level)), items, ...(items.length === 0 ? {note: empty} : {})}
  } catch (error) {
    return {name, title, level: 'warn', items: [], note: `could not be read: ${errorMessage(error)}`}
  }
}

function recordLine(r: JobRecord | undefined): string {
  if (!r) return 'never run'
  return `${r.event.state} ${r.event.finishedAt.replace('T', ' ').slice(0, 16)}Z`
}

function stateLevel(r: JobRecord | undefined): Level {
  return !r ? 'ok' : r.event.state === 'failure' ? 'red' : r.event.state === 'warning' ? 'warn' : 'ok'
}

export async function gatherStatus(p: StatusProviders): Promise<StatusReport> {
  const now = (p.now ?? (() => new Date()))()
  let records: JobRecordFile[] = []
  try {
    records = p.records()
  } catch {
    records = []
  }
  const sections: StatusSection[] = []

  sections.push(
    p.arrays
      ? await section(
          'arrays',
          'Arrays',
          async () =>
            (await p.arrays!()).map((a): StatusItem => {
              const red = a.health !== 'healthy'
              const degraded = a.health === 'degraded' || a.health === 'rebuilding'
              const prog = a.progress ? ` ${a.progress.action} ${a.progress.percent.toFixed(1)}%` : ''
              const scrub = latestRecord(records, (e) => e.job === 'scrub' && e.array === a.name)
              return {
                level: a.health === 'unknown' ? 'warn' : red ? 'red' : 'ok',
                name: a.name,
                detail: `${a.engine} ${a.level} ${a.health} (${a.members.filter((m) => m.role === 'active').length}/${a.expectedMembers ?? a.members.length} active)${prog}; last scrub: ${recordLine(scrub)}`,
                ...(red && degraded ? {degradedArray: true} : {}),
                data: {engine: a.engine, health: a.health, state: a.state, device: a.device, mountpoint: a.mountpoint, progress: a.progress, status: a.status, action: a.action, lastScrub: scrub?.event},
              }
            }),
          'no arrays found',
        )
      : {name: 'arrays', title: 'Arrays', level: 'ok', items: [], note: 'RAID engines are not available in this build'},
  )

  if (p.repositories) {
    sections.push(
      await section(
        'repositories',
        'Repositories',
        async () =>
          (await p.repositories!()).map((r): StatusItem => {
            const key = repositoryKey(r.location)
            const check = latestRecord(records, (e) => e.job === 'check' && e.repository === key)
            const backup = latestRecord(records, (e) => e.job === 'backup' && e.repository === key)
            if ('error' in r) return {level: 'warn', name: r.name, detail: `${r.location}: cannot be read: ${r.error}`, data: {location: r.location, error: r.error}}
            const levels: Level[] = [stateLevel(check), stateLevel(backup)]
            let newest = 'no snapshots'
            if (r.newest) {
              newest = `newest ${age(r.newest.ageSeconds)} ago`
              if (r.rpoSeconds !== undefined) {
                newest += ` (RPO ${age(r.rpoSeconds)})`
                if (r.newest.ageSeconds > r.rpoSeconds) levels.push('red')
              }
            } else levels.push(r.rpoSeconds === undefined ? 'warn' : 'red')
            const size = r.sizeBytes === undefined ? '' : `, ${formatBytes(r.sizeBytes)}`
            return {
              level: worst(levels),
              name: r.name,
              detail: `${r.location}: ${r.snapshots} snapshots, ${newest}${size}; last check: ${recordLine(check)}; last backup: ${recordLine(backup)}`,
              data: {...r, lastCheck: check?.event, lastBackup: backup?.event},
            }
          }),
        'no repository is configured',
      ),
    )
  }

  if (p.schedules) {
    sections.push(
      await section(
        'schedules',
        'Schedules',
        async () =>
          (await p.schedules!()).map((s): StatusItem => {
            const last = records.find((f) => f.name === s.name)?.last
            const levels: Level[] = [stateLevel(last)]
            if (!s.installed) levels.push('red')
            return {
              level: worst(levels),
              name: s.name,
              detail: `${s.job} by ${s.scheduler} (${s.scheduler === 'cron' ? s.cron : s.onCalendar}); next ${s.nextRun ? s.nextRun.replace('T', ' ').slice(0, 16) + 'Z' : 'unknown'}; last ${recordLine(last)}${last?.event.state === 'failure' ? `: ${last.event.summary}` : ''}${s.installed ? '' : `; NOT INSTALLED: ${s.problems.join('; ')}`}`,
              data: {job: s.job, scheduler: s.scheduler, onCalendar: s.onCalendar, cron: s.cron, nextRun: s.nextRun, installed: s.installed, problems: s.problems, last: last?.event},
            }
          }),
        'no schedules (lifeboat schedule add JOB --every 1d)',
      ),
    )
  }

  if (p.awsBackup) {
    sections.push(
      await section(
        'awsBackup',
        'AWS Backup',
        async () =>
          (await p.awsBackup!()).map((r): StatusItem => {
            if ('error' in r) return {level: 'warn', name: r.resourceArn, detail: `cannot be read: ${r.error}`, data: {...r}}
            if (!r.newest) return {level: 'red', name: r.resourceArn, detail: `no completed recovery point (RPO ${age(r.rpoSeconds)})`, data: {...r}}
            const late = r.newest.ageSeconds > r.rpoSeconds
            return {level: late ? 'red' : 'ok', name: r.resourceArn, detail: `newest recovery point ${age(r.newest.ageSeconds)} ago (RPO ${age(r.rpoSeconds)})${late ? ': OLDER THAN THE RPO' : ''}`, data: {...r}}
          }),
        'no resources to watch (config ops.awsBackup)',
      ),
    )
  }

  // DR readiness: the last `dr readiness` job reported through reportJob (job "dr-readiness").
  const dr = latestRecord(records, (e) => e.job === 'dr-readiness')
  sections.push({
    name: 'dr',
    title: 'DR readiness',
    level: stateLevel(dr),
    items: dr
      ? [
          {
            level: stateLevel(dr),
            name: dr.event.name,
            detail: `${dr.event.summary} (${recordLine(dr)})`,
            data: {...dr.event},
          },
        ]
      : [],
    ...(dr ? {} : {note: 'no readiness check has run (schedule one: lifeboat schedule add dr-readiness --every 1d -- -f PLAYBOOK)'}),
  })

  // Notifiers that failed on the last run of any job.
  const failed: StatusItem[] = []
  for (const f of records) {
    for (const d of f.last.notifications.filter((n) => n.sent && !n.ok)) {
      failed.push({level: 'warn', name: d.sink, detail: `failed for job ${f.name} at ${f.last.event.finishedAt.slice(0, 16)}Z: ${d.error}`, data: {...d, job: f.name}})
    }
    if (f.last.metricsError) failed.push({level: 'warn', name: 'metrics', detail: `job ${f.name}: metrics file not written: ${f.last.metricsError}`})
  }
  sections.push({name: 'notifications', title: 'Notifications', level: worst(failed.map((i) => i.level)), items: failed, ...(failed.length === 0 ? {note: 'no failed deliveries'} : {})})

  const level = worst(sections.map((s) => s.level))
  return {host: os.hostname(), time: now.toISOString(), level, exitCode: exitCodeFor(sections), sections}
}

/** 1 when anything but a degraded array is red; 4 when only degraded arrays are; 3 when anything is yellow; else 0. */
export function exitCodeFor(sections: StatusSection[]): number {
  const items = sections.flatMap((s) => s.items)
  const red = items.filter((i) => i.level === 'red')
  if (red.some((i) => !i.degradedArray)) return ExitCode.FAILURE
  if (red.length > 0) return ExitCode.DEGRADED
  if (sections.some((s) => s.level === 'warn')) return ExitCode.WARNINGS
  return ExitCode.OK
}

/** The gauges a status run can write: snapshot ages, degraded arrays, recovery point ages. */
export function statusMetrics(r: StatusReport): MetricSample[] {
  const out: MetricSample[] = []
  for (const s of r.sections) {
    for (const i of s.items) {
      const d = i.data ?? {}
      if (s.name === 'repositories' && (d.newest as {ageSeconds?: number} | undefined)?.ageSeconds !== undefined) {
        out.push(sample('lifeboat_snapshot_age_seconds', {repository: repositoryKey(String(d.location))}, (d.newest as {ageSeconds: number}).ageSeconds))
      }
      if (s.name === 'arrays') out.push(sample('lifeboat_array_degraded', {array: i.name}, d.health === 'healthy' ? 0 : 1))
      if (s.name === 'awsBackup' && (d.newest as {ageSeconds?: number} | undefined)?.ageSeconds !== undefined) {
        out.push(sample('lifeboat_recovery_point_age_seconds', {resource: i.name}, (d.newest as {ageSeconds: number}).ageSeconds))
      }
    }
  }
  return out
}

export function rpoSeconds(rpo: string | undefined): number | undefined {
  return rpo === undefined ? undefined : parseDurationSeconds(rpo, 'rpo')
}

export type {LifeboatConfig}
