/**
 * Parsers for `mdadm --detail`, `mdadm --detail --export` and `mdadm --examine` (mdadm 4.x; 0.90 and 1.x
 * superblocks). Unknown keys are kept in `fields`; nothing unknown is fatal.
 */

export interface DetailDevice {
  number?: number // "-" for a removed slot
  major: number
  minor: number
  /** RaidDevice column: the slot (role); undefined for "-" (spares, faulty members outside the array). */
  slot?: number
  /** The state words, e.g. ["active", "sync"], ["spare", "rebuilding"], ["faulty"], ["removed"], ["active", "sync", "set-A"]. */
  state: string[]
  device?: string
}

export interface MdDetail {
  device?: string // /dev/md0 (first line)
  fields: Record<string, string>
  level?: string
  state?: string // raw, trimmed: "clean, degraded, recovering"
  stateWords: string[] // ["clean", "degraded", "recovering"]
  arraySizeKiB?: number
  usedDevSizeKiB?: number
  raidDevices?: number
  totalDevices?: number
  activeDevices?: number
  workingDevices?: number
  failedDevices?: number
  spareDevices?: number
  chunk?: string
  uuid?: string
  /** The array name without the host part: "(none):fixture" → "fixture". */
  name?: string
  bitmap?: string // "Internal" from "Intent Bitmap"
  consistencyPolicy?: string
  /** "Rebuild Status : 37% complete" and its siblings (Check/Reshape/Resync Status). */
  statusPercent?: {kind: string; percent: number}
  devices: DetailDevice[]
}

const DEV_ROW = /^\s*(\d+|-)\s+(\d+)\s+(\d+)\s+(\d+|-)\s+(.*?)\s*$/

export function parseDetail(text: string): MdDetail {
  const d: MdDetail = {fields: {}, stateWords: [], devices: []}
  let inTable = false
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '')
    if (line.trim() === '') continue
    if (!inTable && /^\/dev\/\S+:$/.test(line.trim())) {
      d.device = line.trim().slice(0, -1)
      continue
    }
    if (/^\s*Number\s+Major\s+Minor\s+RaidDevice/.test(line)) {
      inTable = true
      continue
    }
    if (inTable) {
      const m = DEV_ROW.exec(line)
      if (!m) continue
      const words = m[5].split(/\s+/).filter(Boolean)
      let device: string | undefined
      if (words.length > 0 && words.at(-1)!.startsWith('/')) device = words.pop()
      d.devices.push({
        number: m[1] === '-' ? undefined : Number(m[1]),
        major: Number(m[2]),
        minor: Number(m[3]),
        slot: m[4] === '-' ? undefined : Number(m[4]),
        state: words,
        device,
      })
      continue
    }
    const kv = /^\s*([^:]+?)\s*:\s*(.*)$/.exec(line)
    if (kv) d.fields[kv[1]] = kv[2].trim()
  }
  const f = d.fields
  d.level = f['Raid Level']
  if (f.State !== undefined) {
    d.state = f.State.trim()
    d.stateWords = d.state.split(/[,\s]+/).filter(Boolean)
  }
  d.arraySizeKiB = leadingInt(f['Array Size'])
  d.usedDevSizeKiB = leadingInt(f['Used Dev Size'])
  d.raidDevices = leadingInt(f['Raid Devices'])
  d.totalDevices = leadingInt(f['Total Devices'])
  d.activeDevices = leadingInt(f['Active Devices'])
  d.workingDevices = leadingInt(f['Working Devices'])
  d.failedDevices = leadingInt(f['Failed Devices'])
  d.spareDevices = leadingInt(f['Spare Devices'])
  d.chunk = f['Chunk Size']
  d.uuid = f.UUID
  if (f.Name !== undefined) d.name = mdName(f.Name)
  d.bitmap = f['Intent Bitmap']
  d.consistencyPolicy = f['Consistency Policy']
  for (const [k, v] of Object.entries(f)) {
    const m = /^(\w+) Status$/.exec(k)
    const p = /^(\d+)% complete/.exec(v)
    if (m && p) d.statusPercent = {kind: m[1].toLowerCase(), percent: Number(p[1])}
  }
  return d
}

