import fs from 'node:fs'
import path from 'node:path'

import type {ArrayStatus, MemberStatus} from './engine.js'

/**
 * Small, read-only member identity lookup for status output: /dev/disk/by-id names and sysfs serials. (Disk
 * discovery with duplicate-serial refusal lives in src/raid/disks; this only labels members.)
 */

/** Kernel name of a device path ("/dev/sdb" → "sdb", following symlinks such as /dev/disk/by-id/…). */
export function kernelName(device: string): string {
  try {
    return path.basename(fs.realpathSync(device))
  } catch {
    return path.basename(device)
  }
}

/** Size of a block device in bytes from sysfs (/sys/class/block/NAME/size × 512); undefined when unknown. */
export function blockDeviceSize(root: string, device: string): number | undefined {
  try {
    const sectors = fs.readFileSync(path.join(root, 'sys', 'class', 'block', kernelName(device), 'size'), 'utf8').trim()
    return /^\d+$/.test(sectors) ? Number(sectors) * 512 : undefined
  } catch {
    return undefined
  }
}

const BY_ID_PREFERENCE = ['wwn-', 'nvme-eui', 'nvme-', 'ata-', 'usb-', 'scsi-', 'virtio-', 'mmc-']

export function byIdMap(root: string): Map<string, string> {
  const dir = path.join(root, 'dev', 'disk', 'by-id')
  const best = new Map<string, string>()
  let names: string[] = []
  try {
    names = fs.readdirSync(dir)
  } catch {
    return best
  }
  const rank = (n: string) => {
    const i = BY_ID_PREFERENCE.findIndex((p) => n.startsWith(p))
    return i < 0 ? 99 : i
  }
  for (const n of names) {
    let target: string
    try {
      target = path.basename(fs.readlinkSync(path.join(dir, n)))
    } catch {
      continue
    }
    const cur = best.get(target)
    // Serial-bearing names (ata-, usb-) read better than wwn- for people; prefer them for display.
    if (cur === undefined || displayRank(n, rank) < displayRank(cur, rank)) best.set(target, n)
  }
  return best
}

function displayRank(n: string, rank: (n: string) => number): number {
  if (n.startsWith('ata-') || n.startsWith('usb-') || n.startsWith('nvme-') || n.startsWith('virtio-')) return 0
  return rank(n) + 1
}

function serialOf(root: string, name: string): string | undefined {
  // Partitions: the disk is the parent directory in /sys/class/block/NAME/..
  for (const p of [path.join(root, 'sys', 'class', 'block', name, 'device', 'serial'), path.join(root, 'sys', 'class', 'block', name, '..', 'device', 'serial')]) {
    try {
      const s = fs.readFileSync(p, 'utf8').trim()
      if (s) return s
    } catch {
      // not there
    }
  }
  return undefined
}

export function labelMembers(root: string, st: ArrayStatus): ArrayStatus {
  const ids = byIdMap(root)
  const label = (m: MemberStatus) => {
    if (m.device === 'missing' || !m.device.startsWith('/')) return
    const k = kernelName(m.device)
    const id = ids.get(k)
    if (id && m.byId === undefined) m.byId = `/dev/disk/by-id/${id}`
    const serial = serialOf(root, k)
    if (serial && m.serial === undefined) m.serial = serial
  }
  st.members.forEach(label)
  for (const c of st.children ?? []) labelMembers(root, c)
  return st
}
