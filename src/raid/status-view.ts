import {formatBytes, formatDuration} from '../progress.js'
import type {ArrayProgress, ArrayStatus, MemberStatus} from './engine.js'

/**
 * zpool-status style explanation and rendering of an ArrayStatus. Plain module (no oclif): engines call
 * `explain` to fill the status/action lines, commands call `renderStatus` for human output.
 */

export function needsAttention(s: ArrayStatus): boolean {
  return s.health === 'degraded' || s.health === 'rebuilding' || s.health === 'failed' || s.health === 'inactive'
}

const cmdName = (s: ArrayStatus) => (/\s/.test(s.name) ? JSON.stringify(s.name) : s.name)

export function explain(s: ArrayStatus): {status: string[]; action: string[]} {
  const status: string[] = []
  const action: string[] = []
  const n = cmdName(s)
  const faulty = s.members.filter((m) => m.role === 'faulty')
  const gone = s.members.filter((m) => m.role === 'removed' || m.role === 'missing')
  const spares = s.members.filter((m) => m.role === 'spare')
  const active = s.members.filter((m) => m.role === 'active').length
  const of = s.expectedMembers === undefined ? '' : ` (${active} of ${s.expectedMembers} members working)`
  switch (s.health) {
    case 'failed': {
      status.push(`Too many devices have failed or are missing for ${s.level} to keep running${of}. Data on this array is not reachable.`)
      action.push('Do not write to the remaining disks. Check cables and power first; if a disk came back, re-add it.')
      action.push('Otherwise image the surviving disks before any forced assembly, and restore from backup (lifeboat backup restore).')
      break
    }
    case 'inactive': {
      status.push('The array is assembled but not running (inactive): some members were not found at assembly time.')
      action.push(`Check that every disk is connected (lifeboat raid doctor), then start it: mdadm --run ${s.device ?? n}.`)
      break
    }
    case 'rebuilding': {
      status.push(`One or more devices are being rebuilt${of}. The array has no redundancy until the rebuild finishes.`)
      action.push('Wait for the rebuild to finish; do not remove or disturb the other disks meanwhile.')
      action.push(`Follow it with: lifeboat raid status ${n}`)
      break
    }
    case 'degraded': {
      const what = faulty.length > 0 ? 'One or more devices have failed' : 'One or more devices are missing'
      status.push(`${what}${of}; the array keeps running without full redundancy.`)
      if (spares.length > 0 && s.engine === 'md') {
        action.push(`A spare is present but no rebuild runs: check the kernel log; lifeboat raid status ${n} again in a minute.`)
      } else if (faulty.length > 0 || gone.length > 0) {
        const old = faulty[0]?.device ?? (gone[0]?.device === 'missing' && gone[0].slot !== undefined && s.engine === 'btrfs' ? String(gone[0].slot) : gone[0]?.device)
        action.push(`Replace the failed disk: lifeboat raid replace ${n} ${old && old !== 'missing' ? old : 'OLD'} NEW-DEVICE --wait`)
        if (s.engine === 'md') action.push(`(or: lifeboat raid remove ${n} OLD, then lifeboat raid add ${n} NEW-DEVICE)`)
      } else {
        action.push(`Add a disk to rebuild onto: lifeboat raid add ${n} NEW-DEVICE`)
      }
      break
    }
    default:
      break
  }
  if (s.health === 'healthy' && faulty.length > 0) {
    status.push(`${faulty.map((m) => m.device).join(', ')} ${faulty.length === 1 ? 'is' : 'are'} marked faulty but no longer needed by the array.`)
    action.push(`Remove ${faulty.length === 1 ? 'it' : 'them'}: lifeboat raid remove ${n} ${faulty[0].device}`)
  }
  const erring = s.members.filter((m) => totalErrors(m) > 0)
  if (erring.length > 0) {
    status.push(`${erring.map((m) => `${m.device} (${totalErrors(m)} errors)`).join(', ')} reported I/O or checksum errors.`)
    action.push(`Check the disk's health (smartctl -a), cabling and power; after a scrub (lifeboat raid scrub start ${n}) consider replacing it.`)
  }
  if (s.mismatchCount !== undefined && s.mismatchCount > 0 && (!s.progress || (s.progress.action !== 'check' && s.progress.action !== 'repair'))) {
    status.push(`The last check found ${s.mismatchCount} mismatched sectors between copies/parity.`)
    action.push(`Repair them: lifeboat raid scrub start ${n} --repair (then check again).`)
  }
  if (s.progress && s.health === 'healthy') {
    if (s.progress.action === 'check' || s.progress.action === 'scrub') status.push('A consistency check (scrub) is in progress.')
    if (s.progress.action === 'repair') status.push('A repair is in progress.')
    if (s.progress.action === 'reshape' || s.progress.action === 'balance') status.push('The array is being reshaped; it stays usable meanwhile.')
    if (s.progress.action === 'resync') status.push('An initial or post-crash resync is in progress; redundancy is complete once it finishes.')
  }
  return {status, action}
}

