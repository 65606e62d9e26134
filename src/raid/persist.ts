import fs from 'node:fs'
import path from 'node:path'

import {LifeboatError, UsageError} from '../errors.js'
import {writeFileAtomicSync} from '../fsutil.js'
import {type Runner, which} from '../exec/runner.js'
import type {ArrayStatus} from './engine.js'
import {parseBlkidExport} from './disks.js'

/**
 * Makes an array come back after a reboot: md ARRAY lines by UUID in mdadm.conf (so arrays assemble whatever
 * the sdX names are today), the initramfs refreshed, and an fstab entry by filesystem UUID with `nofail` and a
 * device timeout (so a USB disk that is late or missing does not drop the boot into emergency mode).
 * Everything is written under `root` (default "/"), write-then-rename, the previous file kept as `.bak`.
 */

export interface PersistInput {
  array: ArrayStatus
  runner: Runner
  root?: string
  /** Where to mount the filesystem on the array; without it no fstab entry is written. */
  mountpoint?: string
  /** btrfs: add device=/dev/disk/by-id/… hints to the fstab options. */
  deviceHints?: boolean
  /** mount options added to the defaults. */
  options?: string
  /** Dry run: compute the changes, write nothing, run nothing. */
  dryRun?: boolean
}

export interface FileChange {
  file: string
  /** added: lines appended; replaced: a line for the same UUID changed; unchanged: already there. */
  action: 'added' | 'replaced' | 'unchanged'
  lines: string[]
  backup?: string
}

export interface PersistResult {
  engine: ArrayStatus['engine']
  array: string
  mdadmConf?: FileChange
  fstab?: FileChange
  initramfs?: {ran: boolean; reason?: string}
  notes: string[]
}

export const FSTAB_OPTIONS = 'nofail,x-systemd.device-timeout=30s'

/** The md array's UUID in ARRAY lines ("04566bd9:b73c2390:…"). */
function arrayUuid(line: string): string | undefined {
  return /\bUUID=([0-9a-f:]+)/i.exec(line)?.[1]?.toLowerCase()
}

/**
 * Merges ARRAY lines into mdadm.conf text: a line with the same UUID is replaced, a new one appended; every other
 * line stays as it was. Returns the new text and what changed.
 */
export function mergeMdadmConf(text: string, arrayLines: string[]): {text: string; action: FileChange['action']; lines: string[]} {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n')
  let action: FileChange['action'] = 'unchanged'
  const changed: string[] = []
  for (const want of arrayLines) {
    const uuid = arrayUuid(want)
    if (!uuid) continue
    const i = lines.findIndex((l) => /^\s*ARRAY\s/.test(l) && arrayUuid(l) === uuid)
    if (i >= 0) {
      if (lines[i].trim() === want.trim()) continue
      lines[i] = want
      action = 'replaced'
    } else {
      lines.push(want)
      if (action === 'unchanged') action = 'added'
    }
    changed.push(want)
  }
  return {text: lines.join('\n') + '\n', action, lines: changed}
}

/**
 * Adds an fstab line unless one for the same UUID (or the same mount point) exists. A different line for the same
 * UUID is left alone and reported: fstab is the user's file.
 */
export function mergeFstab(text: string, entry: {spec: string; mountpoint: string; fstype: string; options: string; pass: number}): {
  text: string
  action: FileChange['action']
  lines: string[]
  conflict?: string
} {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n')
  const want = `${entry.spec} ${entry.mountpoint} ${entry.fstype} ${entry.options} 0 ${entry.pass}`
  for (const l of lines) {
    const f = l.trim().split(/\s+/)
    if (f.length < 2 || f[0].startsWith('#')) continue
    if (f[0] === entry.spec) {
      if (f[1] === entry.mountpoint) return {text, action: 'unchanged', lines: [l]}
      return {text, action: 'unchanged', lines: [l], conflict: `fstab already mounts ${entry.spec} at ${f[1]}; left as it is`}
    }
    if (f[1] === entry.mountpoint) return {text, action: 'unchanged', lines: [l], conflict: `fstab already mounts something else (${f[0]}) at ${entry.mountpoint}; left as it is`}
  }
  lines.push(want)
  return {text: lines.join('\n') + '\n', action: 'added', lines: [want]}
}

function writeAtomic(file: string, text: string): string | undefined {
  fs.mkdirSync(path.dirname(file), {recursive: true})
  let backup: string | undefined
  if (fs.existsSync(file)) {
    backup = `${file}.bak`
    fs.copyFileSync(file, backup)
  }
  writeFileAtomicSync(file, text, {mode: backup ? fs.statSync(file).mode & 0o7777 : 0o644})
  return backup
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return fallback
  }
}

