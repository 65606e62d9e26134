import {UsageError} from '../errors.js'
import type {EngineName, RaidLevel} from './engine.js'

/**
 * Capacity and risk math for a planned array: usable space per engine and level with mixed disk sizes, which
 * failures it survives, the chance of an unrecoverable read error (URE) during a rebuild, rebuild time and
 * MTTDL. Pure functions: no I/O, so `raid plan --disks 4T,4T,2T` and `raid create` share them.
 *
 * Sizes are bytes. `--disks` sizes are decimal (4T = 4×10^12 bytes) as disks are sold; 4TiB means 4×2^40.
 */

export interface PlanDisk {
  name: string
  sizeBytes: number
  /** Connected over USB (warns about USB-only arrays). */
  usb?: boolean
  rotational?: boolean
}

export interface PlanInput {
  engine: EngineName
  level: RaidLevel
  disks: PlanDisk[]
  spares?: PlanDisk[]
  /** Bits read per unrecoverable read error, as on data sheets ("1 in 10^14"). Default 1e14. */
  ure?: number
  /** Rebuild speed in MB/s (decimal). Default 100. */
  rebuildMBps?: number
  /** Annual failure rate of one disk (0.02 = 2 %/year). Default 0.02. */
  afr?: number
}

export interface DiskUse {
  name: string
  sizeBytes: number
  /** Raw bytes of this disk the array uses (before redundancy). */
  usedBytes: number
  /** Bytes of this disk the array can never use. */
  unusedBytes: number
}

export interface FailureTolerance {
  /** Any this many disks may fail without data loss. */
  guaranteed: number
  /** At best (failures falling on the right disks) this many. */
  maximum: number
  /** After one disk failed, the probability that a second random failure still loses nothing (only when it depends on which disk). */
  secondFailureSurvival?: number
  /** Human explanation of which failures it survives. */
  description: string
  /** Groups whose loss matters: mirror pairs (RAID10/1+0) or the two stripe halves (0+1). */
  groups?: string[][]
}

export interface RebuildRisk {
  /** Bytes written to the replacement disk. */
  rebuildBytes: number
  /** Bytes read from the surviving disks during that rebuild. */
  readBytes: number
  rebuildSeconds: number
  /** Probability of at least one unrecoverable read error while reading `readBytes`. */
  ureProbability: number
  /** Whether such an error loses data (false when a second redundancy, e.g. RAID6, repairs it). */
  ureIsFatal: boolean
}

export interface Reliability {
  /** Mean time to data loss from whole-disk failures alone, in years (Infinity is never for 0 disks). */
  mttdlYears: number
  /** The same including data loss from an unrecoverable read error during a rebuild (single-redundancy arrays). */
  mttdlWithUreYears: number
  /** Probability of losing data within 5 years (from mttdlWithUreYears, exponential model). */
  lossProbability5y: number
}

export interface PlanWarning {
  code: string
  message: string
}

export interface Plan {
  engine: EngineName
  level: RaidLevel
  /** The engine's own name for the layout: md "raid5", btrfs "raid1c3", nested "raid1 over 2× raid0". */
  layout: string
  disks: DiskUse[]
  spares: Array<{name: string; sizeBytes: number; largeEnough: boolean}>
  rawBytes: number
  usableBytes: number
  /** usable / raw. */
  efficiency: number
  wastedBytes: number
  failures: FailureTolerance
  rebuild?: RebuildRisk
  reliability: Reliability
  assumptions: {ure: number; rebuildMBps: number; afr: number; units: string}
  notes: string[]
  warnings: PlanWarning[]
}

export const DEFAULT_URE = 1e14
export const DEFAULT_REBUILD_MBPS = 100
export const DEFAULT_AFR = 0.02
const HOURS_PER_YEAR = 8766 // 365.25 days

export const MD_LEVELS: RaidLevel[] = ['0', '1', '4', '5', '6', '10', '0+1', '1+0']
export const BTRFS_LEVELS: RaidLevel[] = ['0', '1', '1c3', '1c4', '10', '5', '6']

