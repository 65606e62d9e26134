/**
 * Job reporting: one wrapper every long job runs through. It times the work, then (never failing the job
 * because of it) sends the outcome to the notification sinks, merges metrics into the textfile-collector
 * file, appends to the JSON-lines log and records the result that `lifeboat status` shows.
 *
 *   const result = await reportJob({job: 'check', repository: loc, io}, () => checkRepository(…), (r) => ({
 *     state: r.ok ? 'success' : 'failure', summary: …, numbers: {…}}))
 *
 * The work's result is returned unchanged and its error re-thrown unchanged.
 */
import os from 'node:os'

import type {AwsOptions} from '../aws/clients.js'
import type {SinkConfig} from '../config/schema.js'
import {errorMessage, ExitCode, LifeboatError} from '../errors.js'
import {defaultAction, type JobEvent, type JobState} from '../notify/event.js'
import {type Delivery, notifyAll, type NotifyOptions} from '../notify/sinks.js'
import {type JsonLogger, jsonLogger} from './log.js'
import {type MetricSample, sample, writeMetrics} from './metrics.js'
import {type JobRecord, repositoryKey, writeJobRecord} from './records.js'

/** Where a job reports to (built from flags + config by src/cli/job-flags.ts). */
export interface ReportIO {
  sinks: readonly SinkConfig[]
  metricsFile?: string
  logFile?: string
  stateDir: string
  aws?: AwsOptions
  env?: NodeJS.ProcessEnv
  /** Injected for tests (SNS client, fetch). */
  notify?: NotifyOptions
  /** Told about notifier/metrics problems (the CLI prints them to stderr). */
  onWarning?: (message: string) => void
  now?: () => Date
  host?: string
}

export interface JobSpec {
  /** The kind of job (backup, forget-prune, check, scrub, restore-test, dr-readiness, dr-drill, dr-failover, aws-backup-job, aws-backup-rpo, …). */
  job: string
  /** Default: LIFEBOAT_JOB_NAME (set by schedules), else the job kind. */
  name?: string
  repository?: string
  array?: string
  resource?: string
  io: ReportIO
}

export interface JobOutcome {
  state?: JobState
  summary?: string
  numbers?: Record<string, number | string>
  /** Feed lifeboat_job_bytes / lifeboat_job_files. */
  bytes?: number
  files?: number
  /** More samples to write with the job's (e.g. lifeboat_snapshot_age_seconds 0 after a backup). */
  metrics?: MetricSample[]
  action?: string
  exitCode?: number
}

export interface JobReport {
  event: JobEvent
  notifications: Delivery[]
}

export async function reportJob<T>(jobSpec: JobSpec, work: () => Promise<T>, describe: (result: T) => JobOutcome = () => ({})): Promise<T> {
  const spec = jobSpec.repository === undefined ? jobSpec : {...jobSpec, repository: repositoryKey(jobSpec.repository)}
  const io = spec.io
  const now = io.now ?? (() => new Date())
  const started = now()
  const name = spec.name ?? io.env?.LIFEBOAT_JOB_NAME ?? process.env.LIFEBOAT_JOB_NAME ?? spec.job
  const log = jsonLogger(io.logFile, {job: spec.job, name})
  log.log('info', 'job started', {event: 'job.start', repository: spec.repository, array: spec.array, resource: spec.resource})
  let result: T
  try {
    result = await work()
  } catch (error) {
    const e = error instanceof LifeboatError ? error : undefined
    const code = e?.code ?? (error as {code?: string})?.code ?? 'FAILURE'
    // oclif's this.error(…, {exit}) carries its exit code in `oclif.exit`.
    const exitCode = e?.exitCode ?? (error as {oclif?: {exit?: number}})?.oclif?.exit ?? ExitCode.FAILURE
    await finishJob(spec, name, started, log, {
      state: 'failure',
      summary: `${spec.job} failed: ${errorMessage(error)}`,
      exitCode,
      error: {code: String(code), message: errorMessage(error), hint: e?.hint},
    })
    throw error
  }
  let outcome: JobOutcome
  try {
    outcome = describe(result)
  } catch (error) {
    outcome = {state: 'warning', summary: `finished; its summary could not be built: ${errorMessage(error)}`}
  }
  await finishJob(spec, name, started, log, outcome)
  return result
}