async function filesystemOn(runner: Runner, device: string): Promise<{type?: string; uuid?: string}> {
  const r = await runner.run('blkid', ['-p', '-o', 'export', device], {okExitCodes: [0, 2], timeoutMs: 30_000})
  const v = parseBlkidExport(r.stdout)
  return {type: v.TYPE, uuid: v.UUID}
}

export async function persistArray(input: PersistInput): Promise<PersistResult> {
  const root = input.root ?? '/'
  const a = input.array
  const result: PersistResult = {engine: a.engine, array: a.name, notes: []}
  if (input.mountpoint !== undefined && !input.mountpoint.startsWith('/')) {
    throw new UsageError(`the mount point must be an absolute path, not "${input.mountpoint}"`, {code: 'BAD_FLAG', where: '--mountpoint'})
  }
  const extra = input.options ? `,${input.options}` : ''

  if (a.engine === 'md') {
    if (!a.device) throw new LifeboatError(`md array ${a.name} has no device node to read`, {code: 'NO_DEVICE'})
    // Nested 0+1 / 1+0: the inner arrays need their ARRAY lines too (listed first: they assemble first).
    const devices = [...(a.children ?? []).map((c) => c.device).filter((d): d is string => Boolean(d)), a.device]
    const arrayLines: string[] = []
    for (const dev of devices) {
      const brief = await input.runner.run('mdadm', ['--detail', '--brief', dev], {timeoutMs: 30_000})
      arrayLines.push(...brief.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('ARRAY ')))
    }
    if (arrayLines.length === 0) throw new LifeboatError(`mdadm --detail --brief ${a.device} printed no ARRAY line`, {code: 'NO_ARRAY_LINE', where: a.device})
    const conf = path.join(root, 'etc/mdadm/mdadm.conf')
    const before = readOr(conf, '')
    const merged = mergeMdadmConf(before, arrayLines)
    const change: FileChange = {file: conf, action: merged.action, lines: merged.lines.length ? merged.lines : arrayLines}
    if (merged.action !== 'unchanged' && !input.dryRun) change.backup = writeAtomic(conf, merged.text)
    result.mdadmConf = change
    // The initramfs carries its own copy of mdadm.conf: refresh it, but only for the real root.
    if (root !== '/') result.initramfs = {ran: false, reason: '--root is not /'}
    else if (merged.action === 'unchanged') result.initramfs = {ran: false, reason: 'mdadm.conf unchanged'}
    else if (!which('update-initramfs')) result.initramfs = {ran: false, reason: 'update-initramfs is not installed'}
    else if (input.dryRun) result.initramfs = {ran: false, reason: 'dry run'}
    else {
      await input.runner.run('update-initramfs', ['-u'], {timeoutMs: 10 * 60_000})
      result.initramfs = {ran: true}
    }
  }

  if (input.mountpoint) {
    const device = a.engine === 'md' ? a.device : (a.members.find((m) => m.role === 'active' && m.device !== 'missing')?.device ?? a.device)
    let fsType: string | undefined
    let fsUuid: string | undefined
    if (device) ({type: fsType, uuid: fsUuid} = await filesystemOn(input.runner, device))
    if (a.engine === 'btrfs') {
      fsType ??= 'btrfs'
      fsUuid ??= a.uuid
    }
    if (!fsUuid || !fsType) {
      result.notes.push(`no filesystem on ${device ?? a.name} yet: create one (e.g. mkfs.ext4 ${device ?? ''}), then run raid persist again for the fstab entry`)
    } else {
      let options = `defaults,${FSTAB_OPTIONS}${extra}`
      if (a.engine === 'btrfs' && input.deviceHints) {
        const hints = a.members.filter((m) => m.device !== 'missing').map((m) => `device=${m.byId ?? m.device}`)
        options += `,${hints.join(',')}`
      }
      const fstab = path.join(root, 'etc/fstab')
      const before = readOr(fstab, '')
      const merged = mergeFstab(before, {spec: `UUID=${fsUuid}`, mountpoint: input.mountpoint, fstype: fsType, options, pass: fsType === 'btrfs' ? 0 : 2})
      const change: FileChange = {file: fstab, action: merged.action, lines: merged.lines}
      if (merged.conflict) result.notes.push(merged.conflict)
      if (merged.action !== 'unchanged' && !input.dryRun) change.backup = writeAtomic(fstab, merged.text)
      result.fstab = change
    }
  } else {
    result.notes.push('no --mountpoint given: fstab left unchanged')
  }
  return result
}
