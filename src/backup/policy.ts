/**
 * restic's forget policy (as restic 0.14 applies it), as pure functions: which snapshots a policy keeps,
 * and why; and how snapshots are grouped before the policy is applied to each group.
 *
 * Bucketing uses the wall clock of the time as the snapshot records it (its own UTC offset), which is what
 * restic does: Go keeps the parsed offset, so a snapshot written at 23:30+01:00 belongs to that day even on
 * a machine in another time zone. For snapshots made on this machine that is its local time.
 */
import {UsageError} from '../errors.js'
import type {Snapshot} from './types.js'

/** A restic duration (`1y2m3d4h`): years, months, days, hours. */
export interface PolicyDuration {
  years: number
  months: number
  days: number
  hours: number
}

export interface ForgetPolicy {
  last?: number
  hourly?: number
  daily?: number
  weekly?: number
  monthly?: number
  yearly?: number
  /** Keep everything newer than (newest snapshot − this), e.g. "1y2m3d4h". */
  within?: string
  /** Keep snapshots that have all tags of any entry; an entry "a,b" needs both. */
  keepTags?: string[][] | string[]
}

export interface PolicyInput {
  id: string
  snapshot: Snapshot
}

export interface PolicyDecision extends PolicyInput {
  keep: boolean
  /** Why it is kept, restic's words ("last snapshot", "daily snapshot", "within 2d", "has tags [a, b]"); empty when removed. */
  reasons: string[]
}

/** Parses a restic duration such as `1y2m3d4h` (m = months). */
export function parseDuration(s: string): PolicyDuration {
  const d: PolicyDuration = {years: 0, months: 0, days: 0, hours: 0}
  const text = s.trim()
  if (text === '') throw new UsageError('empty duration', {hint: 'use a duration such as 1y2m3d4h (y years, m months, d days, h hours)'})
  const re = /(\d+)([ymdh])/gy
  let pos = 0
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const n = Number(m[1])
    if (m[2] === 'y') d.years += n
    else if (m[2] === 'm') d.months += n
    else if (m[2] === 'd') d.days += n
    else d.hours += n
    pos = re.lastIndex
  }
  if (pos !== text.length) throw new UsageError(`invalid duration ${JSON.stringify(s)}`, {hint: 'use a duration such as 1y2m3d4h (y years, m months, d days, h hours)'})
  return d
}

/** restic's rendering of a duration: only the non-zero parts, e.g. "2d", "1y3h". */
export function formatDuration(d: PolicyDuration): string {
  return `${d.years ? `${d.years}y` : ''}${d.months ? `${d.months}m` : ''}${d.days ? `${d.days}d` : ''}${d.hours ? `${d.hours}h` : ''}`
}

function isZero(d: PolicyDuration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0
}

/** Normalises keepTags: each entry a list of tags that must all be present. */
export function normalizeTagLists(tags: ForgetPolicy['keepTags']): string[][] {
  return (tags ?? []).map((t) => (Array.isArray(t) ? t : t.split(',')).map((x) => x.trim()).filter((x) => x !== ''))
}

/** Whether the policy keeps nothing by rule (restic then removes nothing at all). */
export function isEmptyPolicy(p: ForgetPolicy): boolean {
  const counts = [p.last, p.hourly, p.daily, p.weekly, p.monthly, p.yearly].some((n) => (n ?? 0) !== 0)
  return !counts && (p.within === undefined || isZero(parseDuration(p.within))) && (p.keepTags ?? []).length === 0
}

/** A snapshot time: the instant, and the wall clock in the offset it was recorded with. */
interface Wall {
  ms: number
  year: number
  month: number // 1..12
  day: number
  hour: number
  /** Recorded UTC offset in minutes (east positive). */
  offset: number
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/

function wallOf(time: string): Wall {
  const ms = Date.parse(time)
  const m = RFC3339.exec(time)
  if (m) {
    const offset = m[7] ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]))
    return {ms, year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: Number(m[4]), offset}
  }
  // Not RFC 3339 (never written by restic): fall back to this machine's local time.
  const d = new Date(ms)
  return {ms, year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), offset: -d.getTimezoneOffset()}
}

/** Go's Time.ISOWeek for a calendar date: [ISO year, week 1..53]. */
export function isoWeek(year: number, month: number, day: number): [number, number] {
  const t = new Date(Date.UTC(year, month - 1, day))
  const dow = (t.getUTCDay() + 6) % 7 // Monday = 0
  t.setUTCDate(t.getUTCDate() - dow + 3) // the Thursday of this week decides its year
  const isoYear = t.getUTCFullYear()
  const jan1 = Date.UTC(isoYear, 0, 1)
  return [isoYear, Math.floor((t.getTime() - jan1) / 86_400_000 / 7) + 1]
}

/**
 * restic's `latest.AddDate(-y, -m, -d).Add(-h)`: calendar arithmetic on the recorded wall clock. Go parses a
 * time whose offset is the local zone's offset at that instant into the local zone, so the calendar step then
 * follows local DST rules; any other offset is a fixed zone.
 */
