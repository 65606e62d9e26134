import path from 'node:path'

import type {ArrayProgress, ArrayStatus, Health, MemberRole, MemberStatus, ProgressAction} from '../engine.js'
import {explain} from '../status-view.js'
import type {MdDetail, MdExport} from './detail.js'
import type {MdstatArray} from './mdstat.js'
import type {MdSysfs, MdSysfsDev} from './sysfs.js'

/**
 * Builds one md array's ArrayStatus from what the kernel and mdadm say, in order of trust:
 * sysfs (the kernel's own per-member state) > `mdadm --detail` > /proc/mdstat > `--detail --export`
 * (whose ROLE prints a faulty member as "spare").
 */
export interface MdSources {
  mdstat?: MdstatArray
  detail?: MdDetail
  exported?: MdExport
  sysfs?: MdSysfs
  /** The kernel name (md0) when there is no mdstat entry. */
  kernelName?: string
}

const base = (p: string) => path.basename(p)

export function roleFromSysfs(d: MdSysfsDev): MemberRole {
  const s = new Set(d.state)
  if (s.has('faulty')) return 'faulty'
  if (s.has('replacement')) return 'replacement'
  if (s.has('in_sync') || s.has('journal')) return 'active'
  if (s.has('spare')) return d.slot === undefined ? 'spare' : 'rebuilding'
  return 'unknown'
}

export function roleFromDetail(words: string[]): MemberRole {
  const s = new Set(words)
  if (s.has('faulty')) return 'faulty'
  if (s.has('replacement')) return 'replacement'
  if (s.has('rebuilding')) return 'rebuilding'
  if (s.has('spare')) return 'spare'
  if (s.has('removed')) return 'removed'
  if (s.has('active') || s.has('sync')) return 'active'
  return 'unknown'
}

function roleFromFlags(flags: string[]): MemberRole {
  if (flags.includes('F')) return 'faulty'
  if (flags.includes('R')) return 'replacement'
  if (flags.includes('S')) return 'spare'
  return 'active'
}

function roleFromExport(role: string): MemberRole {
  if (/^\d+$/.test(role)) return 'active'
  if (role === 'spare') return 'spare'
  if (role === 'faulty') return 'faulty'
  if (role === 'journal') return 'active'
  return 'unknown'
}

const ACTIONS: Record<string, ProgressAction> = {
  recover: 'recovery',
  recovery: 'recovery',
  resync: 'resync',
  check: 'check',
  repair: 'repair',
  reshape: 'reshape',
}

/** Fault tolerance by md level (how many missing members the array survives). */
export function mdTolerance(level: string | undefined, raidDisks: number | undefined): number | undefined {
  const l = (level ?? '').toLowerCase()
  if (l === 'raid0' || l === 'linear') return 0
  if (l === 'raid1') return raidDisks === undefined ? undefined : Math.max(0, raidDisks - 1)
  if (l === 'raid4' || l === 'raid5') return 1
  if (l === 'raid6') return 2
  return undefined // raid10 depends on which members; trust mdadm's FAILED
}

