/**
 * The small event interface through which domain code reports progress. Domain modules call a listener;
 * the CLI decides how (or whether) to show it. Nothing here knows about terminals.
 */
export type ProgressEvent =
  | {kind: 'start'; phase: string; totalFiles?: number; totalBytes?: number}
  | {kind: 'progress'; phase: string; files: number; bytes: number; totalFiles?: number; totalBytes?: number; currentFile?: string}
  | {kind: 'warning'; message: string; path?: string}
  | {kind: 'info'; message: string}
  | {kind: 'done'; phase: string}

export type ProgressListener = (ev: ProgressEvent) => void

export const noProgress: ProgressListener = () => {}

/** Rate and ETA from the bytes seen so far. */
export class RateMeter {
  private readonly started: number
  constructor(private readonly now: () => number = Date.now) {
    this.started = now()
  }

  rate(bytes: number): number {
    const secs = (this.now() - this.started) / 1000
    return secs > 0 ? bytes / secs : 0
  }

  /** Seconds left, or undefined when unknown. */
  eta(bytes: number, totalBytes?: number): number | undefined {
    // Too early for a meaningful rate.
    if (!totalBytes || bytes <= 0 || this.now() - this.started < 2000) return undefined
    const r = this.rate(bytes)
    return r > 0 ? Math.max(0, (totalBytes - bytes) / r) : undefined
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${Math.round(n)} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`
  return `${sec}s`
}

/** One human line for a progress event: files, bytes, percentage, rate and ETA. */
export function describeProgress(ev: Extract<ProgressEvent, {kind: 'progress'}>, meter: RateMeter): string {
  const parts: string[] = []
  parts.push(ev.totalFiles === undefined ? `${ev.files} files` : `${ev.files}/${ev.totalFiles} files`)
  parts.push(ev.totalBytes === undefined ? formatBytes(ev.bytes) : `${formatBytes(ev.bytes)}/${formatBytes(ev.totalBytes)}`)
  if (ev.totalBytes) parts.push(`${Math.min(100, (100 * ev.bytes) / ev.totalBytes).toFixed(1)}%`)
  parts.push(`${formatBytes(meter.rate(ev.bytes))}/s`)
  const eta = meter.eta(ev.bytes, ev.totalBytes)
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`)
  return parts.join(', ')
}