export function totalErrors(m: MemberStatus): number {
  const e = m.errors
  if (!e) return 0
  return e.read + e.write + (e.flush ?? 0) + (e.corruption ?? 0) + (e.generation ?? 0)
}

export function describeProgress(p: ArrayProgress): string {
  const parts: string[] = [`${p.action} in progress`]
  if (p.note) parts[0] = `${p.action} ${p.note.toLowerCase()}`
  parts.push(`${p.percent.toFixed(1)}% done`)
  if (p.doneBytes !== undefined && p.totalBytes !== undefined) parts.push(`${formatBytes(p.doneBytes)} of ${formatBytes(p.totalBytes)}`)
  if (p.speedBytesPerSec !== undefined) parts.push(`${formatBytes(p.speedBytesPerSec)}/s`)
  if (p.etaSeconds !== undefined) parts.push(`ETA ${formatDuration(p.etaSeconds)}`)
  return parts.join(', ')
}

function pad(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - s.length))
}

function errText(m: MemberStatus): string {
  const e = m.errors
  if (!e) return '-'
  const parts = [e.read, e.write]
  if (e.corruption !== undefined) parts.push(e.corruption)
  return parts.join('/')
}

/** Renders one array like `zpool status`. `colour` wraps state words (identity when colours are off). */
export function renderStatus(s: ArrayStatus, colour: (c: 'red' | 'green' | 'yellow' | 'bold', t: string) => string = (_c, t) => t): string {
  const lines: string[] = []
  const lbl = (l: string) => l.padStart(7)
  const stateWord = s.health.toUpperCase()
  const col = s.health === 'healthy' ? 'green' : s.health === 'rebuilding' || s.health === 'degraded' ? 'yellow' : 'red'
  const where = [s.engine === 'md' ? `md ${s.level}` : `btrfs ${s.level}`, s.device, s.mountpoint ? `mounted on ${s.mountpoint}` : undefined]
    .filter(Boolean)
    .join(', ')
  lines.push(`${lbl('array:')} ${s.name} (${where})`)
  lines.push(`${lbl('state:')} ${colour(col, stateWord)}  (${s.state})`)
  if (s.uuid) lines.push(`${lbl('uuid:')} ${s.uuid}`)
  if (s.sizeBytes !== undefined) lines.push(`${lbl('size:')} ${formatBytes(s.sizeBytes)}`)
  s.status.forEach((t, i) => lines.push(`${i === 0 ? lbl('status:') : ' '.repeat(7)} ${t}`))
  s.action.forEach((t, i) => lines.push(`${i === 0 ? lbl('action:') : ' '.repeat(7)} ${t}`))
  lines.push(`${lbl('scan:')} ${s.progress ? describeProgress(s.progress) : 'none in progress'}`)
  if (s.bitmap !== undefined) lines.push(`${lbl('bitmap:')} ${s.bitmap}`)
  if (s.mismatchCount !== undefined) lines.push(`mismatches: ${s.mismatchCount}`)
  lines.push('config:')
  lines.push('')
  const rows = s.members.map((m) => [m.device, m.role, m.state || '-', m.slot === undefined ? '-' : String(m.slot), m.sizeBytes === undefined ? '-' : formatBytes(m.sizeBytes), errText(m), m.serial ?? m.byId ?? '-'])
  const headers = ['DEVICE', 'ROLE', 'STATE', 'SLOT', 'SIZE', s.engine === 'btrfs' ? 'ERR R/W/CSUM' : 'ERRORS', 'SERIAL']
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const fmt = (r: string[], roleCol?: string) =>
    '\t' +
    r
      .map((c, i) => {
        const text = i === r.length - 1 ? c : pad(c, widths[i])
        return i === 1 && roleCol ? colour(roleCol as 'red', text) : text
      })
      .join('  ')
      .trimEnd()
  lines.push(fmt(headers))
  for (const [i, r] of rows.entries()) {
    const role = s.members[i].role
    const rc = role === 'active' ? undefined : role === 'faulty' || role === 'missing' || role === 'removed' ? 'red' : 'yellow'
    lines.push(fmt(r, rc))
  }
  if (s.children && s.children.length > 0) {
    lines.push('')
    lines.push('built from:')
    for (const c of s.children) lines.push(...renderStatus(c, colour).split('\n').map((l) => `    ${l}`))
  }
  return lines.join('\n')
}

/** One line per array for `raid list`. */
export function listRow(s: ArrayStatus): string[] {
  const active = s.members.filter((m) => m.role === 'active').length
  return [
    s.name,
    s.engine,
    s.level,
    s.health.toUpperCase(),
    s.expectedMembers === undefined ? String(active) : `${active}/${s.expectedMembers}`,
    s.sizeBytes === undefined ? '-' : formatBytes(s.sizeBytes),
    s.device ?? '-',
    s.mountpoint ?? '-',
    s.progress ? `${s.progress.action} ${s.progress.percent.toFixed(1)}%` : '',
  ]
}
