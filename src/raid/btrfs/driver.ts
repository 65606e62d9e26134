import fs from 'node:fs'
import path from 'node:path'

import {LifeboatError, UsageError} from '../../errors.js'
import {which, type Runner} from '../../exec/runner.js'
import type {Argv, ArrayStatus, CreateSpec, EngineEnv, ProgressCallback, RaidEngine, RaidLevel} from '../engine.js'
import {blockDeviceSize, kernelName, labelMembers} from '../identity.js'
import {
  parseBalanceStatus,
  parseDeviceStatsJson,
  parseDeviceStatsText,
  parseFilesystemShow,
  parseReplaceStatus,
  parseScrubStatus,
  parseUsage,
  type BtrfsDeviceStats,
  type BtrfsShowFs,
} from './parse.js'
import {buildBtrfsStatus} from './status.js'

/**
 * btrfs multi-device filesystems as arrays. Read: `filesystem show --raw`, `filesystem usage -b`,
 * `device stats` (JSON, else the plain form), `scrub status`, `replace status -1`, `balance status`.
 * Change: mkfs.btrfs -d/-m, replace, scrub, device add/remove, balance convert. Everything but create and
 * status needs the filesystem mounted (btrfs works on a mounted path).
 */

const DATA_PROFILE: Partial<Record<RaidLevel, string>> = {'0': 'raid0', '1': 'raid1', '10': 'raid10', '5': 'raid5', '6': 'raid6', '1c3': 'raid1c3', '1c4': 'raid1c4'}
const META_PROFILE: Partial<Record<RaidLevel, string>> = {'0': 'raid1', '1': 'raid1', '10': 'raid1', '5': 'raid1', '6': 'raid1c3', '1c3': 'raid1c3', '1c4': 'raid1c4'}
const MIN_DEVICES: Partial<Record<RaidLevel, number>> = {'0': 2, '1': 2, '10': 4, '5': 2, '6': 3, '1c3': 3, '1c4': 4}

const sleepDefault = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export function btrfsProfile(level: RaidLevel): string {
  const p = DATA_PROFILE[level]
  if (!p) throw new UsageError(`btrfs has no level ${level}`, {code: 'BAD_LEVEL', hint: 'btrfs levels: 0, 1, 10, 5, 6, 1c3, 1c4 (use --engine md for 4, 0+1, 1+0)'})
  return p
}

export class BtrfsEngine implements RaidEngine {
  readonly name = 'btrfs' as const
  private readonly root: string
  private readonly runner: Runner
  private readonly sleep: (ms: number) => Promise<void>
  /** Multi-device only in list() (single-device btrfs, such as a root filesystem, is not an array). */
  constructor(env: EngineEnv) {
    this.root = env.root ?? '/'
    this.runner = env.runner
    this.sleep = env.sleep ?? sleepDefault
  }

  async available(): Promise<{ok: true} | {ok: false; reason: string; hint?: string}> {
    if (this.root === '/' && !which('btrfs')) return {ok: false, reason: 'btrfs-progs is not installed', hint: 'sudo apt-get install btrfs-progs'}
    return {ok: true}
  }

  /** Reads get 2 minutes (a hung USB disk must not hang status forever); long operations a week. */
  private async btrfs(args: string[], okExitCodes?: number[], long = false): Promise<{stdout: string; code: number; stderr: string}> {
    return this.runner.run('btrfs', args, {okExitCodes, timeoutMs: long ? 7 * 24 * 3600_000 : 120_000})
  }

  private mounts(): Array<{source: string; target: string}> {
    let text = ''
    for (const p of ['proc/self/mounts', 'proc/mounts']) {
      try {
        text = fs.readFileSync(path.join(this.root, p), 'utf8')
        break
      } catch {
        // next
      }
    }
    const out: Array<{source: string; target: string}> = []
    for (const line of text.split('\n')) {
      const f = line.split(' ')
      if (f[2] === 'btrfs') out.push({source: unescapeMount(f[0]), target: unescapeMount(f[1])})
    }
    return out
  }

  private mountpointOf(fsys: BtrfsShowFs): string | undefined {
    const paths = new Set(fsys.devices.filter((d) => d.path).map((d) => kernelName(d.path!)))
    const ms = this.mounts().filter((m) => m.source.startsWith('/') && paths.has(kernelName(m.source)))
    // The top-level mount when there are several (subvolume mounts come after it or have deeper paths).
    return ms.sort((a, b) => a.target.length - b.target.length)[0]?.target
  }

  private async showAll(): Promise<BtrfsShowFs[]> {
    const r = await this.btrfs(['filesystem', 'show', '--raw'], [0, 1])
    return parseFilesystemShow(r.stdout)
  }

