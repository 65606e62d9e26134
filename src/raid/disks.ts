import fs from 'node:fs'
import path from 'node:path'

import {LifeboatError, UsageError} from '../errors.js'
import {defaultRunner, type Runner} from '../exec/runner.js'

/**
 * Disk discovery and the in-use guard. Everything is read through a Runner (lsblk, blkid) and a root directory
 * (sysfs, /proc, /dev/disk), so tests feed fixture trees and recorded tool outputs.
 *
 * Test hook: LIFEBOAT_SYS_ROOT points discovery at a fake root (its sys/, proc/, dev/disk/); tools still run
 * from PATH (tests put fake lsblk/blkid there). Not meant for users.
 */

export interface DiskEnv {
  runner?: Runner
  /** Root of sys/, proc/ and dev/disk/ (default "/", or $LIFEBOAT_SYS_ROOT). */
  root?: string
}

export type GuardLevel = 'never' | 'blocked' | 'force'

export interface InUseReason {
  code:
    | 'ROOT_DISK'
    | 'BOOT_SD'
    | 'BOOT_DISK'
    | 'MOUNTED'
    | 'SWAP'
    | 'HOLDERS'
    | 'ACTIVE_MEMBER'
    | 'MD_MEMBER'
    | 'BTRFS_MEMBER'
    | 'LVM_MEMBER'
    | 'HAS_PARTITIONS'
    | 'HAS_FILESYSTEM'
    | 'DUPLICATE_SERIAL'
    | 'READ_ONLY'
    | 'UNREADABLE'
  /** never: not even with --force; blocked: stop using it first; force: allowed with --force and the typed confirmation. */
  level: GuardLevel
  message: string
}

export interface Partition {
  name: string
  path: string
  sizeBytes: number
  fstype?: string
  uuid?: string
  label?: string
  mountpoints: string[]
  holders: string[]
}

export interface Disk {
  name: string // sda
  path: string // /dev/sda
  /** "disk" or "loop". */
  kind: 'disk' | 'loop'
  majMin?: string
  sizeBytes: number
  model?: string
  vendor?: string
  serial?: string
  wwn?: string
  /** usb, sata, nvme, virtio, mmc, loop, … */
  transport?: string
  usb: boolean
  /** VID:PID of the USB bridge and the driver bound to it (uas or usb-storage). */
  usbBridge?: {vendorId: string; productId: string; driver?: string; port: string; product?: string; manufacturer?: string}
  removable: boolean
  readOnly: boolean
  rotational?: boolean
  byId: string[]
  byPath: string[]
  /** The stable name this tool uses: wwn-…, serial, by-id link, or the path when nothing better exists. */
  identity: string
  /** Whole-disk signature from blkid -p: linux_raid_member, btrfs, LVM2_member, ext4, … */
  fstype?: string
  uuid?: string
  label?: string
  /** Partition table type (gpt, dos) when present. */
  pttype?: string
  backingFile?: string
  mountpoints: string[]
  holders: string[]
  partitions: Partition[]
  /** Filled by guardDisks(). */
  inUse: InUseReason[]
}

export function sysRoot(env: DiskEnv = {}): string {
  return env.root ?? process.env.LIFEBOAT_SYS_ROOT ?? '/'
}

/** A sysfs/proc file's trimmed text; undefined when it cannot be read. */
export function readText(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'utf8').trim()
  } catch {
    return undefined
  }
}

function readDir(p: string): string[] {
  try {
    return fs.readdirSync(p).sort()
  } catch {
    return []
  }
}

function readLink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p)
  } catch {
    return undefined
  }
}

interface LsblkDev {
  name: string
  kname?: string
  path?: string
  size?: number | string | null
  type?: string
  serial?: string | null
  wwn?: string | null
  model?: string | null
  vendor?: string | null
  tran?: string | null
  rm?: boolean | string | null
  ro?: boolean | string | null
  rota?: boolean | string | null
  fstype?: string | null
  uuid?: string | null
  label?: string | null
  pttype?: string | null
  mountpoint?: string | null
  mountpoints?: Array<string | null> | null
  'maj:min'?: string
  children?: LsblkDev[]
}