export function buildMdStatus(src: MdSources): ArrayStatus {
  const {mdstat, detail, exported, sysfs} = src
  const kernelName = mdstat?.name ?? src.kernelName ?? (detail?.device ? base(detail.device) : 'md?')
  const members = new Map<string, MemberStatus>()
  const get = (name: string): MemberStatus => {
    let m = members.get(name)
    if (!m) {
      m = {device: `/dev/${name}`, role: 'unknown', state: ''}
      members.set(name, m)
    }
    return m
  }
  // Least trusted first; later sources overwrite.
  for (const e of exported?.members ?? []) {
    const m = get(base(e.device))
    m.device = e.device
    m.role = roleFromExport(e.role)
    m.state = `role=${e.role}`
    if (/^\d+$/.test(e.role)) m.slot = Number(e.role)
  }
  for (const mm of mdstat?.members ?? []) {
    const m = get(mm.name)
    m.role = mdstat?.active === false ? 'spare' : roleFromFlags(mm.flags)
    m.state = mm.flags.length > 0 ? mm.flags.map((f) => `(${f})`).join('') : mdstat?.active === false ? 'inactive' : ''
    if (mm.flags.includes('W')) m.state = [m.state, 'write_mostly'].filter(Boolean).join(',')
  }
  const removed: MemberStatus[] = []
  for (const d of detail?.devices ?? []) {
    if (!d.device) {
      if (d.state.includes('removed')) removed.push({device: 'missing', role: 'removed', state: 'removed', slot: d.slot})
      continue
    }
    const m = get(base(d.device))
    m.device = d.device
    m.role = roleFromDetail(d.state)
    m.state = d.state.join(' ')
    if (d.slot !== undefined) m.slot = d.slot
    else delete m.slot
  }
  for (const d of sysfs?.devs ?? []) {
    const m = get(d.name)
    m.role = roleFromSysfs(d)
    m.state = d.state.join(',')
    if (d.slot !== undefined) m.slot = d.slot
    else delete m.slot
    if (d.errors !== undefined) m.errors = {read: d.errors, write: 0}
    if (d.sizeKiB !== undefined) m.sizeBytes = d.sizeKiB * 1024
  }
  // A slot that mdstat's map shows down, that no member fills and detail did not list: removed.
  const raidDisks = detail?.raidDevices ?? mdstat?.raidDisks ?? sysfs?.raidDisks
  if (removed.length === 0 && mdstat?.map && sysfs && sysfs.devs.length > 0) {
    const filled = new Set([...members.values()].filter((m) => m.slot !== undefined && m.role !== 'faulty').map((m) => m.slot))
    for (let i = 0; i < mdstat.map.length; i++) if (mdstat.map[i] === '_' && !filled.has(i)) removed.push({device: 'missing', role: 'removed', state: 'removed', slot: i})
  }
  const list = [...members.values(), ...removed].sort((a, b) => order(a) - order(b))

  const level = detail?.level ?? mdstat?.level ?? sysfs?.level ?? 'unknown'
  const progress = mdProgress(src)
  const inactive = mdstat?.active === false || sysfs?.arrayState === 'inactive'
  let degradedCount = sysfs?.degraded
  if (degradedCount === undefined && mdstat?.raidDisks !== undefined && mdstat.workingDisks !== undefined) degradedCount = mdstat.raidDisks - mdstat.workingDisks
  if (degradedCount === undefined && detail?.stateWords.includes('degraded')) degradedCount = Math.max(1, (detail.raidDevices ?? 0) - (detail.activeDevices ?? 0))
  if (degradedCount === undefined) degradedCount = 0
  const tolerance = mdTolerance(level, raidDisks)
  const faultyOrMissing = list.filter((m) => m.role === 'faulty' || m.role === 'removed' || m.role === 'missing').length
  let health: Health
  if (inactive) health = 'inactive'
  else if (
    detail?.stateWords.includes('FAILED') ||
    sysfs?.arrayState === 'broken' ||
    (tolerance !== undefined && degradedCount > tolerance) ||
    (tolerance === 0 && faultyOrMissing > 0 && list.some((m) => m.role === 'faulty' || m.role === 'removed'))
  ) health = 'failed'
  else if (degradedCount > 0) health = progress && (progress.action === 'recovery' || progress.action === 'resync') && !progress.note ? 'rebuilding' : 'degraded'
  else health = 'healthy'

  let state = detail?.state ?? (inactive ? 'inactive' : sysfs?.arrayState ?? 'active')
  if (mdstat?.readOnly && !state.includes(mdstat.readOnly)) state = `${state} (${mdstat.readOnly})`

  const sizeKiB = mdstat?.blocksKiB ?? detail?.arraySizeKiB
  const name = detail?.name && !/^\d+$/.test(detail.name) ? detail.name : exported?.name && !/^\d+$/.test(exported.name) ? exported.name : kernelName
  const st: ArrayStatus = {
    engine: 'md',
    name,
    device: `/dev/${kernelName}`,
    uuid: detail?.uuid ?? exported?.uuid,
    level,
    sizeBytes: sizeKiB === undefined ? undefined : sizeKiB * 1024,
    health,
    state,
    members: list,
    expectedMembers: raidDisks,
    progress,
    bitmap: mdBitmap(src),
    mismatchCount: sysfs?.mismatchCnt,
    status: [],
    action: [],
  }
  const ex = explain(st)
  st.status = ex.status
  st.action = ex.action
  return st
}

function order(m: MemberStatus): number {
  const r = {active: 0, rebuilding: 1, replacement: 2, spare: 3, faulty: 4, removed: 5, missing: 5, unknown: 6}[m.role]
  return r * 1000 + (m.slot ?? 999)
}

function mdBitmap(src: MdSources): string | undefined {
  const loc = src.sysfs?.bitmapLocation
  if (loc !== undefined) return loc === 'none' ? 'none' : /^[+-]?\d+$/.test(loc) ? 'internal' : loc
  if (src.detail?.bitmap) return src.detail.bitmap.toLowerCase()
  if (src.mdstat?.bitmap) return `internal (${src.mdstat.bitmap})`
  if (src.detail?.consistencyPolicy === 'bitmap') return 'internal'
  if (src.detail?.consistencyPolicy) return 'none'
  return undefined
}

export function mdProgress(src: MdSources): ArrayProgress | undefined {
  const {mdstat, sysfs} = src
  const sa = sysfs?.syncAction
  const sysAction = sa && sa !== 'idle' && sa !== 'frozen' ? (ACTIONS[sa] ?? 'resync') : undefined
  const mp = mdstat?.progress
  if (sysAction && sysfs && typeof sysfs.syncCompleted === 'object') {
    const {done, total} = sysfs.syncCompleted
    const p: ArrayProgress = {action: sysAction, percent: total > 0 ? round1((100 * done) / total) : 0, doneBytes: done * 512, totalBytes: total * 512}
    const speed = sysfs.syncSpeedKiBps ?? mp?.speedKiBps
    if (speed && speed > 0) {
      p.speedBytesPerSec = speed * 1024
      p.etaSeconds = Math.round(((total - done) * 512) / p.speedBytesPerSec)
    }
    return p
  }
  if (mp) {
    const action = sysAction ?? ACTIONS[mp.action] ?? 'resync'
    const p: ArrayProgress = {action, percent: mp.percent}
    if (mp.doneKiB !== undefined && mp.totalKiB !== undefined) {
      p.doneBytes = mp.doneKiB * 1024
      p.totalBytes = mp.totalKiB * 1024
    }
    if (mp.speedKiBps !== undefined) p.speedBytesPerSec = mp.speedKiBps * 1024
    if (mp.finishMinutes !== undefined) p.etaSeconds = Math.round(mp.finishMinutes * 60)
    return p
  }
  if (mdstat?.pending) return {action: ACTIONS[mdstat.pending.action] ?? 'resync', percent: 0, note: mdstat.pending.note}
  if (sysAction) {
    const note = typeof sysfs?.syncCompleted === 'string' && sysfs.syncCompleted !== 'none' ? sysfs.syncCompleted.toUpperCase() : undefined
    return {action: sysAction, percent: 0, note}
  }
  return undefined
}

function round1(n: number): number {
  return Math.round(n * 10) / 10
}
