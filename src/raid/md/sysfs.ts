import fs from 'node:fs'
import path from 'node:path'

/**
 * Reads /sys/block/mdX/md/* (under a root, so tests and the VM harness can point it elsewhere). sysfs is the
 * kernel's own view: for member roles it beats `mdadm --detail --export`, which prints a faulty member as a spare.
 */

export interface MdSysfsDev {
  name: string // kernel name of the member ("vdb")
  /** Comma-separated state words: in_sync, faulty, spare, write_mostly, replacement, want_replacement, blocked, journal… */
  state: string[]
  /** Slot number, or undefined for "none" (spares, faulty members). */
  slot?: number
  /** Corrected read errors counted by md. */
  errors?: number
  /** Used size on the member, KiB. */
  sizeKiB?: number
  /** Data offset, 512-byte sectors. */
  offsetSectors?: number
}

export interface MdSysfs {
  arrayState?: string
  syncAction?: string
  lastSyncAction?: string
  /** sync_completed "done / total" in 512-byte sectors, or "none"/"delayed". */
  syncCompleted?: {done: number; total: number} | string
  syncSpeedKiBps?: number
  degraded?: number
  mismatchCnt?: number
  level?: string
  raidDisks?: number
  componentSizeKiB?: number
  bitmapLocation?: string
  devs: MdSysfsDev[]
}

export function mdSysfsDir(root: string, md: string): string {
  return path.join(root, 'sys', 'block', md, 'md')
}

function read(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8').trim()
  } catch {
    return undefined
  }
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '' || !/^-?\d+/.test(v)) return undefined
  return Number.parseInt(v, 10)
}

/** Parses a sync_completed value ("48432 / 129024", "none", "delayed"). */
export function parseSyncCompleted(v: string | undefined): MdSysfs['syncCompleted'] {
  if (v === undefined) return undefined
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(v.trim())
  return m ? {done: Number(m[1]), total: Number(m[2])} : v.trim()
}

/** Reads the md sysfs directory of one array; undefined when it does not exist. */
export function readMdSysfs(root: string, md: string): MdSysfs | undefined {
  const dir = mdSysfsDir(root, md)
  if (!fs.existsSync(dir)) return undefined
  const r = (f: string) => read(path.join(dir, f))
  const s: MdSysfs = {
    arrayState: r('array_state'),
    syncAction: r('sync_action'),
    lastSyncAction: r('last_sync_action'),
    syncCompleted: parseSyncCompleted(r('sync_completed')),
    syncSpeedKiBps: num(r('sync_speed')),
    degraded: num(r('degraded')),
    mismatchCnt: num(r('mismatch_cnt')),
    level: r('level'),
    raidDisks: num(r('raid_disks')),
    componentSizeKiB: num(r('component_size')),
    bitmapLocation: r('bitmap/location'),
    devs: [],
  }
  let entries: string[] = []
  try {
    entries = fs.readdirSync(dir)
  } catch {
    entries = []
  }
  for (const e of entries.sort()) {
    if (!e.startsWith('dev-')) continue
    const d = path.join(dir, e)
    const state = read(path.join(d, 'state'))
    const slot = read(path.join(d, 'slot'))
    s.devs.push({
      name: e.slice(4),
      state: state ? state.split(',').map((w) => w.trim()).filter(Boolean) : [],
      slot: slot === undefined || slot === 'none' ? undefined : num(slot),
      errors: num(read(path.join(d, 'errors'))),
      sizeKiB: num(read(path.join(d, 'size'))),
      offsetSectors: num(read(path.join(d, 'offset'))),
    })
  }
  return s
}

/** Parses the `key=value` dumps we captured (fixtures), into the same shape (no dev-* entries). */
export function parseSysfsDump(text: string): MdSysfs {
  const kv: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const i = line.indexOf('=')
    if (i > 0) kv[line.slice(0, i).trim()] = line.slice(i + 1).trim()
  }
  return {
    arrayState: kv.array_state,
    syncAction: kv.sync_action,
    lastSyncAction: kv.last_sync_action,
    syncCompleted: parseSyncCompleted(kv.sync_completed),
    syncSpeedKiBps: num(kv.sync_speed),
    degraded: num(kv.degraded),
    mismatchCnt: num(kv.mismatch_cnt),
    level: kv.level,
    raidDisks: num(kv.raid_disks),
    componentSizeKiB: num(kv.component_size),
    devs: [],
  }
}

/** Writes a sysfs attribute of an array (sync_action: check, repair, idle). */
export function writeMdSysfs(root: string, md: string, attr: string, value: string): void {
  fs.writeFileSync(path.join(mdSysfsDir(root, md), attr), value)
}