function bool(v: boolean | string | null | undefined): boolean | undefined {
  if (v === null || v === undefined) return undefined
  if (typeof v === 'boolean') return v
  return v === '1' || v === 'true'
}

function clean(v: string | null | undefined): string | undefined {
  const s = v?.trim()
  return s ? s : undefined
}

/** Parses `blkid -p -o export` output into a map (TYPE, UUID, LABEL, PTTYPE, …). */
export function parseBlkidExport(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim())
    if (m) out[m[1]] = m[2]
  }
  return out
}

async function blkid(runner: Runner, dev: string): Promise<{values: Record<string, string>; error?: string}> {
  try {
    // Exit 2: no signature found (an empty disk).
    const r = await runner.run('blkid', ['-p', '-o', 'export', dev], {okExitCodes: [0, 2], timeoutMs: 30_000})
    // Exit 2 is also what blkid returns when it cannot open the device ("blkid: error: …").
    if (r.code === 2 && /error/i.test(r.stderr)) return {values: {}, error: r.stderr.trim().replace(/^blkid: error: /, '')}
    return {values: r.code === 0 ? parseBlkidExport(r.stdout) : {}}
  } catch (error) {
    return {values: {}, error: error instanceof Error ? error.message : String(error)}
  }
}

/** Mounts from <root>/proc/self/mountinfo: major:minor, mount point, source. */
export function readMounts(root: string): Array<{majMin: string; mountpoint: string; fstype: string; source: string}> {
  const text = readText(path.join(root, 'proc/self/mountinfo')) ?? ''
  const out: Array<{majMin: string; mountpoint: string; fstype: string; source: string}> = []
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!left || !right) continue
    const f = left.split(' ')
    const r = right.split(' ')
    out.push({majMin: f[2], mountpoint: unescapeMount(f[4]), fstype: r[0], source: unescapeMount(r[1] ?? '')})
  }
  return out
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))
}

export function readSwaps(root: string): string[] {
  const text = readText(path.join(root, 'proc/swaps')) ?? ''
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0])
    .filter(Boolean)
}

/** Links in <root>/dev/disk/<kind> grouped by the kernel name they point at. */
function diskLinks(root: string, kind: 'by-id' | 'by-path'): Map<string, string[]> {
  const dir = path.join(root, 'dev/disk', kind)
  const map = new Map<string, string[]>()
  for (const entry of readDir(dir)) {
    const target = readLink(path.join(dir, entry))
    if (!target) continue
    const name = path.basename(target)
    const list = map.get(name) ?? []
    list.push(`/dev/disk/${kind}/${entry}`)
    map.set(name, list)
  }
  return map
}

/** SCSI unit serial (VPD page 0x80): 4 header bytes, then the ASCII serial. */
function vpdSerial(file: string): string | undefined {
  try {
    const b = fs.readFileSync(file)
    if (b.length <= 4) return undefined
    const len = b.readUInt16BE(2)
    return clean(b.subarray(4, 4 + len).toString('latin1').replace(/\0/g, ''))
  } catch {
    return undefined
  }
}

/** Finds the USB device directory in a sysfs block device path and reads VID:PID and the storage driver. */
function usbInfo(root: string, sysPath: string): Disk['usbBridge'] | undefined {
  const parts = sysPath.split('/')
  let usbIndex = -1
  for (let i = 0; i < parts.length; i++) if (/^\d+-[\d.]+$/.test(parts[i])) usbIndex = i
  if (usbIndex < 0) return undefined
  const dir = parts.slice(0, usbIndex + 1).join('/')
  const abs = path.isAbsolute(dir) ? dir : path.join(root, 'sys/block', dir)
  const vendorId = readText(path.join(abs, 'idVendor'))
  const productId = readText(path.join(abs, 'idProduct'))
  if (!vendorId || !productId) return undefined
  const iface = parts[usbIndex + 1]
  const driverLink = iface ? readLink(path.join(abs, iface, 'driver')) : undefined
  return {
    vendorId,
    productId,
    driver: driverLink ? path.basename(driverLink) : undefined,
    port: parts[usbIndex],
    product: readText(path.join(abs, 'product')),
    manufacturer: readText(path.join(abs, 'manufacturer')),
  }
}

function isCandidate(name: string): boolean {
  return !/^(ram|zram|md|dm-|sr|nbd|fd|mtdblock|mmcblk\d+boot|mmcblk\d+rpmb)/.test(name)
}

