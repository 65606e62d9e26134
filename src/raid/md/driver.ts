import fs from 'node:fs'
import path from 'node:path'

import {LifeboatError, UsageError} from '../../errors.js'
import {which, type Runner} from '../../exec/runner.js'
import type {Argv, ArrayStatus, CreateSpec, EngineEnv, ProgressCallback, RaidEngine, RaidLevel} from '../engine.js'
import {blockDeviceSize, kernelName, labelMembers} from '../identity.js'
import {parseDetail, type MdDetail} from './detail.js'
import {parseMdstat, type MdstatArray} from './mdstat.js'
import {buildMdStatus} from './status.js'
import {readMdSysfs, writeMdSysfs} from './sysfs.js'

/**
 * Linux md through mdadm 4.x. Reads /proc/mdstat, /sys/block/mdX/md and `mdadm --detail`; changes arrays
 * with mdadm (explicit flags always: --run --metadata=1.2 --bitmap=…, so newer mdadm never asks) and
 * sync_action (check/repair/idle). Nested 0+1 and 1+0 are md arrays built from md arrays.
 */

const MD_LEVEL: Partial<Record<RaidLevel, string>> = {'0': '0', '1': '1', '4': '4', '5': '5', '6': '6', '10': '10'}

const sleepDefault = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export class MdEngine implements RaidEngine {
  readonly name = 'md' as const
  private readonly root: string
  private readonly runner: Runner
  private readonly sleep: (ms: number) => Promise<void>

  constructor(env: EngineEnv) {
    this.root = env.root ?? '/'
    this.runner = env.runner
    this.sleep = env.sleep ?? sleepDefault
  }

  private get mdstatPath(): string {
    return path.join(this.root, 'proc', 'mdstat')
  }

  async available(): Promise<{ok: true} | {ok: false; reason: string; hint?: string}> {
    if (this.root === '/' && !which('mdadm')) return {ok: false, reason: 'mdadm is not installed', hint: 'sudo apt-get install mdadm'}
    if (!fs.existsSync(this.mdstatPath)) {
      return {ok: false, reason: 'the kernel has no md driver loaded (no /proc/mdstat)', hint: 'load it with: sudo modprobe md_mod (and raid1 / raid456 / raid10)'}
    }
    return {ok: true}
  }

  private async mdadm(args: string[], okExitCodes?: number[]): Promise<string> {
    const r = await this.runner.run('mdadm', args, {okExitCodes, timeoutMs: 120_000})
    return r.stdout
  }

  private readMdstat(): MdstatArray[] {
    let text: string
    try {
      text = fs.readFileSync(this.mdstatPath, 'utf8')
    } catch {
      return []
    }
    return parseMdstat(text).arrays
  }

  private async detail(dev: string): Promise<MdDetail | undefined> {
    try {
      return parseDetail(await this.mdadm(['--detail', dev]))
    } catch {
      return undefined
    }
  }

  /** Every md array, flat (children of nested arrays included). */
  async all(): Promise<ArrayStatus[]> {
    const out: ArrayStatus[] = []
    for (const a of this.readMdstat()) {
      const dev = `/dev/${a.name}`
      const detail = a.active || fs.existsSync(dev) ? await this.detail(dev) : undefined
      const st = buildMdStatus({mdstat: a, detail, sysfs: readMdSysfs(this.root, a.name)})
      out.push(labelMembers(this.root, st))
    }
    return out
  }

  /** Arrays with nested ones folded: an md array whose members are md arrays gets them as children. */
  async list(): Promise<ArrayStatus[]> {
    return nest(await this.all())
  }

  async status(nameOrDevice: string): Promise<ArrayStatus> {
    const all = await this.all()
    const found = findArray(nest(all), nameOrDevice) ?? findArray(all, nameOrDevice)
    if (!found) {
      throw new UsageError(`no md array "${nameOrDevice}"`, {
        code: 'ARRAY_NOT_FOUND',
        where: nameOrDevice,
        hint: all.length > 0 ? `known md arrays: ${all.map((a) => `${a.name} (${a.device})`).join(', ')}` : 'there are no md arrays on this machine (lifeboat raid list)',
      })
    }
    return found
  }

  private freeMdNumbers(count: number): number[] {
    const used = new Set(this.readMdstat().map((a) => Number(a.name.replace(/^md/, ''))).filter((n) => Number.isInteger(n)))
    const out: number[] = []
    for (let n = 0; out.length < count; n++) if (!used.has(n)) out.push(n)
    return out
  }

  createCommands(spec: CreateSpec): Argv[] {
    validateSpec(spec)
    const bitmap = spec.bitmap ?? 'internal'
    const cmds: Argv[] = []
    if (spec.wipe) for (const d of [...spec.devices, ...(spec.spares ?? [])]) cmds.push(['wipefs', '-a', d])
    const create = (dev: string, name: string, level: string, devices: string[], spares: string[] = []): Argv => {
      const a = ['mdadm', '--create', dev, '--run', '--metadata=1.2', `--level=${level}`, `--raid-devices=${devices.length}`, `--name=${name}`]
      // mdadm refuses any --bitmap (even "none") for raid0: "bitmaps not meaningful with level raid0".
      if (level !== '0') a.push(`--bitmap=${bitmap}`)
      if (spec.chunkKiB !== undefined && ['0', '4', '5', '6', '10'].includes(level)) a.push(`--chunk=${spec.chunkKiB}`)
      if (spares.length > 0) a.push(`--spare-devices=${spares.length}`)
      a.push(...devices, ...spares)
      return a
    }
    if (spec.level === '0+1' || spec.level === '1+0') {
      const nested = spec.level === '0+1' ? nestedZeroPlusOne(spec.devices) : nestedOnePlusZero(spec.devices)
      const nums = this.freeMdNumbers(nested.groups.length + 1)
      const childDevs = nested.groups.map((_g, i) => `/dev/md${nums[i]}`)
      nested.groups.forEach((g, i) => cmds.push(create(childDevs[i], `${spec.name}-${nested.childPrefix}${i}`, nested.childLevel, g)))
      cmds.push(create(`/dev/md${nums.at(-1)}`, spec.name, nested.topLevel, childDevs))
      return cmds
    }
    const [n] = this.freeMdNumbers(1)
    cmds.push(create(`/dev/md${n}`, spec.name, MD_LEVEL[spec.level]!, spec.devices, spec.spares ?? []))
    return cmds
  }

  async create(spec: CreateSpec): Promise<ArrayStatus> {
    const existing = (await this.all()).find((a) => a.name === spec.name)
    if (existing) throw new UsageError(`an md array named "${spec.name}" already exists (${existing.device})`, {code: 'ARRAY_EXISTS', where: spec.name})
    for (const argv of this.createCommands(spec)) await this.runner.run(argv[0], argv.slice(1), {timeoutMs: 120_000})
    return this.status(spec.name)
  }

  private member(st: ArrayStatus, device: string) {
    const k = kernelName(device)
    return st.members.find((m) => m.device !== 'missing' && (m.device === device || kernelName(m.device) === k))
  }

  private requireMember(st: ArrayStatus, device: string) {
    const m = this.member(st, device)
    if (!m) {
      throw new UsageError(`${device} is not a member of ${st.name} (${st.device})`, {
        code: 'NOT_A_MEMBER',
        where: device,
        hint: `members: ${st.members.filter((x) => x.device !== 'missing').map((x) => x.device).join(', ') || 'none'}`,
      })
    }
    return m
  }

  async fail(array: string, device: string): Promise<ArrayStatus> {
    const st = await this.status(array)
    const m = this.requireMember(st, device)
    await this.mdadm([st.device!, '--fail', m.device])
    return this.status(st.device!)
  }

  async remove(array: string, device: string): Promise<ArrayStatus> {
    const st = await this.status(array)
    // mdadm keywords for members whose device node is gone.
    const target = device === 'failed' || device === 'detached' ? device : this.requireMember(st, device).device
    const m = this.member(st, device)
    if (m && (m.role === 'active' || m.role === 'rebuilding' || m.role === 'replacement')) {
      throw new UsageError(`${m.device} is an active member of ${st.name}; mark it failed first (lifeboat raid fail ${st.name} ${m.device})`, {code: 'MEMBER_ACTIVE', where: m.device})
    }
    await this.mdadm([st.device!, '--remove', target])
    return this.status(st.device!)
  }

  async add(array: string, device: string): Promise<ArrayStatus> {
    const st = await this.status(array)
    if (this.member(st, device)) throw new UsageError(`${device} is already a member of ${st.name}`, {code: 'ALREADY_MEMBER', where: device})
    this.checkSize(st, device)
    await this.mdadm([st.device!, '--add', device])
    return this.status(st.device!)
  }

  addSpare(array: string, device: string): Promise<ArrayStatus> {
    return this.add(array, device)
  }

  /** Bytes a new member needs: the used component size plus the data offset. */
  neededBytes(st: ArrayStatus): number | undefined {
    const sys = readMdSysfs(this.root, path.basename(st.device ?? ''))
    const off = Math.max(0, ...(sys?.devs.map((d) => d.offsetSectors ?? 0) ?? [0]))
    const comp = sys?.componentSizeKiB ?? Math.max(0, ...st.members.map((m) => (m.sizeBytes ?? 0) / 1024))
    if (!comp) return undefined
    return comp * 1024 + off * 512
  }

  private checkSize(st: ArrayStatus, device: string): void {
    const need = this.neededBytes(st)
    const have = blockDeviceSize(this.root, device)
    if (need !== undefined && have !== undefined && have < need) {
      throw new UsageError(`${device} is too small for ${st.name}: ${have} bytes, needs at least ${need}`, {code: 'DEVICE_TOO_SMALL', where: device, hint: 'use a disk at least as large as the smallest member'})
    }
  }

  async replace(array: string, oldDevice: string, newDevice: string, opts: {wait?: boolean; onProgress?: ProgressCallback} = {}): Promise<ArrayStatus> {
    const st = await this.status(array)
    // A disk already removed from a degraded array (or "missing"): nothing to take out, just rebuild onto NEW.
    const slotEmpty = st.members.some((m) => m.role === 'removed' || m.role === 'missing')
    const old = oldDevice === 'missing' || (slotEmpty && !this.member(st, oldDevice)) ? undefined : this.requireMember(st, oldDevice)
    if (!old && !slotEmpty) throw new UsageError(`${st.name} has no missing member to replace`, {code: 'NOT_A_MEMBER', where: oldDevice})
    if (this.member(st, newDevice)) throw new UsageError(`${newDevice} is already a member of ${st.name}`, {code: 'ALREADY_MEMBER', where: newDevice})
    this.checkSize(st, newDevice)
    const md = st.device!
    if (old && (old.role === 'active' || old.role === 'rebuilding')) {
      // Hot replace: the old disk keeps serving until the new one is in sync, then md marks it faulty.
      await this.mdadm([md, '--add', newDevice])
      await this.mdadm([md, '--replace', old.device, '--with', newDevice])
      if (!opts.wait) return this.status(md)
      await this.waitIdle(md, {onProgress: opts.onProgress})
      const after = await this.status(md)
      const o = this.member(after, old.device)
      if (o && o.role === 'faulty') await this.mdadm([md, '--remove', o.device])
      return this.status(md)
    }
    if (old && old.role === 'faulty') await this.mdadm([md, '--remove', old.device])
    await this.mdadm([md, '--add', newDevice])
    if (opts.wait) return this.waitIdle(md, {onProgress: opts.onProgress})
    return this.status(md)
  }

  async grow(array: string, opts: {add: string[]; level?: RaidLevel}): Promise<ArrayStatus> {
    const st = await this.status(array)
    for (const d of opts.add) {
      if (this.member(st, d)) throw new UsageError(`${d} is already a member of ${st.name}`, {code: 'ALREADY_MEMBER', where: d})
      this.checkSize(st, d)
    }
    let level: string | undefined
    if (opts.level !== undefined) {
      level = MD_LEVEL[opts.level]
      if (!level) throw new UsageError(`md cannot convert to level ${opts.level}`, {code: 'BAD_LEVEL', hint: 'md grows to 0, 1, 4, 5, 6 or 10'})
    }
    const md = st.device!
    for (const d of opts.add) await this.mdadm([md, '--add', d])
    const active = st.expectedMembers ?? st.members.filter((m) => m.role === 'active').length
    const args = ['--grow', md]
    if (level) args.push(`--level=${level}`)
    if (opts.add.length > 0) args.push(`--raid-devices=${active + opts.add.length}`)
    if (args.length > 2) await this.mdadm(args)
    return this.status(md)
  }

  async scrubStart(array: string, opts: {repair?: boolean} = {}): Promise<ArrayStatus> {
    const st = await this.status(array)
    const k = path.basename(st.device!)
    const sys = readMdSysfs(this.root, k)
    if (!sys) throw new LifeboatError(`cannot read ${path.join(this.root, 'sys/block', k, 'md')}`, {code: 'SYSFS_MISSING', where: k})
    if (sys.syncAction && sys.syncAction !== 'idle') {
      throw new UsageError(`${st.name} is busy (${sys.syncAction}); a check can start once it is idle`, {code: 'ARRAY_BUSY', where: st.device})
    }
    if (st.level === 'raid0' || st.level === 'linear') throw new UsageError(`${st.name} is ${st.level}: there is no redundancy to check`, {code: 'NO_REDUNDANCY'})
    writeMdSysfs(this.root, k, 'sync_action', opts.repair ? 'repair' : 'check')
    return this.status(st.device!)
  }

  scrubStatus(array: string): Promise<ArrayStatus> {
    return this.status(array)
  }

  async scrubCancel(array: string): Promise<ArrayStatus> {
    const st = await this.status(array)
    const k = path.basename(st.device!)
    const sys = readMdSysfs(this.root, k)
    if (sys?.syncAction === 'check' || sys?.syncAction === 'repair') writeMdSysfs(this.root, k, 'sync_action', 'idle')
    return this.status(st.device!)
  }

  /** Polls sync_action (faster than mdadm --wait, which lags seconds behind the kernel). */
  async waitIdle(array: string, opts: {onProgress?: ProgressCallback; timeoutMs?: number; pollMs?: number} = {}): Promise<ArrayStatus> {
    const pollMs = opts.pollMs ?? 1000
    const started = Date.now()
    // Right after --add, recovery may not have started yet; give it a grace period.
    const graceUntil = started + 5000
    for (;;) {
      const st = await this.status(array)
      const sys = readMdSysfs(this.root, path.basename(st.device!))
      const busy = (sys?.syncAction !== undefined && sys.syncAction !== 'idle') || st.progress !== undefined
      const waitingForRecovery = st.health === 'degraded' && st.members.some((m) => m.role === 'spare' || m.role === 'rebuilding') && Date.now() < graceUntil
      opts.onProgress?.(st.progress, st)
      if (!busy && !waitingForRecovery) return st
      if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) {
        throw new LifeboatError(`${st.name} is still busy (${st.progress?.action ?? sys?.syncAction}) after ${Math.round(opts.timeoutMs / 1000)} s`, {code: 'WAIT_TIMEOUT', where: st.device})
      }
      await this.sleep(pollMs)
    }
  }
}

