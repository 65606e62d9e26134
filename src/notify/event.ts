/**
 * The event every long job emits when it ends, and its human-readable rendering (SNS e-mail body, command
 * sinks get the JSON). Plain module: no oclif, no AWS.
 */
import {formatBytes, formatDuration} from '../progress.js'

export type JobState = 'success' | 'warning' | 'failure'

export interface JobEvent {
  /** Shape version of this event (bumped only on incompatible changes). */
  version: 1
  /** The kind of job: backup, forget-prune, check, scrub, restore-test, dr-readiness, dr-drill, aws-backup-job, … */
  job: string
  /** The schedule's name (LIFEBOAT_JOB_NAME) or, when run by hand, the job kind. */
  name: string
  host: string
  state: JobState
  startedAt: string
  finishedAt: string
  durationSeconds: number
  /** One line: what happened. */
  summary: string
  /** Key numbers of the run (files, bytes, snapshot, errors …). Byte counts end in "bytes"/"Bytes". */
  numbers: Record<string, number | string>
  repository?: string
  array?: string
  resource?: string
  error?: {code: string; message: string; hint?: string}
  /** What the owner should do now. */
  action: string
  exitCode: number
  /** true for `notify test`. */
  test?: boolean
}

const STATE_WORD: Record<JobState, string> = {success: 'succeeded', warning: 'finished with warnings', failure: 'FAILED'}

/** A subject line: ≤ 100 characters, printable ASCII (SNS rejects control characters and longer subjects). */
export function eventSubject(e: JobEvent): string {
  const base = `Lifeboat: ${e.name === e.job ? e.job : `${e.job} (${e.name})`} ${STATE_WORD[e.state]} on ${e.host}`
  return asciiLine(e.test ? `[test] ${base}` : base, 100)
}

export function asciiLine(s: string, max: number): string {
  const clean = s.normalize('NFKD').replace(/[^\x20-\x7E]/g, '').replace(/\s+/g, ' ').trim()
  return clean.length <= max ? clean : clean.slice(0, max - 3) + '...'
}

function formatNumber(key: string, v: number | string): string {
  if (typeof v === 'number' && /bytes$/i.test(key)) return `${formatBytes(v)} (${v} bytes)`
  if (typeof v === 'number' && /seconds$/i.test(key)) return formatDuration(v)
  return String(v)
}

/** The human-readable body (SNS e-mail): job, host, time, state, key numbers, what to do. */
export function eventText(e: JobEvent): string {
  const lines: string[] = []
  lines.push(`${e.test ? '[TEST] ' : ''}Lifeboat job "${e.name}" ${STATE_WORD[e.state]} on ${e.host}.`, '')
  const rows: Array<[string, string]> = [
    ['Job', e.name === e.job ? e.job : `${e.job} (schedule ${e.name})`],
    ['Host', e.host],
    ['State', e.state.toUpperCase()],
    ['Started', `${e.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`],
    ['Finished', `${e.finishedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (took ${formatDuration(e.durationSeconds)})`],
  ]
  if (e.repository) rows.push(['Repository', e.repository])
  if (e.array) rows.push(['Array', e.array])
  if (e.resource) rows.push(['Resource', e.resource])
  rows.push(['Summary', e.summary])
  const w = Math.max(...rows.map(([k]) => k.length)) + 1
  for (const [k, v] of rows) lines.push(`${(k + ':').padEnd(w)} ${v}`)
  const nums = Object.entries(e.numbers)
  if (nums.length > 0) {
    lines.push('', 'Key numbers:')
    for (const [k, v] of nums) lines.push(`  ${k}: ${formatNumber(k, v)}`)
  }
  if (e.error) {
    lines.push('', `Error (${e.error.code}): ${e.error.message}`)
    if (e.error.hint) lines.push(`Hint: ${e.error.hint}`)
  }
  lines.push('', 'What to do:', `  ${e.action}`, '', `Exit code ${e.exitCode}. Sent by lifeboat; see \`lifeboat status\` on ${e.host}.`)
  return lines.join('\n') + '\n'
}

/** The default advice for a state, when the job gives none. */
export function defaultAction(e: Pick<JobEvent, 'state' | 'name' | 'job' | 'error'>): string {
  if (e.state === 'success') return 'Nothing to do.'
  const rerun = `re-run it now with \`lifeboat schedule run ${e.name}\` (or the job's command) after fixing the cause`
  if (e.state === 'warning') return `Look at the warnings in the job's log; ${rerun} if needed.`
  return `${e.error?.hint ? `${e.error.hint}; then ` : 'Look at the job log and `lifeboat status`; then '}${rerun}.`
}