/** Every whole disk (and attached loop device) on the machine, with identity and what is on it. */
export async function listDisks(env: DiskEnv = {}): Promise<Disk[]> {
  const root = sysRoot(env)
  const runner = env.runner ?? defaultRunner
  let lsblk: LsblkDev[] = []
  try {
    const r = await runner.run('lsblk', ['-J', '-b', '-O'], {timeoutMs: 30_000})
    lsblk = (JSON.parse(r.stdout) as {blockdevices?: LsblkDev[]}).blockdevices ?? []
  } catch (error) {
    if (error instanceof LifeboatError && error.code === 'TOOL_MISSING') throw error
    // lsblk output unreadable: sysfs alone still gives names and sizes.
  }
  const byName = new Map(lsblk.map((d) => [d.kname ?? d.name, d]))
  const byId = diskLinks(root, 'by-id')
  const byPath = diskLinks(root, 'by-path')
  const mounts = readMounts(root)
  const disks: Disk[] = []
  for (const name of readDir(path.join(root, 'sys/block'))) {
    if (!isCandidate(name)) continue
    const sys = path.join(root, 'sys/block', name)
    const sectors = Number(readText(path.join(sys, 'size')) ?? '0')
    const sizeBytes = sectors * 512
    if (sizeBytes === 0) continue // detached loop, empty card reader
    const l = byName.get(name)
    const link = readLink(sys) ?? ''
    const kind: Disk['kind'] = name.startsWith('loop') ? 'loop' : 'disk'
    const usbBridge = usbInfo(root, link)
    const transport = clean(l?.tran) ?? (kind === 'loop' ? 'loop' : usbBridge ? 'usb' : link.includes('/virtio') ? 'virtio' : link.includes('/ata') ? 'sata' : name.startsWith('nvme') ? 'nvme' : name.startsWith('mmcblk') ? 'mmc' : undefined)
    const serial =
      clean(l?.serial) ?? readText(path.join(sys, 'serial')) ?? readText(path.join(sys, 'device/serial')) ?? vpdSerial(path.join(sys, 'device/vpd_pg80'))
    const wwn = clean(l?.wwn) ?? clean(readText(path.join(sys, 'device/wwid'))?.replace(/^naa\./, '0x'))
    const partitions: Partition[] = []
    const lsParts = new Map((l?.children ?? []).filter((c) => c.type === 'part').map((c) => [c.kname ?? c.name, c]))
    for (const entry of readDir(sys)) {
      if (!fs.existsSync(path.join(sys, entry, 'partition'))) continue
      const lp = lsParts.get(entry)
      partitions.push({
        name: entry,
        path: `/dev/${entry}`,
        sizeBytes: Number(readText(path.join(sys, entry, 'size')) ?? '0') * 512,
        fstype: clean(lp?.fstype),
        uuid: clean(lp?.uuid),
        label: clean(lp?.label),
        mountpoints: [],
        holders: readDir(path.join(sys, entry, 'holders')),
      })
    }
    const majMin = readText(path.join(sys, 'dev'))
    const disk: Disk = {
      name,
      path: `/dev/${name}`,
      kind,
      majMin,
      sizeBytes,
      model: clean(l?.model) ?? readText(path.join(sys, 'device/model')),
      vendor: clean(l?.vendor) ?? readText(path.join(sys, 'device/vendor')),
      serial,
      wwn,
      transport,
      usb: transport === 'usb' || Boolean(usbBridge),
      usbBridge,
      removable: (readText(path.join(sys, 'removable')) ?? String(bool(l?.rm) ? 1 : 0)) === '1',
      readOnly: (readText(path.join(sys, 'ro')) ?? String(bool(l?.ro) ? 1 : 0)) === '1',
      rotational: readText(path.join(sys, 'queue/rotational')) === undefined ? bool(l?.rota) : readText(path.join(sys, 'queue/rotational')) === '1',
      byId: byId.get(name) ?? [],
      byPath: byPath.get(name) ?? [],
      identity: '',
      fstype: clean(l?.fstype),
      uuid: clean(l?.uuid),
      label: clean(l?.label),
      pttype: clean(l?.pttype),
      backingFile: kind === 'loop' ? readText(path.join(sys, 'loop/backing_file')) : undefined,
      mountpoints: [],
      holders: readDir(path.join(sys, 'holders')),
      partitions,
      inUse: [],
    }
    if (kind === 'loop' && !disk.model && disk.backingFile) disk.model = `loop: ${disk.backingFile}`
    disk.identity = disk.wwn ? `wwn-${disk.wwn}` : disk.serial ? `serial-${disk.serial}` : (disk.byId[0] ?? disk.path)
    // Mounts: by major:minor (exact) or by source path (the first member of a multi-device btrfs).
    const partMajMin = new Map(partitions.map((p) => [readText(path.join(sys, p.name, 'dev')), p]))
    for (const m of mounts) {
      if (m.majMin === majMin || m.source === disk.path) disk.mountpoints.push(m.mountpoint)
      const p = partMajMin.get(m.majMin) ?? partitions.find((x) => x.path === m.source)
      if (p) p.mountpoints.push(m.mountpoint)
    }
    disks.push(disk)
  }
  // Signatures: lsblk leaves fstype null without udev; blkid -p reads the disk itself.
  await Promise.all(
    disks.map(async (d) => {
      const b = await blkid(runner, d.path)
      if (b.error) {
        d.inUse.push({code: 'UNREADABLE', level: 'blocked', message: `cannot read signatures on ${d.path} (${b.error})${process.getuid?.() === 0 ? '' : '; run as root'}`})
      } else {
        d.fstype = b.values.TYPE ?? d.fstype
        d.uuid = b.values.UUID ?? d.uuid
        d.label = b.values.LABEL ?? d.label
        d.pttype = b.values.PTTYPE ?? d.pttype
      }
      for (const p of d.partitions) {
        if (p.fstype) continue
        const pb = await blkid(runner, p.path)
        p.fstype = pb.values.TYPE
        p.uuid = pb.values.UUID ?? p.uuid
        p.label = pb.values.LABEL ?? p.label
      }
    }),
  )
  return disks
}