/** Smallest number of member disks each level accepts. */
export function minDisks(engine: EngineName, level: RaidLevel): number {
  if (engine === 'md') {
    const m: Partial<Record<RaidLevel, number>> = {'0': 2, '1': 2, '4': 3, '5': 3, '6': 4, '10': 2, '0+1': 4, '1+0': 4}
    return m[level] ?? 0
  }
  // btrfs-progs 6.x: raid10 and raid5 accept 2 devices, raid6 and raid1c3 3, raid1c4 4.
  const b: Partial<Record<RaidLevel, number>> = {'0': 2, '1': 2, '1c3': 3, '1c4': 4, '10': 2, '5': 2, '6': 3}
  return b[level] ?? 0
}

export function validateLevel(engine: EngineName, level: string, count: number): RaidLevel {
  const levels = engine === 'md' ? MD_LEVELS : BTRFS_LEVELS
  const normalised = level.replace(/^raid/i, '').toLowerCase() as RaidLevel
  if (!levels.includes(normalised)) {
    throw new UsageError(`level "${level}" is not available with the ${engine} engine`, {
      code: 'BAD_LEVEL',
      where: '--level',
      hint: `${engine} levels: ${levels.join(', ')}${engine === 'btrfs' ? ' (4, 0+1 and 1+0 need --engine md)' : ' (1c3/1c4 need --engine btrfs)'}`,
    })
  }
  const min = minDisks(engine, normalised)
  if (count < min) {
    throw new UsageError(`${engine} level ${normalised} needs at least ${min} disks; ${count} given`, {code: 'TOO_FEW_DISKS', where: '--devices'})
  }
  if ((normalised === '0+1' || normalised === '1+0') && count % 2 !== 0) {
    throw new UsageError(`nested level ${normalised} needs an even number of disks; ${count} given`, {code: 'TOO_FEW_DISKS', where: '--devices'})
  }
  return normalised
}

const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1e3,
  KB: 1e3,
  M: 1e6,
  MB: 1e6,
  G: 1e9,
  GB: 1e9,
  T: 1e12,
  TB: 1e12,
  P: 1e15,
  PB: 1e15,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
  PIB: 2 ** 50,
}

/** "4T" → 4e12 (decimal, as disks are sold); "4TiB" → 4×2^40; a plain number is bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = m ? m[2].toUpperCase() : undefined
  if (!m || unit === undefined || !(unit in UNITS)) {
    throw new UsageError(`cannot read the size "${text}"`, {
      code: 'BAD_SIZE',
      where: '--disks',
      hint: 'write sizes like 4T, 500G, 3.5T (decimal, as disks are sold) or 4TiB (binary); units K M G T P',
    })
  }
  const bytes = Math.round(Number(m[1]) * UNITS[unit])
  if (!(bytes > 0)) throw new UsageError(`the size "${text}" must be more than zero`, {code: 'BAD_SIZE', where: '--disks'})
  return bytes
}

/** "4T,4T,2T" or "3x4T,2T" → PlanDisks named d1, d2, … */
export function parseDiskList(text: string): PlanDisk[] {
  const out: PlanDisk[] = []
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const rep = /^(\d+)\s*[x×*]\s*(.+)$/i.exec(part)
    const count = rep ? Number(rep[1]) : 1
    const size = parseSize(rep ? rep[2] : part)
    for (let i = 0; i < count; i++) out.push({name: `d${out.length + 1}`, sizeBytes: size})
  }
  if (out.length === 0) throw new UsageError('--disks lists no sizes', {code: 'BAD_SIZE', where: '--disks', hint: 'e.g. --disks 4T,4T,2T'})
  return out
}

/** Decimal size for humans: 4e12 → "4 TB", 3.5e12 → "3.5 TB". */
export function formatDecimal(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB']
  let v = bytes
  let i = 0
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  const digits = v >= 100 || Number.isInteger(v) ? 0 : v >= 10 ? 1 : 2
  return `${i === 0 ? Math.round(v) : Number(v.toFixed(digits))} ${units[i]}`
}

// ---------------------------------------------------------------------------------------------------------------
// btrfs chunk allocator

interface BtrfsProfile {
  /** Copies of every byte (raid1 2, raid1c3 3, raid10 2). */
  ncopies: number
  /** Parity stripes per chunk (raid5 1, raid6 2). */
  nparity: number
  devsMin: number
  /** 0 = as many devices as have room. */
  devsMax: number
  /** The device count is rounded down to a multiple of this (raid10 2). */
  devsIncrement: number
}

