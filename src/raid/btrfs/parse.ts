/**
 * Parsers for btrfs-progs 5.x/6.x output: `filesystem show [--raw]`, `filesystem usage -b`,
 * `--format json device stats` (and the plain table as a fallback), `scrub status`, `replace status -1`.
 * Unknown lines are skipped.
 */

export interface BtrfsShowDevice {
  devid: number
  sizeBytes?: number
  usedBytes?: number
  /** Device path, or undefined when the device is missing. */
  path?: string
  missing: boolean
}

export interface BtrfsShowFs {
  label?: string
  uuid: string
  totalDevices: number
  usedBytes?: number
  devices: BtrfsShowDevice[]
  /** "*** Some devices missing" (unmounted filesystem with absent members). */
  someMissing: boolean
}

const UNITS: Record<string, number> = {B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, PiB: 1024 ** 5, EiB: 1024 ** 6}

/** "1.00GiB" → bytes; "1073741824" → bytes; "0" → 0. */
export function parseSize(s: string): number | undefined {
  const m = /^([\d.]+)\s*([KMGTPE]iB|B)?$/.exec(s.trim())
  if (!m) return undefined
  return Math.round(Number(m[1]) * (m[2] ? UNITS[m[2]] : 1))
}

export function parseFilesystemShow(text: string): BtrfsShowFs[] {
  const out: BtrfsShowFs[] = []
  let cur: BtrfsShowFs | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    let m = /^Label:\s*(?:'(.*)'|none)\s+uuid:\s*(\S+)/.exec(line)
    if (m) {
      cur = {label: m[1], uuid: m[2], totalDevices: 0, devices: [], someMissing: false}
      out.push(cur)
      continue
    }
    if (!cur) continue
    m = /^Total devices (\d+) FS bytes used (\S+)/.exec(line)
    if (m) {
      cur.totalDevices = Number(m[1])
      cur.usedBytes = parseSize(m[2])
      continue
    }
    m = /^devid\s+(\d+)\s+size\s+(\S+)\s+used\s+(\S+)\s+path\s*(.*)$/.exec(line)
    if (m) {
      const p = m[4].trim()
      const missing = p === '' || p === 'MISSING' || /\bMISSING\b/.test(p) || p === '<missing disk>'
      cur.devices.push({devid: Number(m[1]), sizeBytes: parseSize(m[2]), usedBytes: parseSize(m[3]), path: missing ? undefined : p.split(/\s+/)[0], missing})
      continue
    }
    if (/Some devices missing/.test(line)) cur.someMissing = true
  }
  return out
}

export interface BtrfsUsage {
  overall: Record<string, number>
  deviceSize?: number
  deviceMissing?: number
  used?: number
  freeEstimated?: number
  dataRatio?: number
  metadataRatio?: number
  multipleProfiles?: boolean
  /** Block groups: type (Data, Metadata, System) and profile (RAID1, single, DUP…) with per-device bytes. */
  groups: Array<{type: string; profile: string; size: number; used: number; devices: Record<string, number>}>
  unallocated: Record<string, number>
}