/** The whole disks under the root filesystem (through partitions, md, dm and LVM: the "slaves" chain). */
export function rootDisks(root: string, disks: Disk[]): {mountSource?: string; disks: string[]} {
  return disksUnderMount(root, disks, '/')
}

function disksUnderMount(root: string, disks: Disk[], mountpoint: string): {mountSource?: string; disks: string[]} {
  const m = readMounts(root).filter((x) => x.mountpoint === mountpoint).at(-1)
  if (!m) return {disks: []}
  const names = new Set<string>()
  const classDir = path.join(root, 'sys/class/block')
  const byMajMin = new Map<string, string>()
  for (const entry of readDir(classDir)) {
    const dev = readText(path.join(classDir, entry, 'dev'))
    if (dev) byMajMin.set(dev, entry)
  }
  for (const d of disks) if (d.majMin) byMajMin.set(d.majMin, d.name)
  const start = byMajMin.get(m.majMin) ?? (m.source.startsWith('/dev/') ? path.basename(m.source) : undefined)
  const walk = (name: string, depth: number): void => {
    if (depth > 8) return
    const whole = disks.find((d) => d.name === name || d.partitions.some((p) => p.name === name))
    if (whole) {
      names.add(whole.name)
      return
    }
    // dm-*, md*: follow the devices they are built on.
    for (const s of readDir(path.join(classDir, name, 'slaves'))) walk(s, depth + 1)
  }
  if (start) walk(start, 0)
  // A btrfs root spans every device of its filesystem (source shows one of them).
  if (m.fstype === 'btrfs') {
    const src = disks.find((d) => d.path === m.source || d.partitions.some((p) => p.path === m.source))
    const uuid = src ? (src.path === m.source ? src.uuid : src.partitions.find((p) => p.path === m.source)?.uuid) : undefined
    if (uuid) for (const d of disks) if (d.uuid === uuid || d.partitions.some((p) => p.uuid === uuid)) names.add(d.name)
  }
  return {mountSource: m.source, disks: [...names]}
}

