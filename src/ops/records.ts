/**
 * The last results of jobs, one JSON file per job name under the state folder
 * ($XDG_STATE_HOME/lifeboat/jobs, or config ops.stateDir). `lifeboat status` reads them.
 */
import fs from 'node:fs'
import path from 'node:path'

import {expandHome, xdgStateHome} from '../config/paths.js'
import {writeFileAtomicSync} from '../fsutil.js'
import type {LifeboatConfig} from '../config/schema.js'
import type {JobEvent} from '../notify/event.js'
import type {Delivery} from '../notify/sinks.js'

export interface JobRecord {
  event: JobEvent
  /** What each notification sink did with it. */
  notifications: Delivery[]
  metricsFile?: string
  logFile?: string
  /** A problem writing the metrics file (never fails the job). */
  metricsError?: string
}

export interface JobRecordFile {
  name: string
  job: string
  last: JobRecord
  /** Newest first, at most HISTORY entries (the last one included). */
  history: JobRecord[]
}

const HISTORY = 20

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(xdgStateHome(env), 'lifeboat', 'jobs')
}

/**
 * How a repository is named in records and metrics: local folders as absolute paths (so `--repo ./r`, `~/r` and
 * the config's entry match), other locations (s3:…) as written.
 */
export function repositoryKey(location: string): string {
  if (/^[a-z][\w+.-]*:/i.test(location) && !location.startsWith('local:')) return location
  return path.resolve(expandHome(location.replace(/^local:/, '')))
}

/** The state folder of a config: ops.stateDir, else the XDG default. */
export function stateDirFor(config: LifeboatConfig, env: NodeJS.ProcessEnv = process.env): string {
  return config.ops?.stateDir ? path.resolve(expandHome(config.ops.stateDir, env)) : defaultStateDir(env)
}

function fileFor(dir: string, name: string): string {
  return path.join(dir, `${name.replaceAll(/[^\w.-]/g, '_')}.json`)
}

/** Writes the record atomically (temp + rename); keeps a short history. */
export function writeJobRecord(dir: string, rec: JobRecord): void {
  fs.mkdirSync(dir, {recursive: true, mode: 0o700})
  const file = fileFor(dir, rec.event.name)
  const old = readRecordFile(file)
  const data: JobRecordFile = {name: rec.event.name, job: rec.event.job, last: rec, history: [rec, ...(old?.history ?? [])].slice(0, HISTORY)}
  writeFileAtomicSync(file, JSON.stringify(data, null, 2) + '\n')
}

function readRecordFile(file: string): JobRecordFile | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as JobRecordFile
    return v && v.last?.event ? v : undefined
  } catch {
    return undefined
  }
}

/** Every job's record file (unreadable files are skipped). */
export function readJobRecords(dir: string): JobRecordFile[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readRecordFile(path.join(dir, n)))
    .filter((r): r is JobRecordFile => r !== undefined)
}

/** The newest record among files matching a predicate on the event. */
export function latestRecord(records: readonly JobRecordFile[], pred: (e: JobEvent) => boolean): JobRecord | undefined {
  let best: JobRecord | undefined
  for (const f of records) {
    for (const r of f.history) {
      if (!pred(r.event)) continue
      if (!best || r.event.finishedAt > best.event.finishedAt) best = r
      break // history is newest first: the first match of a file is its newest
    }
  }
  return best
}
