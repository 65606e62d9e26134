import fs from 'node:fs'
import path from 'node:path'

import {UsageError} from '../errors.js'
import {defaultRunner, type Runner} from '../exec/runner.js'
import type {ArrayProgress, ArrayStatus, EngineEnv, ProgressCallback} from './engine.js'
import {listAll} from './engines.js'
import {DiskRefusedError, type DiskEnv, guardDisks, listDisks} from './disks.js'
import {kernelName} from './identity.js'
import {describeProgress} from './status-view.js'

/**
 * Plain helpers the raid commands share (no oclif here): a check that a disk about to join an array is not
 * in use and is not the system disk (disks.ts's never-rules), and a progress printer for --wait.
 */

function mountedSources(root: string): Set<string> {
  const out = new Set<string>()
  try {
    for (const line of fs.readFileSync(path.join(root, 'proc', 'self', 'mounts'), 'utf8').split('\n')) {
      const src = line.split(' ')[0]
      if (src?.startsWith('/dev/')) out.add(kernelName(src))
    }
  } catch {
    // no /proc: nothing known to be mounted
  }
  try {
    for (const line of fs.readFileSync(path.join(root, 'proc', 'swaps'), 'utf8').split('\n').slice(1)) {
      const src = line.split(/\s+/)[0]
      if (src?.startsWith('/dev/')) out.add(kernelName(src))
    }
  } catch {
    // no swaps file
  }
  return out
}

/**
 * Refuses a device that is not a block device, is mounted or used as swap, is the root disk, the boot SD card
 * or the /boot disk (refuseSystemDisk; not even with `force`), or already belongs to an array; a device with a
 * filesystem/RAID signature or partitions only with `force`.
 */
export async function guardNewDevice(device: string, opts: {force?: boolean; env?: Partial<EngineEnv>; runner?: Runner} = {}): Promise<{signature?: string}> {
  const root = opts.env?.root ?? '/'
  let st: fs.Stats
  try {
    st = fs.statSync(device)
  } catch {
    throw new UsageError(`${device} does not exist`, {code: 'NO_SUCH_DEVICE', where: device})
  }
  if (!st.isBlockDevice()) throw new UsageError(`${device} is not a block device`, {code: 'NOT_A_BLOCK_DEVICE', where: device})
  const k = kernelName(device)
  if (mountedSources(root).has(k)) throw new UsageError(`${device} is mounted or in use as swap`, {code: 'DEVICE_IN_USE', where: device, hint: 'unmount it first; Lifeboat never adds a mounted disk'})
  const holders = path.join(root, 'sys', 'class', 'block', k, 'holders')
  try {
    const h = fs.readdirSync(holders)
    if (h.length > 0) throw new UsageError(`${device} is held by ${h.join(', ')}`, {code: 'DEVICE_IN_USE', where: device, hint: 'it is part of an md array, LVM or dm device'})
  } catch (error) {
    if (error instanceof UsageError) throw error
  }
  await refuseSystemDisk(device, {runner: opts.runner ?? opts.env?.runner, root: opts.env?.root})
  const arrays = await listAll(opts.env)
  const owner = arrays.flatMap((a) => [a, ...(a.children ?? [])]).find((a) => a.members.some((m) => m.device !== 'missing' && kernelName(m.device) === k))
  if (owner) throw new UsageError(`${device} already belongs to ${owner.engine} array ${owner.name}`, {code: 'DEVICE_IN_USE', where: device})
  const runner = opts.runner ?? opts.env?.runner ?? defaultRunner
  let sig: string | undefined
  try {
    const r = await runner.run('blkid', ['-p', '-o', 'export', device], {okExitCodes: [0, 2]})
    if (r.code === 0) {
      const type = /^TYPE=(.*)$/m.exec(r.stdout)?.[1]
      const pt = /^PTTYPE=(.*)$/m.exec(r.stdout)?.[1]
      sig = type ? `a ${type} signature` : pt ? `a ${pt} partition table` : undefined
    }
  } catch {
    sig = undefined // blkid missing or unreadable: nothing known
  }
  if (sig && !opts.force) {
    throw new UsageError(`${device} contains ${sig}`, {code: 'DEVICE_HAS_DATA', where: device, hint: 'if its contents may go, pass --force (they will be overwritten)'})
  }
  return {signature: sig}
}

/**
 * The refusals of src/raid/disks.ts (guardDisks) that no --force overrides: the root filesystem's disk, the boot
 * SD card (mmcblk0) and the disk holding /boot. A partition is refused when it is on the boot SD card; an unused
 * partition of the system disk may join an array (mounted or held ones are refused by guardNewDevice already).
 */
export async function refuseSystemDisk(device: string, env: DiskEnv = {}): Promise<void> {
  const k = kernelName(device)
  const disks = guardDisks(await listDisks(env), env)
  const whole = disks.find((d) => d.name === k) ?? disks.find((d) => d.partitions.some((p) => p.name === k))
  if (!whole) return
  const never = whole.inUse.filter((r) => r.level === 'never')
  const reasons = whole.name === k ? never : never.filter((r) => r.code === 'BOOT_SD')
  if (reasons.length === 0) return
  throw new DiskRefusedError(
    `refusing to use ${device}: ${whole.name === k ? reasons.map((r) => r.message).join('; ') : `it is a partition of the boot SD card ${whole.path}`}`,
    [{device, reasons}],
    'the root disk, the boot SD card and the /boot disk are never used, not even with --force',
  )
}

/**
 * Checks a new disk (guardNewDevice) and, when it holds a signature and --force was given, erases the
 * signatures (`wipefs -a`) so mdadm/btrfs accept it; `say` reports that. Returns what was wiped.
 */
export async function prepareNewDevice(device: string, opts: {force?: boolean; env?: Partial<EngineEnv>; runner?: Runner; say?: (m: string) => void} = {}): Promise<{wiped?: string}> {
  const {signature} = await guardNewDevice(device, opts)
  if (!signature) return {}
  opts.say?.(`erasing ${signature} on ${device} (--force)`)
  await wipeSignatures(device, opts.runner ?? opts.env?.runner)
  return {wiped: signature}
}

/** `wipefs -a DEV`: erases filesystem, RAID and partition-table signatures (only after the user's consent). */
export async function wipeSignatures(device: string, runner: Runner = defaultRunner): Promise<void> {
  await runner.run('wipefs', ['-a', device])
}

/** A progress callback that prints a line when the percentage moves (TTY: rewrites one line). */
export function progressPrinter(write: (s: string) => void, tty: boolean): ProgressCallback & {end(): void} {
  let last = ''
  let printed = false
  const fn = ((p: ArrayProgress | undefined, st: ArrayStatus) => {
    if (!p) return
    const line = `${st.name}: ${describeProgress(p)}`
    const key = `${p.action}${p.percent.toFixed(tty ? 1 : 0)}`
    if (key === last) return
    last = key
    printed = true
    write(tty ? `\r\u001B[2K${line}` : `${line}\n`)
  }) as ProgressCallback & {end(): void}
  fn.end = () => {
    if (tty && printed) write('\n')
  }
  return fn
}