const BTRFS_PROFILES: Partial<Record<RaidLevel, BtrfsProfile>> = {
  '0': {ncopies: 1, nparity: 0, devsMin: 1, devsMax: 0, devsIncrement: 1},
  '1': {ncopies: 2, nparity: 0, devsMin: 2, devsMax: 2, devsIncrement: 2},
  '1c3': {ncopies: 3, nparity: 0, devsMin: 3, devsMax: 3, devsIncrement: 3},
  '1c4': {ncopies: 4, nparity: 0, devsMin: 4, devsMax: 4, devsIncrement: 4},
  '10': {ncopies: 2, nparity: 0, devsMin: 2, devsMax: 0, devsIncrement: 2},
  '5': {ncopies: 1, nparity: 1, devsMin: 2, devsMax: 0, devsIncrement: 1},
  '6': {ncopies: 1, nparity: 2, devsMin: 3, devsMax: 0, devsIncrement: 1},
}

/** btrfs allocates data in chunks of 1 GiB per device stripe (smaller when a device has less left). */
export const BTRFS_STRIPE = 2 ** 30

/**
 * The stripe the simulation steps by: btrfs's 1 GiB, or for very large arrays (over ~100 TB) a larger power of two
 * so that the simulation stays under ~100 000 chunks (the error is at most one stripe per device).
 */
export function simulationStripe(sizes: number[]): number {
  const total = sizes.reduce((a, b) => a + b, 0)
  return Math.max(BTRFS_STRIPE, 2 ** Math.ceil(Math.log2(Math.max(1, total / 100_000))))
}

/**
 * Simulates btrfs' chunk allocator (fs/btrfs/volumes.c, gather_device_info + decide_stripe_size) until no chunk
 * fits: each chunk takes the devices with the most unallocated space (up to devs_max, rounded down to
 * devs_increment, at least devs_min), one stripe of min(1 GiB, smallest free among them) on each. Returns the
 * usable data bytes and what it took from each device. Metadata chunks are left out (about 1 % in practice).
 */
export function btrfsAllocate(level: RaidLevel, sizes: number[], stripe = simulationStripe(sizes)): {usableBytes: number; used: number[]} {
  const p = BTRFS_PROFILES[level]
  if (!p) throw new UsageError(`btrfs has no profile for level ${level}`, {code: 'BAD_LEVEL', where: '--level'})
  const free = [...sizes]
  const used = sizes.map(() => 0)
  let usable = 0
  const minStripe = 1024 * 1024 // the kernel will not allocate a stripe under 1 MiB (BTRFS_STRIPE_LEN multiples)
  for (;;) {
    const order = free
      .map((f, i) => ({f, i}))
      .filter((d) => d.f >= minStripe)
      .sort((a, b) => b.f - a.f || a.i - b.i)
    let n = p.devsMax === 0 ? order.length : Math.min(p.devsMax, order.length)
    n -= n % p.devsIncrement
    if (n < p.devsMin || n === 0) break
    const chosen = order.slice(0, n)
    const size = Math.min(stripe, chosen[n - 1].f)
    for (const d of chosen) {
      free[d.i] -= size
      used[d.i] += size
    }
    const dataStripes = p.nparity > 0 ? n - p.nparity : n / p.ncopies
    usable += size * dataStripes
  }
  return {usableBytes: usable, used}
}

// ---------------------------------------------------------------------------------------------------------------
// md layouts

