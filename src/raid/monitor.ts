import type {ArrayStatus, MemberStatus, ProgressAction, RaidEvent, RaidEventName} from './engine.js'
import {needsAttention, totalErrors} from './status-view.js'

/**
 * Watches arrays by polling `list()` and turns state changes into RaidEvents (named as mdadm --monitor
 * names them). The first look at an array reports its current problems; later looks report changes.
 * Events go to `onEvent` (the command prints JSON lines and sends them to the notification sinks).
 */

const REBUILD: ProgressAction[] = ['recovery', 'resync', 'replace', 'reshape']

/** md arrays by device (the UUID needs mdadm, which may fail once), btrfs by filesystem UUID. */
export function arrayKey(s: ArrayStatus): string {
  return s.engine === 'md' ? `md:${s.device ?? s.uuid ?? s.name}` : `${s.engine}:${s.uuid ?? s.name}`
}

function memberKey(m: MemberStatus): string {
  return m.device === 'missing' ? `missing#${m.slot ?? '?'}` : m.device
}

function isDown(m: MemberStatus): boolean {
  return m.role === 'faulty' || m.role === 'missing' || m.role === 'removed'
}

export function diffStatuses(prev: ArrayStatus | undefined, cur: ArrayStatus | undefined, now: Date = new Date()): RaidEvent[] {
  const out: RaidEvent[] = []
  const s = (cur ?? prev)!
  const ev = (event: RaidEventName, message: string, device?: string, details?: Record<string, unknown>) => {
    const e: RaidEvent = {event, engine: s.engine, array: s.name, time: now.toISOString(), message}
    if (device !== undefined) e.device = device
    if (details !== undefined) e.details = details
    out.push(e)
  }
  if (!cur) {
    ev('Fail', `${s.name} is no longer present`, s.device, {disappeared: true})
    return out
  }
  const was = new Map((prev?.members ?? []).map((m) => [memberKey(m), m]))
  // Health.
  if (needsAttention(cur) && cur.health !== 'rebuilding' && (!prev || prev.health !== cur.health)) {
    ev('DegradedArray', `${cur.name} is ${cur.health}${cur.expectedMembers === undefined ? '' : ` (${cur.members.filter((m) => m.role === 'active').length} of ${cur.expectedMembers} members active)`}`, cur.device, {health: cur.health, state: cur.state})
  } else if (!prev && cur.health === 'rebuilding') {
    ev('DegradedArray', `${cur.name} is degraded and rebuilding`, cur.device, {health: cur.health, state: cur.state})
  }
  // Members that went down. md lists a failed disk twice (the faulty device and its empty slot), btrfs only
  // as a missing devid: count lost disks as max(named down, missing slots).
  const named = (x: MemberStatus[]) => x.filter((m) => isDown(m) && m.device !== 'missing')
  const lost = (x: MemberStatus[]) => Math.max(named(x).length, x.filter((m) => isDown(m) && m.device === 'missing').length)
  const newlyNamed = named(cur.members).filter((m) => {
    const before = was.get(memberKey(m))
    return !before || !isDown(before)
  })
  for (const m of newlyNamed) ev('Fail', `${m.device} of ${cur.name} is ${m.role}`, m.device, {role: m.role, slot: m.slot})
  let extra = lost(cur.members) - (prev ? lost(prev.members) : 0) - newlyNamed.length
  for (const m of cur.members.filter((x) => isDown(x) && x.device === 'missing')) {
    if (extra <= 0) break
    if (was.has(memberKey(m)) && isDown(was.get(memberKey(m))!)) continue
    ev('Fail', `a device of ${cur.name}${m.slot === undefined ? '' : ` (${cur.engine === 'btrfs' ? 'devid' : 'slot'} ${m.slot})`} is missing`, m.device, {role: m.role, slot: m.slot})
    extra--
  }
  // Spares (or rebuild targets) that became active members.
  if (prev) {
    for (const m of cur.members) {
      const before = was.get(memberKey(m))
      if (m.role === 'active' && before && (before.role === 'spare' || before.role === 'rebuilding' || before.role === 'replacement')) {
        ev('SpareActive', `${m.device} is now an active member of ${cur.name}`, m.device, {was: before.role})
      }
    }
  }
  // Rebuilds.
  const pa = prev?.progress?.action
  const ca = cur.progress?.action
  const wasRebuild = pa !== undefined && REBUILD.includes(pa)
  const isRebuild = ca !== undefined && REBUILD.includes(ca)
  if (isRebuild && (!wasRebuild || pa !== ca)) ev('RebuildStarted', `${ca} started on ${cur.name}`, cur.device, {action: ca, percent: cur.progress!.percent})
  if (wasRebuild && (!isRebuild || pa !== ca)) ev('RebuildFinished', `${pa} finished on ${cur.name}; the array is ${cur.health}`, cur.device, {action: pa, health: cur.health})
  // Spares used up.
  if (prev) {
    const sp = (x: ArrayStatus) => x.members.filter((m) => m.role === 'spare').length
    if (sp(cur) < sp(prev)) ev('SparesMissing', `${cur.name} has ${sp(cur)} spare${sp(cur) === 1 ? '' : 's'} left (had ${sp(prev)})`, cur.device, {before: sp(prev), after: sp(cur)})
  }
  // Mismatches found by a check.
  const pm = prev?.mismatchCount ?? 0
  const cm = cur.mismatchCount ?? 0
  const checking = ca === 'check' || ca === 'repair'
  // After a repair the count says what was rewritten; after a check, what is inconsistent.
  if (cm > 0 && !checking && (!prev || cm !== pm || pa === 'check')) {
    ev('MismatchesFound', `${cur.name}: the check found ${cm} mismatched sectors`, cur.device, {mismatchCount: cm})
  }
  // Device error counters.
  for (const m of cur.members) {
    const n = totalErrors(m)
    if (n === 0) continue
    const before = was.get(memberKey(m))
    const b = before ? totalErrors(before) : 0
    if (!prev || n > b) ev('DeviceErrors', `${m.device} of ${cur.name} has ${n} errors${prev ? ` (+${n - b})` : ''}`, m.device, {errors: m.errors, previous: prev ? b : undefined})
  }
  return out
}