function withinCutoff(latest: Wall, d: PolicyDuration): number {
  const local = new Date(latest.ms)
  let stepped: number
  if (-local.getTimezoneOffset() === latest.offset) {
    stepped = new Date(
      local.getFullYear() - d.years,
      local.getMonth() - d.months,
      local.getDate() - d.days,
      local.getHours(),
      local.getMinutes(),
      local.getSeconds(),
      local.getMilliseconds(),
    ).getTime()
  } else {
    const w = new Date(latest.ms + latest.offset * 60_000) // wall clock as UTC fields
    stepped =
      Date.UTC(w.getUTCFullYear() - d.years, w.getUTCMonth() - d.months, w.getUTCDate() - d.days, w.getUTCHours(), w.getUTCMinutes(), w.getUTCSeconds(), w.getUTCMilliseconds()) -
      latest.offset * 60_000
  }
  return stepped - d.hours * 3_600_000
}

/**
 * Applies a forget policy to one group of snapshots. Returns every snapshot, newest first, with whether it
 * is kept and the rules that keep it. `now` only matters for --keep-within: snapshots in the future do not
 * count as the newest (as restic).
 */
export function applyPolicy(list: PolicyInput[], policy: ForgetPolicy, now: Date = new Date()): PolicyDecision[] {
  const items = list.map((e) => ({...e, wall: wallOf(e.snapshot.time)}))
  // Newest first; equal times keep a deterministic order (by ID).
  items.sort((a, b) => b.wall.ms - a.wall.ms || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

  if (isEmptyPolicy(policy)) return items.map(({wall: _w, ...e}) => ({...e, keep: true, reasons: ['policy is empty']}))

  const within = policy.within === undefined ? undefined : parseDuration(policy.within)
  const tagLists = normalizeTagLists(policy.keepTags)
  const buckets: Array<{count: number; key: (w: Wall, nr: number) => number; last: number | undefined; reason: string}> = [
    {count: policy.last ?? 0, key: (_w, nr) => nr, last: undefined, reason: 'last snapshot'},
    {count: policy.hourly ?? 0, key: (w) => w.year * 1_000_000 + w.month * 10_000 + w.day * 100 + w.hour, last: undefined, reason: 'hourly snapshot'},
    {count: policy.daily ?? 0, key: (w) => w.year * 10_000 + w.month * 100 + w.day, last: undefined, reason: 'daily snapshot'},
    {count: policy.weekly ?? 0, key: (w) => {
      const [y, wk] = isoWeek(w.year, w.month, w.day)
      return y * 100 + wk
    }, last: undefined, reason: 'weekly snapshot'},
    {count: policy.monthly ?? 0, key: (w) => w.year * 100 + w.month, last: undefined, reason: 'monthly snapshot'},
    {count: policy.yearly ?? 0, key: (w) => w.year, last: undefined, reason: 'yearly snapshot'},
  ]

  let cutoff: number | undefined
  if (within && !isZero(within)) {
    // The newest snapshot that is not in the future; none → everything is within.
    const nowMs = now.getTime()
    const past = items.filter((e) => e.wall.ms < nowMs)
    cutoff = past.length === 0 ? Number.NEGATIVE_INFINITY : withinCutoff(past.reduce((a, b) => (b.wall.ms > a.wall.ms ? b : a)).wall, within)
  }

  return items.map(({wall, ...e}, nr) => {
    const reasons: string[] = []
    for (const tags of tagLists) {
      const have = new Set(e.snapshot.tags ?? [])
      if (tags.every((t) => have.has(t))) reasons.push(`has tags [${tags.join(', ')}]`)
    }
    if (cutoff !== undefined && wall.ms > cutoff) reasons.push(`within ${formatDuration(within!)}`)
    for (const b of buckets) {
      if (b.count <= 0) continue
      const k = b.key(wall, nr)
      if (k !== b.last) {
        b.last = k
        b.count--
        reasons.push(b.reason)
      }
    }
    return {...e, keep: reasons.length > 0, reasons}
  })
}

export interface GroupBy {
  host?: boolean
  paths?: boolean
  tags?: boolean
}

/** Parses restic's `--group-by` value: "host,paths" (default), "" for no grouping. */
export function parseGroupBy(s: string): GroupBy {
  const g: GroupBy = {}
  for (const part of s.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if (part === 'host' || part === 'hosts') g.host = true
    else if (part === 'path' || part === 'paths') g.paths = true
    else if (part === 'tag' || part === 'tags') g.tags = true
    else throw new UsageError(`unknown grouping option ${JSON.stringify(part)}`, {hint: 'use a comma-separated list of host, paths and tags, or "" for no grouping'})
  }
  return g
}

export interface SnapshotGroup<T extends PolicyInput> {
  /** What the group shares; only the fields grouped by are set. */
  key: {hostname?: string; paths?: string[]; tags?: string[]}
  snapshots: T[]
}

/** Groups snapshots as restic's `--group-by` does (paths and tags compared as sorted sets); groups in first-seen order. */
export function groupSnapshots<T extends PolicyInput>(list: T[], groupBy: GroupBy = {host: true, paths: true}): Array<SnapshotGroup<T>> {
  const groups = new Map<string, SnapshotGroup<T>>()
  for (const e of list) {
    const key: SnapshotGroup<T>['key'] = {}
    if (groupBy.host) key.hostname = e.snapshot.hostname ?? ''
    if (groupBy.paths) key.paths = [...e.snapshot.paths].sort()
    if (groupBy.tags) key.tags = [...(e.snapshot.tags ?? [])].sort()
    const k = JSON.stringify([key.hostname, key.paths, key.tags])
    const g = groups.get(k)
    if (g) g.snapshots.push(e)
    else groups.set(k, {key, snapshots: [e]})
  }
  return [...groups.values()]
}