function mdCapacity(level: RaidLevel, sizes: number[]): {usableBytes: number; used: number[]; layout: string; notes: string[]} {
  const n = sizes.length
  const min = Math.min(...sizes)
  const notes: string[] = []
  switch (level) {
    case '0': {
      // md raid0 does not cut every disk to the smallest: it stripes "zones" — first over all disks up to the
      // smallest size, then over the disks that still have room — so every byte is used.
      if (new Set(sizes).size > 1) notes.push('md RAID0 uses every byte of mixed sizes: the space beyond the smallest disk is striped over fewer disks (slower there)')
      return {usableBytes: sizes.reduce((a, b) => a + b, 0), used: [...sizes], layout: 'raid0', notes}
    }
    case '1':
      return {usableBytes: min, used: sizes.map(() => min), layout: `raid1 (${n}-way mirror)`, notes}
    case '4':
    case '5':
      return {usableBytes: (n - 1) * min, used: sizes.map(() => min), layout: `raid${level}`, notes}
    case '6':
      return {usableBytes: (n - 2) * min, used: sizes.map(() => min), layout: 'raid6', notes}
    case '10':
      if (n % 2 === 1) notes.push(`md RAID10 (near=2) on an odd number of disks stores each chunk on two neighbouring disks; it works, with ${n}×smallest/2 usable`)
      return {usableBytes: Math.floor((n * min) / 2), used: sizes.map(() => min), layout: 'raid10 (near=2)', notes}
    case '1+0': {
      // Mirror pairs in the order given (1st+2nd, 3rd+4th, …), striped together with md raid0 (which uses every
      // byte of each pair, see above). Each pair is as large as its smaller disk.
      const pairs = pairsOf(sizes.map((_, i) => i))
      const used = sizes.map(() => 0)
      let usable = 0
      for (const [a, b] of pairs) {
        const m = Math.min(sizes[a], sizes[b])
        used[a] = m
        used[b] = m
        usable += m
      }
      notes.push('pairs are mirrored in the order given: 1st+2nd, 3rd+4th, …; put disks of equal size next to each other')
      return {usableBytes: usable, used, layout: `raid0 over ${pairs.length}× raid1 pairs`, notes}
    }
    case '0+1': {
      // Two md raid0 stripes (first half of the disks, second half), mirrored with md raid1: as large as the
      // smaller stripe; each stripe is the sum of its disks.
      const half = n / 2
      const a = sizes.slice(0, half)
      const b = sizes.slice(half)
      const sa = a.reduce((x, y) => x + y, 0)
      const sb = b.reduce((x, y) => x + y, 0)
      const m = Math.min(sa, sb)
      // Scale each stripe's use down proportionally when it is larger than the other (the raid1 leaves the end unused).
      const used = [...a.map((s) => (s * m) / sa), ...b.map((s) => (s * m) / sb)]
      notes.push('the first half of the disks (in the order given) forms one stripe, the second half the other; the mirror is as large as the smaller stripe')
      return {usableBytes: m, used, layout: 'raid1 over 2× raid0 stripes', notes}
    }
    default:
      throw new UsageError(`md has no level ${level}`, {code: 'BAD_LEVEL', where: '--level'})
  }
}

function pairsOf(ix: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i + 1 < ix.length; i += 2) out.push([ix[i], ix[i + 1]])
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// failures

function failureTolerance(engine: EngineName, level: RaidLevel, names: string[]): FailureTolerance {
  const n = names.length
  if (level === '0') return {guaranteed: 0, maximum: 0, description: 'none: losing any one disk loses the whole array'}
  if (engine === 'btrfs') {
    switch (level) {
      case '1':
        return {
          guaranteed: 1,
          maximum: 1,
          description: n === 2 ? 'either disk (two copies of every chunk)' : 'any 1 disk; a second failure loses the chunks that had their two copies on those two disks (with 3+ disks, some always do)',
        }
      case '1c3':
        return {guaranteed: 2, maximum: 2, description: 'any 2 disks (three copies of every chunk)'}
      case '1c4':
        return {guaranteed: 3, maximum: 3, description: 'any 3 disks (four copies of every chunk)'}
      case '10':
        return {
          guaranteed: 1,
          maximum: 1,
          secondFailureSurvival: 0,
          description: 'any 1 disk; btrfs RAID10 has no fixed mirror pairs (each chunk picks its own), so treat a second failure as fatal',
        }
      case '5':
        return {guaranteed: 1, maximum: 1, description: 'any 1 disk (single parity)'}
      case '6':
        return {guaranteed: 2, maximum: 2, description: 'any 2 disks (double parity)'}
      default:
        break
    }
  }
  switch (level) {
    case '1':
      return {guaranteed: n - 1, maximum: n - 1, description: `any ${n - 1} of the ${n} disks (every disk holds a full copy)`}
    case '4':
    case '5':
      return {guaranteed: 1, maximum: 1, description: 'any 1 disk (single parity)'}
    case '6':
      return {guaranteed: 2, maximum: 2, description: 'any 2 disks (double parity)'}
    case '10': {
      if (n % 2 === 0) {
        const groups = pairsOf(names.map((_, i) => i)).map(([a, b]) => [names[a], names[b]])
        return {
          guaranteed: 1,
          maximum: n / 2,
          // After one failure n-1 disks remain and exactly one of them (its mirror partner) is fatal.
          secondFailureSurvival: (n - 2) / (n - 1),
          description: `any 1 disk; more as long as no mirror pair loses both disks (md near=2 pairs: ${groups.map((g) => g.join('+')).join(', ')})`,
          groups,
        }
      }
      // Odd n with near=2: each disk shares chunks with both neighbours, so 2 of the n-1 survivors are fatal.
      return {
        guaranteed: 1,
        maximum: Math.floor(n / 2),
        secondFailureSurvival: (n - 3) / (n - 1),
        description: 'any 1 disk; a second one only if it is not a neighbour of the first in the layout',
      }
    }
    case '1+0': {
      const groups = pairsOf(names.map((_, i) => i)).map(([a, b]) => [names[a], names[b]])
      return {
        guaranteed: 1,
        maximum: n / 2,
        secondFailureSurvival: (n - 2) / (n - 1),
        description: `any 1 disk; more as long as no mirror pair loses both disks (pairs: ${groups.map((g) => g.join('+')).join(', ')})`,
        groups,
      }
    }
    case '0+1': {
      const half = n / 2
      const groups = [names.slice(0, half), names.slice(half)]
      return {
        guaranteed: 1,
        maximum: half,
        // The first failure takes its whole stripe offline; a second survives only if it hits the same stripe:
        // half-1 of the n-1 remaining disks.
        secondFailureSurvival: (half - 1) / (n - 1),
        description: `any 1 disk; a second only if it is in the same stripe as the first (stripes: ${groups.map((g) => g.join('+')).join(' | ')}); RAID 1+0 survives a second failure more often`,
        groups,
      }
    }
    default:
      return {guaranteed: 0, maximum: 0, description: 'unknown'}
  }
}