/** Which btrfs filesystems are mounted: /sys/fs/btrfs/<uuid>/devices/ lists their member devices. */
function mountedBtrfsMembers(root: string): Map<string, string> {
  const out = new Map<string, string>()
  const base = path.join(root, 'sys/fs/btrfs')
  for (const uuid of readDir(base)) {
    for (const dev of readDir(path.join(base, uuid, 'devices'))) out.set(dev, uuid)
  }
  return out
}

/**
 * Marks every disk with the reasons it must not (or may only with --force) become an array member.
 * never: the root filesystem's disk, the boot SD card (mmcblk0), the disk holding /boot;
 * blocked: mounted, swap, holders (an active md/dm/LVM on it), member of a mounted btrfs, duplicate serial,
 *          read-only, unreadable;
 * force: old md/btrfs/LVM signatures, partitions or a filesystem present (erased by the create).
 */
export function guardDisks(disks: Disk[], env: DiskEnv = {}): Disk[] {
  const root = sysRoot(env)
  const rootInfo = rootDisks(root, disks)
  const boot = [...disksUnderMount(root, disks, '/boot').disks, ...disksUnderMount(root, disks, '/boot/firmware').disks]
  const swaps = readSwaps(root)
  const btrfsMounted = mountedBtrfsMembers(root)
  const serialCount = new Map<string, string[]>()
  for (const d of disks) {
    if (d.kind !== 'disk' || !d.serial) continue
    serialCount.set(d.serial, [...(serialCount.get(d.serial) ?? []), d.path])
  }
  for (const d of disks) {
    const r = d.inUse.filter((x) => x.code === 'UNREADABLE')
    const add = (code: InUseReason['code'], level: GuardLevel, message: string) => r.push({code, level, message})
    if (rootInfo.disks.includes(d.name)) add('ROOT_DISK', 'never', `${d.path} holds the root filesystem (/ from ${rootInfo.mountSource})`)
    if (/^mmcblk0$/.test(d.name)) add('BOOT_SD', 'never', `${d.path} is the boot SD card`)
    else if (boot.includes(d.name) && !rootInfo.disks.includes(d.name)) add('BOOT_DISK', 'never', `${d.path} holds /boot`)
    const mounted = [...d.mountpoints, ...d.partitions.flatMap((p) => p.mountpoints)]
    if (mounted.length > 0) add('MOUNTED', 'blocked', `${d.path} is mounted at ${[...new Set(mounted)].join(', ')}; unmount it first`)
    const swapOn = swaps.filter((s) => s === d.path || d.partitions.some((p) => p.path === s))
    if (swapOn.length > 0) add('SWAP', 'blocked', `${swapOn.join(', ')} is in use as swap; swapoff it first`)
    const holders = [...d.holders, ...d.partitions.flatMap((p) => p.holders)]
    if (holders.length > 0) add('HOLDERS', 'blocked', `${d.path} is in use by ${[...new Set(holders)].join(', ')} (an active md array, device-mapper or LVM volume); stop it first`)
    const members = [d.name, ...d.partitions.map((p) => p.name)]
    const inMountedBtrfs = members.map((m) => btrfsMounted.get(m)).find(Boolean)
    if (inMountedBtrfs && mounted.length === 0) {
      add('ACTIVE_MEMBER', 'blocked', `${d.path} is a member of the mounted btrfs filesystem ${inMountedBtrfs}; remove it from that filesystem first`)
    }
    const types = [d.fstype, ...d.partitions.map((p) => p.fstype)].filter(Boolean) as string[]
    if (types.includes('linux_raid_member')) add('MD_MEMBER', 'force', `${d.path} carries an md RAID superblock (member of an old or inactive array)`)
    if (types.includes('btrfs') && !inMountedBtrfs) add('BTRFS_MEMBER', 'force', `${d.path} carries a btrfs filesystem${d.uuid ? ` (${d.uuid})` : ''}`)
    if (types.includes('LVM2_member')) add('LVM_MEMBER', 'force', `${d.path} is an LVM physical volume`)
    if (d.partitions.length > 0 || d.pttype) add('HAS_PARTITIONS', 'force', `${d.path} has a partition table${d.partitions.length ? ` (${d.partitions.map((p) => p.name + (p.fstype ? ` ${p.fstype}` : '')).join(', ')})` : ''}`)
    else if (d.fstype && !['linux_raid_member', 'btrfs', 'LVM2_member'].includes(d.fstype)) add('HAS_FILESYSTEM', 'force', `${d.path} has a ${d.fstype} filesystem${d.label ? ` labelled "${d.label}"` : ''}`)
    if (d.serial && (serialCount.get(d.serial)?.length ?? 0) > 1) {
      add('DUPLICATE_SERIAL', 'blocked', `${d.path} reports the serial "${d.serial}" like ${serialCount.get(d.serial)!.filter((p) => p !== d.path).join(', ')} (a multi-bay USB enclosure?): disks cannot be told apart reliably`)
    }
    if (d.readOnly) add('READ_ONLY', 'blocked', `${d.path} is read-only`)
    d.inUse = r
  }
  return disks
}