function validateSpec(spec: CreateSpec): void {
  const n = spec.devices.length
  const min: Record<string, number> = {'0': 1, '1': 2, '4': 3, '5': 3, '6': 4, '10': 2, '0+1': 4, '1+0': 4}
  if (spec.level === '1c3' || spec.level === '1c4') {
    throw new UsageError(`level ${spec.level} is a btrfs profile; with md use --level 1 with ${spec.level === '1c3' ? 3 : 4} devices`, {code: 'BAD_LEVEL'})
  }
  if (min[spec.level] === undefined) throw new UsageError(`unknown RAID level ${spec.level}`, {code: 'BAD_LEVEL'})
  if (n < min[spec.level]) throw new UsageError(`level ${spec.level} needs at least ${min[spec.level]} devices, got ${n}`, {code: 'TOO_FEW_DEVICES'})
  if ((spec.level === '0+1' || spec.level === '1+0') && n % 2 !== 0) throw new UsageError(`level ${spec.level} needs an even number of devices, got ${n}`, {code: 'BAD_DEVICE_COUNT'})
  if ((spec.level === '0+1' || spec.level === '1+0' || spec.level === '0') && (spec.spares?.length ?? 0) > 0) {
    throw new UsageError(`spares are not supported with level ${spec.level}`, {code: 'SPARES_UNSUPPORTED', hint: 'md raid10 (--level 10) supports hot spares'})
  }
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(spec.name)) throw new UsageError(`array name "${spec.name}" must be 1-32 letters, digits, ".", "_" or "-"`, {code: 'BAD_NAME'})
  const all = [...spec.devices, ...(spec.spares ?? [])]
  const dup = all.find((d, i) => all.indexOf(d) !== i)
  if (dup) throw new UsageError(`${dup} is given twice`, {code: 'DUPLICATE_DEVICE', where: dup})
}