  private async statusOf(fsys: BtrfsShowFs): Promise<ArrayStatus> {
    const mnt = this.mountpointOf(fsys)
    if (!mnt) return labelMembers(this.root, buildBtrfsStatus({show: fsys}))
    // Mounted: `show` on the mount point is the kernel's view (it marks missing devices).
    const shown = parseFilesystemShow((await this.btrfs(['filesystem', 'show', '--raw', mnt], [0, 1])).stdout)[0] ?? fsys
    const usage = parseUsage((await this.btrfs(['filesystem', 'usage', '-b', mnt], [0, 1])).stdout)
    const stats = await this.deviceStats(mnt)
    const scrub = parseScrubStatus((await this.btrfs(['scrub', 'status', mnt], [0, 1, 2])).stdout)
    const replace = parseReplaceStatus((await this.btrfs(['replace', 'status', '-1', mnt], [0, 1, 2])).stdout)
    const balance = parseBalanceStatus((await this.btrfs(['balance', 'status', mnt], [0, 1, 2])).stdout)
    return labelMembers(this.root, buildBtrfsStatus({show: shown, mountpoint: mnt, usage, stats, scrub, replace, balance}))
  }

  private async deviceStats(mnt: string): Promise<BtrfsDeviceStats[]> {
    try {
      const r = await this.btrfs(['--format', 'json', 'device', 'stats', mnt], [0, 64])
      return parseDeviceStatsJson(r.stdout)
    } catch {
      // btrfs-progs before 5.17 has no --format json: the plain form.
      const r = await this.btrfs(['device', 'stats', mnt], [0, 64, 1])
      return parseDeviceStatsText(r.stdout)
    }
  }

  async list(): Promise<ArrayStatus[]> {
    const out: ArrayStatus[] = []
    for (const f of await this.showAll()) if (f.totalDevices > 1) out.push(await this.statusOf(f))
    return out
  }

  async status(nameOrDevice: string): Promise<ArrayStatus> {
    const all = await this.showAll()
    const q = nameOrDevice
    const k = q.startsWith('/dev/') ? kernelName(q) : undefined
    let f = all.find((x) => x.label === q || x.uuid === q) ?? (k ? all.find((x) => x.devices.some((d) => d.path && kernelName(d.path) === k)) : undefined)
    if (!f && q.startsWith('/') && fs.existsSync(q) && !q.startsWith('/dev/')) {
      // A mount point (or a path inside one).
      const shown = parseFilesystemShow((await this.btrfs(['filesystem', 'show', '--raw', q], [0, 1])).stdout)[0]
      if (shown) f = all.find((x) => x.uuid === shown.uuid) ?? shown
    }
    if (!f) {
      const known = all.filter((x) => x.totalDevices > 1).map((x) => x.label ?? x.uuid)
      throw new UsageError(`no btrfs filesystem "${q}"`, {
        code: 'ARRAY_NOT_FOUND',
        where: q,
        hint: known.length > 0 ? `known btrfs arrays: ${known.join(', ')}` : 'no multi-device btrfs filesystem was found (run `btrfs device scan` if udev is not running)',
      })
    }
    return this.statusOf(f)
  }