/** Whether the disk may be used: with force, `force`-level reasons are accepted. */
export function eligible(d: Disk, force: boolean): boolean {
  return d.inUse.every((r) => r.level === 'force' && force)
}

/** Finds a disk by /dev/sdX, sdX, a /dev/disk/by-id|by-path link, its identity (serial-…, wwn-…) or serial. */
export function resolveDisk(disks: Disk[], spec: string, root = '/'): Disk {
  const s = spec.trim()
  let d = disks.find((x) => x.path === s || x.name === s || x.byId.includes(s) || x.byPath.includes(s) || x.identity === s)
  if (!d && s.startsWith('/dev/disk/')) {
    // Follow the link on the real (or fixture) tree.
    const target = readLink(path.join(root, s))
    if (target) d = disks.find((x) => x.name === path.basename(target))
  }
  if (!d) {
    const bySerial = disks.filter((x) => x.serial === s)
    if (bySerial.length > 1) {
      throw new UsageError(`serial "${s}" is shared by ${bySerial.map((x) => x.path).join(', ')}; name the disk by its /dev/disk/by-path link instead`, {code: 'AMBIGUOUS_DISK', where: spec})
    }
    d = bySerial[0]
  }
  if (!d) {
    const partOf = disks.find((x) => x.partitions.some((p) => p.path === s || p.name === s))
    throw new UsageError(partOf ? `${spec} is a partition of ${partOf.path}; arrays are built on whole disks` : `no disk ${spec} on this machine`, {
      code: 'NO_SUCH_DISK',
      where: spec,
      hint: 'list the disks with: lsblk -o NAME,SIZE,MODEL,SERIAL,TRAN (or run raid create on a terminal without --devices to pick)',
    })
  }
  return d
}

export class DiskRefusedError extends LifeboatError {
  constructor(message: string, readonly refusals: Array<{device: string; reasons: InUseReason[]}>, hint?: string) {
    super(message, {code: 'DISK_REFUSED', exitCode: 1, hint, details: refusals})
  }
}

/** Throws when any disk cannot be used (or needs --force that was not given); returns the accepted reasons otherwise. */
export function assertUsable(disks: Disk[], force: boolean): Array<{device: string; reasons: InUseReason[]}> {
  const seen = new Set<string>()
  for (const d of disks) {
    if (seen.has(d.name)) throw new UsageError(`${d.path} is listed twice`, {code: 'DUPLICATE_DEVICE', where: d.path})
    seen.add(d.name)
  }
  const refused = disks.filter((d) => !eligible(d, force)).map((d) => ({device: d.path, reasons: d.inUse.filter((r) => !(r.level === 'force' && force))}))
  if (refused.length > 0) {
    const never = refused.some((r) => r.reasons.some((x) => x.level === 'never'))
    const onlyForce = refused.every((r) => r.reasons.every((x) => x.level === 'force'))
    const lines = refused.flatMap((r) => r.reasons.map((x) => x.message))
    throw new DiskRefusedError(
      `refusing to use ${refused.map((r) => r.device).join(', ')}: ${lines.join('; ')}`,
      refused,
      never
        ? 'the root disk, the boot SD card and the /boot disk are never used, not even with --force'
        : onlyForce
          ? 'if the data on it may be erased, pass --force (you will still have to type the array name)'
          : 'stop using the disk first (unmount, swapoff, stop the array or volume); --force does not override this',
    )
  }
  return disks.filter((d) => d.inUse.length > 0).map((d) => ({device: d.path, reasons: d.inUse}))
}