/** 0+1: a mirror (raid1) of two stripes (raid0), each over half the disks. */
export function nestedZeroPlusOne(devices: string[]): {groups: string[][]; childLevel: string; topLevel: string; childPrefix: string} {
  const half = devices.length / 2
  return {groups: [devices.slice(0, half), devices.slice(half)], childLevel: '0', topLevel: '1', childPrefix: 's'}
}

/** 1+0: a stripe (raid0) over mirrored pairs (raid1). */
export function nestedOnePlusZero(devices: string[]): {groups: string[][]; childLevel: string; topLevel: string; childPrefix: string} {
  const groups: string[][] = []
  for (let i = 0; i < devices.length; i += 2) groups.push([devices[i], devices[i + 1]])
  return {groups, childLevel: '1', topLevel: '0', childPrefix: 'm'}
}

/** Folds md arrays built from md arrays into their parent's `children`. */
export function nest(all: ArrayStatus[]): ArrayStatus[] {
  const byDev = new Map(all.map((a) => [a.device, a]))
  const childOf = new Set<string>()
  const out: ArrayStatus[] = []
  for (const a of all) {
    const kids = a.members.map((m) => byDev.get(m.device)).filter((x): x is ArrayStatus => x !== undefined)
    if (kids.length > 0) {
      for (const k of kids) childOf.add(k.device!)
    }
  }
  for (const a of all) {
    if (childOf.has(a.device!)) continue
    const kids = a.members.map((m) => byDev.get(m.device)).filter((x): x is ArrayStatus => x !== undefined)
    out.push(kids.length > 0 ? {...a, children: kids} : a)
  }
  return out
}

/** Finds an array by name, kernel name, /dev path, /dev/md/NAME, UUID or a member device. */
export function findArray(arrays: ArrayStatus[], q: string): ArrayStatus | undefined {
  const k = q.startsWith('/dev/') ? kernelName(q) : q
  return (
    arrays.find((a) => a.name === q || a.uuid === q || a.device === q || a.mountpoint === q) ??
    arrays.find((a) => a.device !== undefined && path.basename(a.device) === k) ??
    arrays.find((a) => q === `/dev/md/${a.name}`) ??
    (q.startsWith('/') ? arrays.find((a) => a.members.some((m) => m.device === q || (m.device !== 'missing' && kernelName(m.device) === k))) : undefined)
  )
}