  createCommands(spec: CreateSpec): Argv[] {
    const data = btrfsProfile(spec.level)
    const min = MIN_DEVICES[spec.level] ?? 2
    if (spec.devices.length < min) throw new UsageError(`btrfs ${data} needs at least ${min} devices, got ${spec.devices.length}`, {code: 'TOO_FEW_DEVICES'})
    if ((spec.spares?.length ?? 0) > 0) throw new UsageError('btrfs has no hot spares', {code: 'SPARES_UNSUPPORTED', hint: 'keep the disk aside and use `lifeboat raid replace` when a disk fails, or use --engine md'})
    if (!/^[^\s'"/]{1,255}$/.test(spec.name)) throw new UsageError(`label "${spec.name}" must not contain spaces, quotes or "/"`, {code: 'BAD_NAME'})
    const dup = spec.devices.find((d, i) => spec.devices.indexOf(d) !== i)
    if (dup) throw new UsageError(`${dup} is given twice`, {code: 'DUPLICATE_DEVICE', where: dup})
    const cmds: Argv[] = []
    if (spec.wipe) for (const d of spec.devices) cmds.push(['wipefs', '-a', d])
    cmds.push(['mkfs.btrfs', '-L', spec.name, '-d', data, '-m', META_PROFILE[spec.level]!, ...spec.devices])
    cmds.push(['btrfs', 'device', 'scan', ...spec.devices])
    return cmds
  }

  async create(spec: CreateSpec): Promise<ArrayStatus> {
    const cmds = this.createCommands(spec)
    const existing = (await this.showAll()).find((f) => f.label === spec.name)
    if (existing) throw new UsageError(`a btrfs filesystem labelled "${spec.name}" already exists (${existing.uuid})`, {code: 'ARRAY_EXISTS', where: spec.name})
    for (const argv of cmds) await this.runner.run(argv[0], argv.slice(1), {timeoutMs: 600_000})
    return this.status(spec.name)
  }

  private async mounted(array: string): Promise<ArrayStatus & {mountpoint: string}> {
    const st = await this.status(array)
    if (!st.mountpoint) {
      const missing = st.members.some((m) => m.role === 'missing')
      throw new UsageError(`btrfs filesystem ${st.name} is not mounted; this operation works on a mounted filesystem`, {
        code: 'NOT_MOUNTED',
        where: st.name,
        hint: missing ? `mount it degraded first: mount -o degraded ${st.device ?? 'DEVICE'} /mnt/POINT` : `mount it first: mount ${st.device ?? 'DEVICE'} /mnt/POINT`,
      })
    }
    return st as ArrayStatus & {mountpoint: string}
  }

  private member(st: ArrayStatus, device: string) {
    if (/^\d+$/.test(device)) return st.members.find((m) => m.slot === Number(device))
    if (device === 'missing') return st.members.find((m) => m.role === 'missing')
    const k = kernelName(device)
    return st.members.find((m) => m.device !== 'missing' && (m.device === device || kernelName(m.device) === k))
  }

  async fail(array: string): Promise<ArrayStatus> {
    const st = await this.status(array)
    throw new UsageError(`btrfs cannot mark a device failed (${st.name})`, {code: 'UNSUPPORTED', hint: `use lifeboat raid replace ${st.name} OLD NEW, or lifeboat raid remove ${st.name} DEVICE`})
  }

  async remove(array: string, device: string): Promise<ArrayStatus> {
    const st = await this.mounted(array)
    const m = this.member(st, device)
    if (!m) throw new UsageError(`${device} is not a device of ${st.name}`, {code: 'NOT_A_MEMBER', where: device})
    const target = m.role === 'missing' ? 'missing' : m.device
    await this.btrfs(['device', 'remove', target, st.mountpoint], undefined, true)
    return this.status(st.uuid!)
  }

  async add(array: string, device: string): Promise<ArrayStatus> {
    const st = await this.mounted(array)
    if (this.member(st, device)) throw new UsageError(`${device} is already a device of ${st.name}`, {code: 'ALREADY_MEMBER', where: device})
    await this.btrfs(['device', 'add', device, st.mountpoint])
    return this.status(st.uuid!)
  }

  async addSpare(array: string): Promise<ArrayStatus> {
    const st = await this.status(array)
    throw new UsageError(`btrfs has no hot spares (${st.name})`, {code: 'UNSUPPORTED', hint: 'keep the disk aside and run `lifeboat raid replace` when a disk fails'})
  }

  /** Bytes a replacement for `old` needs: btrfs refuses a target smaller than the source device. */
  neededBytes(st: ArrayStatus, old: string, missingBytes?: number): number | undefined {
    const m = this.member(st, old)
    if (m && m.role !== 'missing') return m.sizeBytes
    return missingBytes
  }

  async replace(array: string, oldDevice: string, newDevice: string, opts: {wait?: boolean; onProgress?: ProgressCallback} = {}): Promise<ArrayStatus> {
    const st = await this.mounted(array)
    const old = this.member(st, oldDevice)
    if (!old) throw new UsageError(`${oldDevice} is not a device of ${st.name}`, {code: 'NOT_A_MEMBER', where: oldDevice, hint: 'name a device path, its devid, or "missing"'})
    if (this.member(st, newDevice)) throw new UsageError(`${newDevice} is already a device of ${st.name}`, {code: 'ALREADY_MEMBER', where: newDevice})
    if (old.role === 'missing' && old.slot === undefined) throw new LifeboatError(`cannot tell the devid of the missing device of ${st.name}`, {code: 'NO_DEVID'})
    let missingBytes: number | undefined
    if (old.role === 'missing') {
      const usage = parseUsage((await this.btrfs(['filesystem', 'usage', '-b', st.mountpoint], [0, 1])).stdout)
      if (st.members.filter((m) => m.role === 'missing').length === 1) missingBytes = usage.deviceMissing
    }
    const need = this.neededBytes(st, oldDevice, missingBytes)
    const have = blockDeviceSize(this.root, newDevice)
    if (need !== undefined && have !== undefined && have < need) {
      throw new UsageError(`${newDevice} is too small to replace ${oldDevice} in ${st.name}: ${have} bytes, needs at least ${need}`, {code: 'DEVICE_TOO_SMALL', where: newDevice})
    }
    const src = old.role === 'missing' ? String(old.slot) : old.device
    if (!opts.wait) {
      await this.btrfs(['replace', 'start', src, newDevice, st.mountpoint])
      return this.status(st.uuid!)
    }
    // -B: run in the foreground so failures (ENOSPC, I/O errors) surface; poll status meanwhile.
    let done = false
    const run = this.btrfs(['replace', 'start', '-B', src, newDevice, st.mountpoint], undefined, true).finally(() => {
      done = true
    })
    while (!done) {
      await Promise.race([run.catch(() => undefined), this.sleep(1000)])
      if (done) break
      const cur = await this.status(st.uuid!)
      opts.onProgress?.(cur.progress, cur)
    }
    await run
    const rs = parseReplaceStatus((await this.btrfs(['replace', 'status', '-1', st.mountpoint], [0, 1])).stdout)
    if (rs.state === 'canceled') throw new LifeboatError(`the replace of ${oldDevice} in ${st.name} was canceled (${rs.raw})`, {code: 'REPLACE_FAILED', where: st.mountpoint})
    let after = await this.status(st.uuid!)
    // Chunks written while mounted degraded may be "single": convert them back to the array's profiles.
    if (after.health === 'degraded' && !after.members.some((m) => m.role === 'missing')) {
      const usage = parseUsage((await this.btrfs(['filesystem', 'usage', '-b', st.mountpoint], [0, 1])).stdout)
      const d = usage.groups.filter((g) => g.type === 'Data' && g.profile.toLowerCase() !== 'single')[0]?.profile
      const m = usage.groups.filter((g) => g.type === 'Metadata' && g.profile.toLowerCase() !== 'single')[0]?.profile
      const args = ['balance', 'start']
      if (d) args.push(`-dconvert=${d.toLowerCase()},soft`)
      if (m) args.push(`-mconvert=${m.toLowerCase()},soft`)
      if (args.length > 2) await this.btrfs([...args, st.mountpoint], undefined, true)
      after = await this.status(st.uuid!)
    }
    opts.onProgress?.(after.progress, after)
    return after
  }

  async grow(array: string, opts: {add: string[]; level?: RaidLevel}): Promise<ArrayStatus> {
    const st = await this.mounted(array)
    for (const d of opts.add) if (this.member(st, d)) throw new UsageError(`${d} is already a device of ${st.name}`, {code: 'ALREADY_MEMBER', where: d})
    const profile = opts.level === undefined ? undefined : btrfsProfile(opts.level)
    for (const d of opts.add) await this.btrfs(['device', 'add', d, st.mountpoint])
    if (profile) {
      await this.btrfs(['balance', 'start', '--bg', `-dconvert=${profile}`, `-mconvert=${META_PROFILE[opts.level!]}`, st.mountpoint])
    }
    return this.status(st.uuid!)
  }

  async scrubStart(array: string): Promise<ArrayStatus> {
    const st = await this.mounted(array)
    if (st.progress?.action === 'scrub') throw new UsageError(`a scrub is already running on ${st.name}`, {code: 'ARRAY_BUSY'})
    // btrfs scrub always repairs from a good copy when the profile has one.
    await this.btrfs(['scrub', 'start', st.mountpoint])
    return this.status(st.uuid!)
  }

  async scrubStatus(array: string): Promise<ArrayStatus> {
    return this.status(array)
  }

  async scrubCancel(array: string): Promise<ArrayStatus> {
    const st = await this.mounted(array)
    if (st.progress?.action === 'scrub') await this.btrfs(['scrub', 'cancel', st.mountpoint], [0, 2])
    return this.status(st.uuid!)
  }

  async waitIdle(array: string, opts: {onProgress?: ProgressCallback; timeoutMs?: number; pollMs?: number} = {}): Promise<ArrayStatus> {
    const started = Date.now()
    for (;;) {
      const st = await this.status(array)
      opts.onProgress?.(st.progress, st)
      if (!st.progress) return st
      if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) {
        throw new LifeboatError(`${st.name} is still busy (${st.progress.action}) after ${Math.round(opts.timeoutMs / 1000)} s`, {code: 'WAIT_TIMEOUT'})
      }
      await this.sleep(opts.pollMs ?? 1000)
    }
  }
}

function unescapeMount(s: string): string {
  return s.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
}