export function parseUsage(text: string): BtrfsUsage {
  const u: BtrfsUsage = {overall: {}, groups: [], unallocated: {}}
  let section: 'overall' | 'group' | 'unallocated' | undefined
  let group: BtrfsUsage['groups'][number] | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    if (line === 'Overall:') {
      section = 'overall'
      continue
    }
    if (line === 'Unallocated:') {
      section = 'unallocated'
      continue
    }
    let m = /^(\w+),([\w-]+):\s*Size:(\S+),\s*Used:(\S+)/.exec(line)
    if (m) {
      group = {type: m[1], profile: m[2], size: parseSize(m[3]) ?? 0, used: parseSize(m[4]) ?? 0, devices: {}}
      u.groups.push(group)
      section = 'group'
      continue
    }
    if (section === 'overall') {
      m = /^([^:]+):\s+(\S+)/.exec(line)
      if (!m) continue
      const key = m[1].trim()
      if (key === 'Multiple profiles') {
        u.multipleProfiles = m[2] === 'yes'
        continue
      }
      const v = key.endsWith('ratio') ? Number(m[2]) : parseSize(m[2])
      if (v === undefined || Number.isNaN(v)) continue
      u.overall[key] = v
      continue
    }
    m = /^(\S+)\s+(\S+)$/.exec(line)
    if (m && (section === 'group' || section === 'unallocated')) {
      const v = parseSize(m[2])
      if (v === undefined) continue
      if (section === 'group' && group) group.devices[m[1]] = v
      else u.unallocated[m[1]] = v
    }
  }
  u.deviceSize = u.overall['Device size']
  u.deviceMissing = u.overall['Device missing']
  u.used = u.overall.Used
  u.freeEstimated = u.overall['Free (estimated)']
  u.dataRatio = u.overall['Data ratio']
  u.metadataRatio = u.overall['Metadata ratio']
  return u
}

export interface BtrfsDeviceStats {
  device: string // "/dev/loop1" or "devid:3" for a missing device
  devid?: number
  write: number
  read: number
  flush: number
  corruption: number
  generation: number
}

export function parseDeviceStatsJson(text: string): BtrfsDeviceStats[] {
  const j = JSON.parse(text) as {'device-stats'?: Array<Record<string, string>>}
  const rows = j['device-stats']
  if (!Array.isArray(rows)) throw new Error('no "device-stats" in btrfs JSON output')
  return rows.map((r) => ({
    device: r.device,
    devid: r.devid === undefined ? undefined : Number(r.devid),
    write: Number(r.write_io_errs ?? 0),
    read: Number(r.read_io_errs ?? 0),
    flush: Number(r.flush_io_errs ?? 0),
    corruption: Number(r.corruption_errs ?? 0),
    generation: Number(r.generation_errs ?? 0),
  }))
}

/** `btrfs device stats` plain form: "[/dev/loop0].write_io_errs    0" (and "[devid:3]…" for missing devices). */
export function parseDeviceStatsText(text: string): BtrfsDeviceStats[] {
  const by = new Map<string, BtrfsDeviceStats>()
  for (const line of text.split('\n')) {
    const m = /^\[([^\]]+)\]\.(\w+)\s+(\d+)/.exec(line.trim())
    if (!m) continue
    let s = by.get(m[1])
    if (!s) {
      s = {device: m[1], write: 0, read: 0, flush: 0, corruption: 0, generation: 0}
      const d = /^devid:(\d+)$/.exec(m[1])
      if (d) s.devid = Number(d[1])
      by.set(m[1], s)
    }
    const v = Number(m[3])
    if (m[2] === 'write_io_errs') s.write = v
    else if (m[2] === 'read_io_errs') s.read = v
    else if (m[2] === 'flush_io_errs') s.flush = v
    else if (m[2] === 'corruption_errs') s.corruption = v
    else if (m[2] === 'generation_errs') s.generation = v
  }
  return [...by.values()]
}

/** `btrfs device stats -T` table form. */
export function parseDeviceStatsTable(text: string): BtrfsDeviceStats[] {
  const out: BtrfsDeviceStats[] = []
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/.exec(line)
    if (m) out.push({devid: Number(m[1]), device: m[2], write: Number(m[3]), read: Number(m[4]), flush: Number(m[5]), corruption: Number(m[6]), generation: Number(m[7])})
  }
  return out
}

export interface BtrfsScrubStatus {
  uuid?: string
  status?: string // running, finished, aborted, interrupted, "no stats available"
  started?: string
  durationSeconds?: number
  timeLeftSeconds?: number
  totalBytes?: number
  scrubbedBytes?: number
  percent?: number
  rateBytesPerSec?: number
  errorSummary?: string
  noErrors: boolean
  corrected?: number
  uncorrectable?: number
  unverified?: number
  /** Error kinds from the summary: csum=16384 read=2 … */
  errors: Record<string, number>
}

