/**
 * Parser for /proc/mdstat (Linux md). Tolerant: unknown member flags, unknown personality words and extra
 * lines (bitmap, vendor additions) are kept or skipped, never fatal.
 */

export interface MdstatMember {
  /** Kernel name, e.g. "vdb", "sdc1", "md1". */
  name: string
  /** The descriptor number in brackets (not the role/slot). */
  number: number
  /** Flags in parentheses: F faulty, S spare, W write-mostly, J journal, R replacement; vendor flags kept as given. */
  flags: string[]
}

export interface MdstatProgress {
  action: 'recovery' | 'resync' | 'check' | 'reshape' | 'repair' | string
  percent: number
  /** Done and total in 1 KiB blocks, as mdstat prints them. */
  doneKiB?: number
  totalKiB?: number
  finishMinutes?: number
  speedKiBps?: number
}

export interface MdstatArray {
  name: string // md0
  active: boolean
  /** "auto-read-only" or "read-only" when the array is not writable yet. */
  readOnly?: string
  level?: string // raid5, raid1, linear, multipath; undefined for inactive arrays
  members: MdstatMember[]
  blocksKiB?: number
  superVersion?: string
  chunkKiB?: number
  /** [n/m]: configured raid disks and working ones. */
  raidDisks?: number
  workingDisks?: number
  /** [UU_U]: one character per slot, U up, _ down. */
  map?: string
  progress?: MdstatProgress
  /** resync=DELAYED / resync=PENDING (and similar "action=WORD" lines). */
  pending?: {action: string; note: string}
  bitmap?: string
  /** Lines we did not understand, kept for debugging. */
  unparsed: string[]
}

export interface Mdstat {
  personalities: string[]
  arrays: MdstatArray[]
}

const HEADER = /^(md[\w/.-]*)\s*:\s*(.*)$/
const MEMBER = /^([^\s[\]]+)\[(\d+)\]((?:\([^)]*\))*)$/

export function parseMdstat(text: string): Mdstat {
  const out: Mdstat = {personalities: [], arrays: []}
  let cur: MdstatArray | undefined
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '')
    if (line.trim() === '') continue
    if (line.startsWith('Personalities')) {
      out.personalities = [...line.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1])
      continue
    }
    if (line.startsWith('unused devices')) {
      cur = undefined
      continue
    }
    const h = HEADER.exec(line)
    if (h && !/^\s/.test(raw)) {
      cur = parseHeader(h[1], h[2])
      out.arrays.push(cur)
      continue
    }
    if (!cur) continue
    parseDetailLine(cur, line.trim())
  }
  return out
}

function parseHeader(name: string, rest: string): MdstatArray {
  const a: MdstatArray = {name, active: false, members: [], unparsed: []}
  const words = rest.split(/\s+/).filter(Boolean)
  let i = 0
  if (words[i] === 'active') {
    a.active = true
    i++
  } else if (words[i] === 'inactive') {
    i++
  }
  while (i < words.length && /^\(.*\)$/.test(words[i])) {
    a.readOnly = words[i].slice(1, -1)
    i++
  }
  if (a.active && i < words.length && !MEMBER.test(words[i])) {
    a.level = words[i]
    i++
  }
  for (; i < words.length; i++) {
    const m = MEMBER.exec(words[i])
    if (!m) {
      a.unparsed.push(words[i])
      continue
    }
    const flags = [...m[3].matchAll(/\(([^)]*)\)/g)].map((f) => f[1])
    a.members.push({name: m[1], number: Number(m[2]), flags})
  }
  return a
}

function parseDetailLine(a: MdstatArray, line: string): void {
  let m = /^(\d+) blocks\b(.*)$/.exec(line)
  if (m) {
    a.blocksKiB = Number(m[1])
    const rest = m[2]
    const sup = /super (\S+)/.exec(rest)
    if (sup) a.superVersion = sup[1]
    const chunk = /(\d+)[kK] chunks?/.exec(rest)
    if (chunk) a.chunkKiB = Number(chunk[1])
    const disks = /\[(\d+)\/(\d+)\]/.exec(rest)
    if (disks) {
      a.raidDisks = Number(disks[1])
      a.workingDisks = Number(disks[2])
    }
    const map = /\[([U_]+)\]/.exec(rest)
    if (map) a.map = map[1]
    return
  }
  m = /^(?:\[[=>.]*\]\s*)?(\w+)\s*=\s*([\d.]+)%\s*(?:\((\d+)\/(\d+)\))?(.*)$/.exec(line)
  if (m) {
    const p: MdstatProgress = {action: m[1], percent: Number(m[2])}
    if (m[3] !== undefined) {
      p.doneKiB = Number(m[3])
      p.totalKiB = Number(m[4])
    }
    const fin = /finish=([\d.]+)min/.exec(m[5])
    if (fin) p.finishMinutes = Number(fin[1])
    const sp = /speed=(\d+)K\/sec/.exec(m[5])
    if (sp) p.speedKiBps = Number(sp[1])
    a.progress = p
    return
  }
  m = /^(\w+)\s*=\s*([A-Z]+)\b/.exec(line)
  if (m) {
    a.pending = {action: m[1], note: m[2]}
    return
  }
  m = /^bitmap:\s*(.*)$/.exec(line)
  if (m) {
    a.bitmap = m[1]
    return
  }
  a.unparsed.push(line)
}