// ---------------------------------------------------------------------------------------------------------------
// rebuild, URE, MTTDL

/** P(at least one URE while reading `bits`) with one error per `ure` bits: 1 − (1 − 1/ure)^bits. */
export function ureProbability(bits: number, ure: number): number {
  if (bits <= 0) return 0
  return -Math.expm1(bits * Math.log1p(-1 / ure))
}

function rebuildRisk(
  engine: EngineName,
  level: RaidLevel,
  disks: DiskUse[],
  o: {ure: number; rebuildMBps: number},
): RebuildRisk | undefined {
  if (level === '0') return undefined
  const n = disks.length
  // Worst case: the disk that fails is the one carrying the most array data.
  const member = Math.max(...disks.map((d) => d.usedBytes))
  let readBytes: number
  let ureIsFatal = true
  if (engine === 'md') {
    switch (level) {
      case '1':
      case '10':
      case '1+0':
        readBytes = member // one surviving copy is read
        ureIsFatal = !(level === '1' && n > 2) // a 3-way mirror can read the other copy
        break
      case '0+1':
        readBytes = disks.slice(0, n / 2).reduce((a, d) => a + d.usedBytes, 0) // the whole surviving stripe
        break
      case '6':
        readBytes = (n - 1) * member
        ureIsFatal = false // the second parity repairs a single URE while one disk is missing
        break
      default:
        readBytes = (n - 1) * member // raid4/5: every surviving disk is read in full
    }
  } else {
    switch (level) {
      case '1':
      case '10':
        readBytes = member
        break
      case '1c3':
      case '1c4':
        readBytes = member
        ureIsFatal = false
        break
      case '6':
        readBytes = member * (n - 1)
        ureIsFatal = false
        break
      default:
        readBytes = member * (n - 1)
    }
  }
  const rebuildSeconds = member / (o.rebuildMBps * 1e6)
  return {rebuildBytes: member, readBytes, rebuildSeconds, ureProbability: ureProbability(readBytes * 8, o.ure), ureIsFatal}
}

/**
 * MTTDL with the classic Markov approximation: disks fail independently at λ = AFR / hours-per-year and are
 * replaced and rebuilt in MTTR hours. With k guaranteed failures survived, data is lost when k+1 failures
 * overlap: MTTDL ≈ MTTF^(k+1) / (n(n−1)…(n−k) · MTTR^k · f), where f is the probability that the last of them
 * is fatal (1 for parity and btrfs; 1/(n−1) for md RAID10 pairs; (n/2)/(n−1) for 0+1).
 * With a fatal URE probability u during a single-redundancy rebuild, the first failure itself loses data with
 * probability u: MTTDL = 1 / (nλ · (u + (1−u)·(n−1)λ·MTTR·f)).
 */