/** "(none):fixture  (local to host (none))" → "fixture"; "pi:data" → "data". */
export function mdName(raw: string): string {
  const first = raw.trim().split(/\s+/)[0] ?? ''
  const i = first.lastIndexOf(':')
  return i >= 0 ? first.slice(i + 1) : first
}

function leadingInt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const m = /^(\d+)/.exec(v.trim())
  return m ? Number(m[1]) : undefined
}

export interface MdExport {
  fields: Record<string, string>
  level?: string
  devices?: number
  uuid?: string
  name?: string
  /** Members by device path with mdadm's ROLE (a number, "spare", "faulty"…). ROLE is not trustworthy for faulty members. */
  members: Array<{device: string; role: string}>
}

export function parseDetailExport(text: string): MdExport {
  const fields: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_]+)=(.*)$/.exec(line.trim())
    if (m) fields[m[1]] = m[2]
  }
  const byKey = new Map<string, {device?: string; role?: string}>()
  for (const [k, v] of Object.entries(fields)) {
    const m = /^MD_DEVICE_(.+)_(ROLE|DEV)$/.exec(k)
    if (!m) continue
    const e = byKey.get(m[1]) ?? {}
    if (m[2] === 'ROLE') e.role = v
    else e.device = v
    byKey.set(m[1], e)
  }
  const members = [...byKey.values()].filter((e) => e.device).map((e) => ({device: e.device!, role: e.role ?? 'unknown'}))
  return {
    fields,
    level: fields.MD_LEVEL,
    devices: fields.MD_DEVICES === undefined ? undefined : Number(fields.MD_DEVICES),
    uuid: fields.MD_UUID,
    name: fields.MD_NAME === undefined ? undefined : mdName(fields.MD_NAME),
    members,
  }
}

export interface MdExamine {
  device?: string
  fields: Record<string, string>
  version?: string
  arrayUuid?: string
  name?: string
  level?: string
  raidDevices?: number
  /** 1.x "Device Role : Active device 0" → "active 0"; "spare"; 0.90 from the "this" row. */
  role?: string
  slot?: number
  arrayState?: string // "AAAA" (1.x)
  state?: string
  events?: number
}

export function parseExamine(text: string): MdExamine[] {
  const out: MdExamine[] = []
  let cur: MdExamine | undefined
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '')
    if (/^\/dev\/\S+:$/.test(line)) {
      cur = {device: line.slice(0, -1), fields: {}}
      out.push(cur)
      continue
    }
    if (!cur) {
      if (line.trim() === '') continue
      cur = {fields: {}}
      out.push(cur)
    }
    const thisRow = /^this\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s+(.*)$/.exec(line.trim())
    if (thisRow) {
      cur.slot = Number(thisRow[2])
      cur.role = thisRow[3].split(/\s+/).filter((w) => !w.startsWith('/')).join(' ')
      continue
    }
    const kv = /^\s*([^:]+?)\s*:\s*(.*)$/.exec(line)
    if (kv && !/^\s*\d/.test(line)) cur.fields[kv[1]] = kv[2].trim()
  }
  for (const e of out) {
    const f = e.fields
    e.version = f.Version
    e.arrayUuid = f['Array UUID'] ?? f.UUID
    if (f.Name !== undefined) e.name = mdName(f.Name)
    e.level = f['Raid Level']
    e.raidDevices = f['Raid Devices'] === undefined ? undefined : Number.parseInt(f['Raid Devices'], 10)
    e.state = f.State
    e.events = f.Events === undefined ? undefined : Number.parseInt(f.Events, 10)
    const role = f['Device Role']
    if (role !== undefined) {
      const m = /^Active device (\d+)/i.exec(role)
      if (m) {
        e.role = 'active'
        e.slot = Number(m[1])
      } else {
        e.role = role.toLowerCase()
      }
    }
    const as = f['Array State']
    if (as !== undefined) e.arrayState = as.split(/\s+/)[0]
  }
  return out
}
