/**
 * When a schedule runs: `--every 15m|1h|6h|1d|1w` → a systemd OnCalendar spec and the equivalent crontab
 * fields; `--on-calendar SPEC` (systemd syntax, checked with `systemd-analyze calendar` when available).
 * Next-run times come from the cron fields (our own small matcher, local time like cron and systemd) or,
 * for free-form OnCalendar specs, from `systemd-analyze calendar`.
 */
import {UsageError} from '../errors.js'
import {runTool, which} from '../exec/runner.js'

export interface Calendar {
  /** systemd OnCalendar= value. */
  onCalendar: string
  /** The five crontab time fields, when the spec has a cron equivalent. */
  cron?: string
  /** The nominal interval (from --every). */
  intervalSeconds?: number
  /** How the user said it (--every 1h / --on-calendar …). */
  source: string
}

const UNIT_SECONDS: Record<string, number> = {m: 60, h: 3600, d: 86_400, w: 604_800}

/** A small, stable number in [0, mod) from a name: spreads cron jobs of different schedules over the hour. */
export function nameOffset(name: string, mod: number): number {
  let h = 2_166_136_261
  for (const c of name) h = Math.imul(h ^ (c.codePointAt(0) ?? 0), 16_777_619) >>> 0
  return h % mod
}

/** Parses --every: minutes dividing an hour, hours dividing a day, 1d, 1w/7d. */
export function calendarFromEvery(every: string, name: string): Calendar {
  const m = /^(\d+)\s*(m|min|h|d|w)$/.exec(every.trim())
  if (!m) throw new UsageError(`--every "${every}" is not an interval such as 15m, 1h, 6h, 1d or 1w`, {hint: 'or give a systemd calendar spec with --on-calendar'})
  const n = Number(m[1])
  const unit = m[2] === 'min' ? 'm' : m[2]
  const bad = (why: string) =>
    new UsageError(`--every ${every}: ${why}`, {hint: "use --on-calendar with a systemd calendar spec for other rhythms (e.g. --on-calendar 'Mon,Thu 03:00')"})
  const source = `every ${n}${unit}`
  const minute = nameOffset(name, 60)
  if (unit === 'm') {
    if (n < 1 || 60 % n !== 0) throw bad('minutes must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)')
    if (n === 60) return calendarFromEvery('1h', name)
    return {onCalendar: `*-*-* *:00/${n}:00`, cron: `*/${n} * * * *`, intervalSeconds: n * 60, source}
  }
  if (unit === 'h') {
    if (n < 1 || 24 % n !== 0) throw bad('hours must divide a day (1, 2, 3, 4, 6, 8, 12, 24)')
    if (n === 24) return calendarFromEvery('1d', name)
    if (n === 1) return {onCalendar: 'hourly', cron: `${minute} * * * *`, intervalSeconds: 3600, source}
    return {onCalendar: `*-*-* 00/${n}:00:00`, cron: `${minute} */${n} * * *`, intervalSeconds: n * 3600, source}
  }
  if (unit === 'd') {
    if (n === 7) return calendarFromEvery('1w', name)
    if (n !== 1) throw bad('only 1d (daily) or 7d (weekly) have an exact calendar form')
    return {onCalendar: 'daily', cron: `${minute} ${nameOffset(name + 'h', 5)} * * *`, intervalSeconds: 86_400, source}
  }
  if (n !== 1) throw bad('only 1w (weekly) has an exact calendar form')
  return {onCalendar: 'weekly', cron: `${minute} ${nameOffset(name + 'h', 5)} * * 1`, intervalSeconds: UNIT_SECONDS.w, source}
}

/** The cron fields for the systemd shorthands and plain `*-*-* HH:MM[:SS]` / `DOW *-*-* HH:MM` forms. */
export function cronFromOnCalendar(spec: string): string | undefined {
  const s = spec.trim()
  const named: Record<string, string> = {minutely: '* * * * *', hourly: '0 * * * *', daily: '0 0 * * *', weekly: '0 0 * * 1', monthly: '0 0 1 * *', yearly: '0 0 1 1 *', annually: '0 0 1 1 *'}
  if (named[s]) return named[s]
  const dows = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
  const m = /^(?:([A-Za-z]{3}(?:,[A-Za-z]{3})*)\s+)?(?:\*-\*-\*\s+)?(\d{1,2}):(\d{2})(?::00)?$/.exec(s)
  if (!m) return undefined
  const h = Number(m[2])
  const min = Number(m[3])
  if (h > 23 || min > 59) return undefined
  let dow = '*'
  if (m[1]) {
    const idx = m[1].split(',').map((d) => dows.indexOf(d.toLowerCase().slice(0, 3)))
    if (idx.includes(-1)) return undefined
    dow = idx.join(',')
  }
  return `${min} ${h} * * ${dow}`
}