function hms(s: string): number | undefined {
  const m = /^(\d+):(\d{2}):(\d{2})$/.exec(s.trim())
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : undefined
}

export function parseScrubStatus(text: string): BtrfsScrubStatus {
  const s: BtrfsScrubStatus = {noErrors: false, errors: {}}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    const m = /^([^:]+):\s*(.*)$/.exec(line)
    if (!m) {
      if (/no stats available/i.test(line)) s.status = 'no stats available'
      continue
    }
    const [key, val] = [m[1].trim(), m[2].trim()]
    switch (key) {
      case 'UUID':
        s.uuid = val
        break
      case 'Scrub started':
        s.started = val
        break
      case 'Status':
        s.status = val
        break
      case 'Duration':
        s.durationSeconds = hms(val)
        break
      case 'Time left':
        s.timeLeftSeconds = hms(val)
        break
      case 'Total to scrub':
        s.totalBytes = parseSize(val)
        break
      case 'Bytes scrubbed': {
        const b = /^(\S+)\s*\(([\d.]+)%\)/.exec(val)
        if (b) {
          s.scrubbedBytes = parseSize(b[1])
          s.percent = Number(b[2])
        } else s.scrubbedBytes = parseSize(val)
        break
      }
      case 'Rate':
        s.rateBytesPerSec = parseSize(val.replace(/\/s$/, ''))
        break
      case 'Error summary':
        s.errorSummary = val
        s.noErrors = /no errors found/.test(val)
        for (const e of val.matchAll(/(\w+)=(\d+)/g)) s.errors[e[1]] = Number(e[2])
        break
      case 'Corrected':
        s.corrected = Number(val)
        break
      case 'Uncorrectable':
        s.uncorrectable = Number(val)
        break
      case 'Unverified':
        s.unverified = Number(val)
        break
      default:
        break
    }
  }
  return s
}

export interface BtrfsReplaceStatus {
  state: 'never' | 'running' | 'finished' | 'canceled' | 'suspended' | 'unknown'
  percent?: number
  writeErrors?: number
  uncorrectableReadErrors?: number
  raw: string
}

export function parseReplaceStatus(text: string): BtrfsReplaceStatus {
  const raw = text.trim().split('\n').filter(Boolean).at(-1)?.trim() ?? ''
  const r: BtrfsReplaceStatus = {state: 'unknown', raw}
  const we = /(\d+) write errs/.exec(raw)
  if (we) r.writeErrors = Number(we[1])
  const ur = /(\d+) uncorr\. read errs/.exec(raw)
  if (ur) r.uncorrectableReadErrors = Number(ur[1])
  if (/^Never started/i.test(raw)) r.state = 'never'
  else if (/finished on/.test(raw)) {
    r.state = 'finished'
    r.percent = 100
  } else if (/canceled on/.test(raw)) {
    r.state = 'canceled'
    const p = /at ([\d.]+)%/.exec(raw)
    if (p) r.percent = Number(p[1])
  } else if (/suspended/.test(raw)) r.state = 'suspended'
  else {
    const p = /^([\d.]+)% done/.exec(raw)
    if (p) {
      r.state = 'running'
      r.percent = Number(p[1])
    }
  }
  return r
}

/** `btrfs balance status`: running with "x out of about y chunks balanced (z considered), p% left". */
export function parseBalanceStatus(text: string): {running: boolean; percentLeft?: number; raw: string} {
  const raw = text.trim()
  if (/No balance found/i.test(raw)) return {running: false, raw}
  const p = /([\d.]+)% left/.exec(raw)
  return {running: /Balance on .* is running|is paused/i.test(raw) || p !== null, percentLeft: p ? Number(p[1]) : undefined, raw}
}