function reliability(n: number, failures: FailureTolerance, rebuild: RebuildRisk | undefined, afr: number): Reliability {
  const lambda = afr / HOURS_PER_YEAR
  const mttf = 1 / lambda
  const mttr = rebuild ? rebuild.rebuildSeconds / 3600 : 0
  const k = failures.guaranteed
  let mttdlHours: number
  let withUre: number
  if (k === 0) {
    mttdlHours = mttf / n
    withUre = mttdlHours
  } else {
    const f = failures.secondFailureSurvival === undefined ? 1 : 1 - failures.secondFailureSurvival
    let denom = 1
    for (let i = 0; i <= k; i++) denom *= n - i
    mttdlHours = f === 0 ? Infinity : mttf ** (k + 1) / (denom * mttr ** k * f)
    if (k === 1 && rebuild?.ureIsFatal) {
      const u = rebuild.ureProbability
      withUre = 1 / (n * lambda * (u + (1 - u) * (n - 1) * lambda * mttr * f))
    } else {
      withUre = mttdlHours
    }
  }
  const mttdlYears = mttdlHours / HOURS_PER_YEAR
  const mttdlWithUreYears = withUre / HOURS_PER_YEAR
  return {mttdlYears, mttdlWithUreYears, lossProbability5y: -Math.expm1(-5 / mttdlWithUreYears)}
}

// ---------------------------------------------------------------------------------------------------------------

export function planArray(input: PlanInput): Plan {
  const ure = input.ure ?? DEFAULT_URE
  const rebuildMBps = input.rebuildMBps ?? DEFAULT_REBUILD_MBPS
  const afr = input.afr ?? DEFAULT_AFR
  if (!(ure > 1)) throw new UsageError('--ure must be a number of bits larger than 1, e.g. 1e14', {code: 'BAD_FLAG', where: '--ure'})
  if (!(rebuildMBps > 0)) throw new UsageError('--rebuild-mbps must be more than 0', {code: 'BAD_FLAG', where: '--rebuild-mbps'})
  if (!(afr > 0 && afr < 1)) throw new UsageError('--afr must be between 0 and 1, e.g. 0.02 for 2 %/year', {code: 'BAD_FLAG', where: '--afr'})
  const level = validateLevel(input.engine, input.level, input.disks.length)
  const sizes = input.disks.map((d) => d.sizeBytes)
  const names = input.disks.map((d) => d.name)
  const raw = sizes.reduce((a, b) => a + b, 0)
  const notes: string[] = []
  let usableBytes: number
  let used: number[]
  let layout: string
  if (input.engine === 'md') {
    const r = mdCapacity(level, sizes)
    usableBytes = r.usableBytes
    used = r.used
    layout = r.layout
    notes.push(...r.notes)
    notes.push('md reserves a few MiB per disk for the superblock and bitmap (not counted here)')
  } else {
    const r = btrfsAllocate(level, sizes)
    usableBytes = r.usableBytes
    used = r.used
    layout = `btrfs data raid${level}`
    const stripe = simulationStripe(sizes)
    notes.push(`btrfs figures are for data, simulated chunk by chunk (${stripe / BTRFS_STRIPE} GiB stripes); metadata takes about 1 % more`)
  }
  const disks: DiskUse[] = input.disks.map((d, i) => ({name: d.name, sizeBytes: d.sizeBytes, usedBytes: Math.round(used[i]), unusedBytes: Math.round(d.sizeBytes - used[i])}))
  const wastedBytes = disks.reduce((a, d) => a + d.unusedBytes, 0)
  const failures = failureTolerance(input.engine, level, names)
  const rebuild = rebuildRisk(input.engine, level, disks, {ure, rebuildMBps})
  const rel = reliability(disks.length, failures, rebuild, afr)
  const minMember = Math.min(...disks.filter((d) => d.usedBytes > 0).map((d) => d.usedBytes))
  const spares = (input.spares ?? []).map((s) => ({name: s.name, sizeBytes: s.sizeBytes, largeEnough: s.sizeBytes >= (input.engine === 'md' ? minMember : Math.max(...disks.map((d) => d.usedBytes)))}))
  const plan: Plan = {
    engine: input.engine,
    level,
    layout,
    disks,
    spares,
    rawBytes: raw,
    usableBytes,
    efficiency: raw > 0 ? usableBytes / raw : 0,
    wastedBytes,
    failures,
    rebuild,
    reliability: rel,
    assumptions: {ure, rebuildMBps, afr, units: 'decimal (1 TB = 10^12 bytes, as disks are sold)'},
    notes,
    warnings: [],
  }
  plan.warnings = planWarnings(plan, input)
  return plan
}