export interface MonitorOptions {
  list: () => Promise<ArrayStatus[]>
  intervalMs: number
  once?: boolean
  onEvent?: (e: RaidEvent) => void | Promise<void>
  /** Called after each poll with the arrays seen (for a heartbeat or tests). */
  onPoll?: (arrays: ArrayStatus[]) => void | Promise<void>
  sleep?: (ms: number) => Promise<void>
  now?: () => Date
  signal?: AbortSignal
  /** Stop after this many polls (tests). */
  maxPolls?: number
  /**
   * A poll that failed (a tool timed out, a disk hung). Without it the error ends the monitor; with it the
   * monitor reports and keeps going (the arrays keep their last known state).
   */
  onError?: (error: unknown) => void
}

/** Polls until `once`, `maxPolls` or the signal stops it; returns every event emitted. */
export async function monitor(opts: MonitorOptions): Promise<RaidEvent[]> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const now = opts.now ?? (() => new Date())
  const seen = new Map<string, ArrayStatus>()
  const all: RaidEvent[] = []
  for (let poll = 1; ; poll++) {
    let arrays: ArrayStatus[]
    try {
      // Nested arrays: watch the children too, so a disk failing inside a 1+0 mirror is its own Fail event.
      arrays = (await opts.list()).flatMap((a) => [a, ...(a.children ?? [])])
    } catch (error) {
      if (!opts.onError || opts.once) throw error
      opts.onError(error)
      if ((opts.maxPolls !== undefined && poll >= opts.maxPolls) || opts.signal?.aborted) return all
      await sleep(opts.intervalMs)
      continue
    }
    const t = now()
    const curKeys = new Set<string>()
    const events: RaidEvent[] = []
    for (const a of arrays) {
      const k = arrayKey(a)
      curKeys.add(k)
      events.push(...diffStatuses(seen.get(k), a, t))
      seen.set(k, a)
    }
    for (const [k, a] of seen) {
      if (curKeys.has(k)) continue
      events.push(...diffStatuses(a, undefined, t))
      seen.delete(k)
    }
    for (const e of events) {
      all.push(e)
      await opts.onEvent?.(e)
    }
    await opts.onPoll?.(arrays)
    if (opts.once || (opts.maxPolls !== undefined && poll >= opts.maxPolls) || opts.signal?.aborted) return all
    await sleep(opts.intervalMs)
    if (opts.signal?.aborted) return all
  }
}