async function finishJob(
  spec: JobSpec,
  name: string,
  started: Date,
  log: JsonLogger,
  o: JobOutcome & {error?: JobEvent['error']},
): Promise<JobReport> {
  const io = spec.io
  const finished = (io.now ?? (() => new Date()))()
  const state: JobState = o.state ?? 'success'
  const exitCode = o.exitCode ?? (state === 'failure' ? ExitCode.FAILURE : state === 'warning' ? ExitCode.WARNINGS : ExitCode.OK)
  const numbers = {...o.numbers}
  if (o.bytes !== undefined && numbers.bytes === undefined) numbers.bytes = o.bytes
  if (o.files !== undefined && numbers.files === undefined) numbers.files = o.files
  const partial = {state, name, job: spec.job, error: o.error}
  const event: JobEvent = {
    version: 1,
    job: spec.job,
    name,
    host: io.host ?? os.hostname(),
    state,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: Math.max(0, (finished.getTime() - started.getTime()) / 1000),
    summary: o.summary ?? `${spec.job} ${state === 'success' ? 'succeeded' : state === 'warning' ? 'finished with warnings' : 'failed'}`,
    numbers,
    ...(spec.repository === undefined ? {} : {repository: spec.repository}),
    ...(spec.array === undefined ? {} : {array: spec.array}),
    ...(spec.resource === undefined ? {} : {resource: spec.resource}),
    ...(o.error ? {error: o.error} : {}),
    action: o.action ?? defaultAction(partial),
    exitCode,
  }
  log.log(state === 'failure' ? 'error' : state === 'warning' ? 'warn' : 'info', event.summary, {event: 'job.end', result: event})

  const notifications = await notifyAll(event, io.sinks, {env: io.env, aws: io.aws, ...io.notify})
  for (const d of notifications) {
    if (d.ok) {
      if (d.sent) log.log('info', `notified ${d.sink}`, {event: 'notify.sent', sink: d.sink, type: d.type, detail: d.detail})
      continue
    }
    log.log('error', `notification sink ${d.sink} failed: ${d.error}`, {event: 'notify.failed', sink: d.sink, type: d.type, attempts: d.attempts, error: d.error})
    io.onWarning?.(`notification sink "${d.sink}" (${d.type}) failed: ${d.error} (the job's own result is unaffected)`)
  }

  let metricsError: string | undefined
  if (io.metricsFile) {
    try {
      await writeMetrics(io.metricsFile, jobMetrics(event, o))
    } catch (error) {
      metricsError = errorMessage(error)
      log.log('error', `metrics file not written: ${metricsError}`, {event: 'metrics.failed', file: io.metricsFile})
      io.onWarning?.(`the metrics file ${io.metricsFile} was not written: ${metricsError}`)
    }
  }

  const record: JobRecord = {event, notifications, metricsFile: io.metricsFile, logFile: io.logFile, ...(metricsError ? {metricsError} : {})}
  try {
    writeJobRecord(io.stateDir, record)
  } catch (error) {
    log.log('error', `job record not written: ${errorMessage(error)}`, {event: 'record.failed', dir: io.stateDir})
    io.onWarning?.(`the job record in ${io.stateDir} was not written: ${errorMessage(error)}`)
  }
  return {event, notifications}
}

export function jobMetrics(event: JobEvent, o: Pick<JobOutcome, 'bytes' | 'files' | 'metrics'> = {}): MetricSample[] {
  const labels = {job: event.job, name: event.name, repository: event.repository, array: event.array, resource: event.resource}
  const out = [
    sample('lifeboat_job_duration_seconds', labels, event.durationSeconds),
    sample('lifeboat_job_success', labels, event.state === 'failure' ? 0 : 1),
    sample('lifeboat_job_last_run_timestamp_seconds', labels, Math.round(Date.parse(event.finishedAt) / 1000)),
  ]
  if (o.bytes !== undefined) out.push(sample('lifeboat_job_bytes', labels, o.bytes))
  if (o.files !== undefined) out.push(sample('lifeboat_job_files', labels, o.files))
  return [...out, ...(o.metrics ?? [])]
}