function planWarnings(plan: Plan, input: PlanInput): PlanWarning[] {
  const w: PlanWarning[] = []
  const {level, engine} = plan
  if (level === '0') w.push({code: 'NO_REDUNDANCY', message: 'RAID0 has no redundancy: one failed disk loses everything on the array; keep backups'})
  if (engine === 'btrfs' && (level === '5' || level === '6')) {
    w.push({
      code: 'BTRFS_RAID56',
      message: `btrfs RAID${level} has known problems: the parity write hole (a crash or power cut during a write can corrupt data after a later disk failure), very slow scrub and rebuild; the btrfs developers do not recommend it for data you cannot lose — prefer raid1/raid1c3 or md RAID${level} (metadata must be raid1 or raid1c3 at least)`,
    })
  }
  const largest = Math.max(...plan.disks.map((d) => d.usedBytes))
  const singleParity = level === '5' || level === '4'
  if (singleParity && plan.rebuild && largest >= 2e12 && plan.assumptions.ure <= 1e14) {
    w.push({
      code: 'SINGLE_PARITY_LARGE_DISKS',
      message: `single parity on ${formatDecimal(largest)} consumer disks (URE 1 in ${plan.assumptions.ure.toExponential(0).replace('+', '')} bits): a rebuild reads ${formatDecimal(plan.rebuild.readBytes)} and hits an unrecoverable read error with probability ${(plan.rebuild.ureProbability * 100).toFixed(0)} %, which loses data; prefer RAID6 or RAID1/10, and keep backups`,
    })
  }
  if (level === '0+1') w.push({code: 'PREFER_1_0', message: `0+1 survives a second disk failure with probability ${pct(plan.failures.secondFailureSurvival ?? 0)}, 1+0 with the same disks ${pct((plan.disks.length - 2) / (plan.disks.length - 1))}; prefer 1+0 (or md raid10)`})
  const all = [...input.disks]
  if (all.length > 0 && all.every((d) => d.usb)) {
    w.push({
      code: 'USB_ONLY',
      message: 'every member is a USB disk: USB bridges reset under load (UAS), disks appear late at boot and change names; use a powered hub or enclosure, run `lifeboat raid doctor`, and persist the array by UUID with nofail (`lifeboat raid persist`)',
    })
  }
  if (plan.wastedBytes > 0.01 * plan.rawBytes) {
    const which = plan.disks.filter((d) => d.unusedBytes > 0.01 * d.sizeBytes).map((d) => `${d.name} ${formatDecimal(d.unusedBytes)}`)
    w.push({
      code: 'MIXED_SIZES_WASTE',
      message: `mixed disk sizes leave ${formatDecimal(plan.wastedBytes)} unused (${which.join(', ')})${engine === 'md' ? '; btrfs uses mixed sizes better (see --engine btrfs)' : ''}`,
    })
  }
  if (plan.spares.length > 0 && (engine === 'btrfs' || level === '0' || level === '0+1' || level === '1+0')) {
    w.push({
      code: 'SPARES_UNSUPPORTED',
      message: engine === 'btrfs' ? 'btrfs has no hot spares: keep the disk aside and replace a failed one with `lifeboat raid replace`' : `md level ${level} takes no hot spares (md raid10 does)`,
    })
  }
  for (const s of plan.spares) {
    if (!s.largeEnough) w.push({code: 'SPARE_TOO_SMALL', message: `spare ${s.name} (${formatDecimal(s.sizeBytes)}) is smaller than a member's share and could not replace one`})
  }
  return w
}

function pct(p: number): string {
  return `${(p * 100).toFixed(0)} %`
}
