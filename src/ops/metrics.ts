/**
 * Prometheus textfile-collector output (node_exporter --collector.textfile.directory). Each writer merges its
 * samples into the file: families and series of other jobs are kept, the same series (name + labels) are
 * replaced. Written atomically (temp file in the same folder + rename) under a small lock file, so the
 * collector never reads half a file and two jobs finishing together do not lose each other's lines.
 */
import fs from 'node:fs'
import path from 'node:path'
import {writeFileAtomicSync} from '../fsutil.js'

export type MetricType = 'gauge' | 'counter' | 'untyped'

export interface MetricSample {
  name: string
  help: string
  type?: MetricType
  labels: Record<string, string>
  value: number
}

/** The metrics Lifeboat writes; HELP texts live here so every writer uses the same. */
export const METRIC_HELP: Record<string, string> = {
  lifeboat_job_duration_seconds: 'Duration of the last run of a Lifeboat job.',
  lifeboat_job_bytes: 'Bytes processed by the last run of a Lifeboat job.',
  lifeboat_job_files: 'Files processed by the last run of a Lifeboat job.',
  lifeboat_job_success: '1 when the last run of a Lifeboat job succeeded (warnings included), 0 when it failed.',
  lifeboat_job_last_run_timestamp_seconds: 'Unix time the last run of a Lifeboat job finished.',
  lifeboat_snapshot_age_seconds: 'Age of the newest snapshot of a backup repository.',
  lifeboat_array_degraded: '1 when a RAID array is degraded, rebuilding or failed, 0 when healthy.',
  lifeboat_recovery_point_age_seconds: 'Age of the newest completed AWS Backup recovery point of a resource.',
}

export function sample(name: keyof typeof METRIC_HELP, labels: Record<string, string | undefined>, value: number): MetricSample {
  const clean: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels)) if (v !== undefined && v !== '') clean[k] = v
  return {name, help: METRIC_HELP[name], type: 'gauge', labels: clean, value}
}

interface Family {
  name: string
  help?: string
  type?: string
  /** label key → sample line */
  series: Map<string, string>
}

function escapeLabel(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

function escapeHelp(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
}

function labelKey(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort()
  return keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(',')
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

/** Parses the exposition text enough to merge: families with HELP/TYPE and series keyed by name+labels. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const fam = (name: string) => {
    let f = families.get(name)
    if (!f) families.set(name, (f = {name, series: new Map()}))
    return f
  }
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line) continue
    const meta = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][\w:]*)\s*(.*)$/.exec(line)
    if (meta) {
      const f = fam(meta[2])
      if (meta[1] === 'HELP') f.help = meta[3]
      else f.type = meta[3]
      continue
    }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)(\s+\S+)?$/.exec(line)
    if (!m) continue // not ours to judge; a broken line is dropped rather than copied forward
    const labels = m[2] ? parseLabels(m[2]) : {}
    fam(baseFamily(m[1], families)).series.set(`${m[1]}{${labelKey(labels)}}`, line)
  }
  return families
}

/** Histogram/summary series (_bucket, _sum, _count) belong to their base family when it is declared. */
function baseFamily(name: string, families: Map<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix) && families.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length)
  }
  return name
}

export function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g
  for (const m of s.matchAll(re)) out[m[1]] = m[2].replaceAll(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
  return out
}

/** Merges samples into existing exposition text and returns the new text (families sorted by name). */
export function mergeExposition(existing: string, samples: readonly MetricSample[]): string {
  const families = parseExposition(existing)
  for (const s of samples) {
    let f = families.get(s.name)
    if (!f) families.set(s.name, (f = {name: s.name, series: new Map()}))
    f.help = escapeHelp(s.help)
    f.type = s.type ?? 'gauge'
    const key = labelKey(s.labels)
    f.series.set(`${s.name}{${key}}`, `${s.name}${key ? `{${key}}` : ''} ${formatValue(s.value)}`)
  }
  const out: string[] = []
  for (const f of [...families.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (f.series.size === 0) continue
    if (f.help !== undefined) out.push(`# HELP ${f.name} ${f.help}`)
    if (f.type !== undefined) out.push(`# TYPE ${f.name} ${f.type}`)
    out.push(...[...f.series.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, line]) => line))
  }
  return out.join('\n') + '\n'
}

/** Merges samples into FILE atomically (lock, read, merge, write temp, fsync, rename). */
export async function writeMetrics(file: string, samples: readonly MetricSample[]): Promise<void> {
  const dir = path.dirname(path.resolve(file))
  fs.mkdirSync(dir, {recursive: true})
  const release = await lockFile(`${file}.lock`)
  try {
    let existing = ''
    try {
      existing = fs.readFileSync(file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
    const text = mergeExposition(existing, samples)
    // node_exporter ignores files not ending in .prom: the temp name does not end in .prom.
    writeFileAtomicSync(file, text, {mode: 0o644})
  } finally {
    release()
  }
}

async function lockFile(lock: string, waitMs = 10_000, staleMs = 60_000): Promise<() => void> {
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      const fd = fs.openSync(lock, 'wx', 0o644)
      fs.writeSync(fd, String(process.pid))
      fs.closeSync(fd)
      return () => fs.rmSync(lock, {force: true})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > staleMs) fs.rmSync(lock, {force: true})
      } catch {
        // gone in between: retry
      }
      if (Date.now() > deadline) throw new Error(`the metrics file is locked by ${lock} (another job is writing it)`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