/** Validates an OnCalendar spec with systemd-analyze when it is installed (returns its normalized form). */
export async function checkOnCalendar(spec: string): Promise<string | undefined> {
  if (!which('systemd-analyze')) return undefined
  try {
    const r = await runTool('systemd-analyze', ['calendar', spec], {env: {...process.env, TZ: 'UTC', SYSTEMD_COLORS: '0'}, timeoutMs: 10_000})
    return /Normalized form:\s*(.+)/.exec(r.stdout)?.[1]?.trim()
  } catch (error) {
    const msg = (error as {result?: {stderr?: string}}).result?.stderr?.trim()
    throw new UsageError(`--on-calendar "${spec}" is not a valid systemd calendar spec${msg ? `: ${msg}` : ''}`, {
      hint: "examples: daily, hourly, 'Mon *-*-* 03:00', '*-*-* 02:30'; see `man systemd.time`",
    })
  }
}

// ------------------------------------------------------------------ cron matching

interface CronFields {
  minute: Set<number>
  hour: Set<number>
  dom: Set<number>
  month: Set<number>
  dow: Set<number>
  domStar: boolean
  dowStar: boolean
}

function field(text: string, min: number, max: number): Set<number> {
  const out = new Set<number>()
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part)
    if (!m) throw new UsageError(`cron field "${text}" is not understood`)
    const step = m[4] ? Number(m[4]) : 1
    let lo = min
    let hi = max
    if (m[2] !== undefined) {
      lo = Number(m[2])
      hi = m[3] === undefined ? (m[4] ? max : lo) : Number(m[3])
    }
    for (let v = lo; v <= hi; v += step) out.add(v === 7 && max === 7 ? 0 : v)
  }
  return out
}

export function parseCron(expr: string): CronFields {
  const f = expr.trim().split(/\s+/)
  if (f.length !== 5) throw new UsageError(`"${expr}" does not have the five crontab time fields`)
  return {
    minute: field(f[0], 0, 59),
    hour: field(f[1], 0, 23),
    dom: field(f[2], 1, 31),
    month: field(f[3], 1, 12),
    dow: field(f[4], 0, 7),
    domStar: f[2] === '*',
    dowStar: f[4] === '*',
  }
}

/** The next time (local time, as cron) strictly after `from` that matches the cron fields. */
export function nextCronTime(expr: string, from: Date): Date | undefined {
  const c = parseCron(expr)
  const t = new Date(from.getTime())
  t.setSeconds(0, 0)
  t.setMinutes(t.getMinutes() + 1)
  const limit = from.getTime() + 400 * 86_400_000
  while (t.getTime() <= limit) {
    const dayOk =
      c.domStar && c.dowStar
        ? true
        : c.domStar
          ? c.dow.has(t.getDay())
          : c.dowStar
            ? c.dom.has(t.getDate())
            : c.dom.has(t.getDate()) || c.dow.has(t.getDay())
    if (!c.month.has(t.getMonth() + 1) || !dayOk) {
      t.setDate(t.getDate() + 1)
      t.setHours(0, 0, 0, 0)
      continue
    }
    if (!c.hour.has(t.getHours())) {
      t.setHours(t.getHours() + 1, 0, 0, 0)
      continue
    }
    if (c.minute.has(t.getMinutes())) return t
    t.setMinutes(t.getMinutes() + 1)
  }
  return undefined
}

/** The next elapse of an OnCalendar spec: from its cron form, else systemd-analyze (undefined when neither works). */
export async function nextOnCalendar(spec: string, from: Date): Promise<Date | undefined> {
  const cron = cronFromOnCalendar(spec) ?? cronFromEveryForm(spec)
  if (cron) return nextCronTime(cron, from)
  if (!which('systemd-analyze')) return undefined
  try {
    const r = await runTool('systemd-analyze', ['calendar', `--base-time=@${Math.floor(from.getTime() / 1000)}`, spec], {
      env: {...process.env, TZ: 'UTC', SYSTEMD_COLORS: '0'},
      timeoutMs: 10_000,
    })
    const m = /Next elapse:\s*\w+\s+(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2})\s+UTC/.exec(r.stdout)
    return m ? new Date(`${m[1]}T${m[2]}Z`) : undefined
  } catch {
    return undefined
  }
}

/** The OnCalendar forms calendarFromEvery writes for minutes and hours. */
function cronFromEveryForm(spec: string): string | undefined {
  let m = /^\*-\*-\* \*:00\/(\d+):00$/.exec(spec)
  if (m) return `*/${Number(m[1])} * * * *`
  m = /^\*-\*-\* 00\/(\d+):00:00$/.exec(spec)
  if (m) return `0 */${Number(m[1])} * * *`
  return undefined
}
