import type {ArrayProgress, ArrayStatus, Health, MemberStatus} from '../engine.js'
import {explain} from '../status-view.js'
import type {BtrfsDeviceStats, BtrfsReplaceStatus, BtrfsScrubStatus, BtrfsShowFs, BtrfsUsage} from './parse.js'

export interface BtrfsSources {
  show: BtrfsShowFs
  mountpoint?: string
  usage?: BtrfsUsage
  stats?: BtrfsDeviceStats[]
  scrub?: BtrfsScrubStatus
  replace?: BtrfsReplaceStatus
  balance?: {running: boolean; percentLeft?: number}
}

/** How many missing devices a btrfs profile survives. */
export function profileTolerance(profile: string): number {
  switch (profile.toLowerCase()) {
    case 'raid1':
    case 'raid10':
    case 'raid5':
      return 1
    case 'raid1c3':
    case 'raid6':
      return 2
    case 'raid1c4':
      return 3
    default:
      return 0 // single, dup, raid0
  }
}

export function buildBtrfsStatus(src: BtrfsSources): ArrayStatus {
  const {show, usage, stats, scrub, replace, balance} = src
  const members: MemberStatus[] = []
  for (const d of show.devices) {
    const st = stats?.find((s) => (d.path !== undefined && s.device === d.path) || s.devid === d.devid || s.device === `devid:${d.devid}`)
    const m: MemberStatus = {
      device: d.missing ? 'missing' : d.path!,
      role: d.missing ? 'missing' : d.devid === 0 ? 'replacement' : 'active',
      state: d.missing ? 'missing' : d.devid === 0 ? 'replace target' : 'present',
      slot: d.devid,
    }
    if (d.sizeBytes !== undefined && !d.missing) m.sizeBytes = d.sizeBytes
    if (st) m.errors = {read: st.read, write: st.write, flush: st.flush, corruption: st.corruption, generation: st.generation}
    members.push(m)
  }
  // Unmounted with absent members: `show` lists only the present ones and "*** Some devices missing".
  // While a replace runs, the target shows as devid 0 and counts in "Total devices".
  for (let i = show.devices.length; i < show.totalDevices; i++) members.push({device: 'missing', role: 'missing', state: 'missing'})
  const missing = members.filter((m) => m.role === 'missing').length

  const data = usage?.groups.filter((g) => g.type === 'Data') ?? []
  const meta = usage?.groups.filter((g) => g.type === 'Metadata' || g.type === 'System') ?? []
  const profiles = [...data, ...meta].map((g) => g.profile)
  const tolerance = profiles.length > 0 ? Math.min(...profiles.map(profileTolerance)) : undefined
  const dataProfile = largest(data)?.profile
  const metaProfile = largest(usage?.groups.filter((g) => g.type === 'Metadata') ?? [])?.profile
  const mixed = usage?.multipleProfiles === true || new Set(data.map((g) => g.profile)).size > 1

  let progress: ArrayProgress | undefined
  if (replace?.state === 'running') progress = {action: 'replace', percent: replace.percent ?? 0}
  else if (scrub?.status === 'running') {
    progress = {action: 'scrub', percent: scrub.percent ?? 0, doneBytes: scrub.scrubbedBytes, totalBytes: scrub.totalBytes, speedBytesPerSec: scrub.rateBytesPerSec, etaSeconds: scrub.timeLeftSeconds}
  } else if (balance?.running) progress = {action: 'balance', percent: balance.percentLeft === undefined ? 0 : Math.max(0, 100 - balance.percentLeft)}

  let health: Health
  if (tolerance !== undefined && missing > tolerance) health = 'failed'
  else if (missing > 0) health = progress?.action === 'replace' ? 'rebuilding' : 'degraded'
  else if (mixed && profiles.some((p) => p.toLowerCase() === 'single') && (tolerance === undefined || profiles.some((p) => profileTolerance(p) > 0))) health = 'degraded'
  else health = 'healthy'

  const words = [src.mountpoint ? 'mounted' : 'not mounted', `${show.totalDevices - (show.devices.some((d) => d.devid === 0) ? 1 : 0)} devices`]
  if (dataProfile) words.push(`data ${dataProfile}`)
  if (metaProfile) words.push(`metadata ${metaProfile}`)
  if (missing > 0) words.push(`${missing} missing`)
  if (mixed) words.push('multiple profiles')
  if (scrub?.status && scrub.status !== 'running' && scrub.status !== 'no stats available') words.push(`last scrub ${scrub.status}${scrub.noErrors ? '' : scrub.errorSummary ? ` (${scrub.errorSummary})` : ''}`)

  const ratio = usage?.dataRatio
  const st: ArrayStatus = {
    engine: 'btrfs',
    name: show.label ?? show.uuid,
    device: members.find((m) => m.role === 'active')?.device,
    mountpoint: src.mountpoint,
    uuid: show.uuid,
    level: dataProfile ?? 'unknown',
    sizeBytes: usage?.deviceSize !== undefined && ratio ? Math.round(usage.deviceSize / ratio) : undefined,
    health,
    state: words.join(', '),
    members,
    expectedMembers: show.totalDevices - (show.devices.some((d) => d.devid === 0) ? 1 : 0),
    progress,
    status: [],
    action: [],
  }
  const ex = explain(st)
  st.status = ex.status
  st.action = ex.action
  if (!src.mountpoint) {
    if (missing > 0) st.action.push(`Mount it degraded to repair: mount -o degraded ${st.device ?? 'DEVICE'} /mnt/POINT`)
    else st.status.push('The filesystem is not mounted: error counters, usage and scrub state are not available.')
  }
  if (health === 'degraded' && missing === 0 && mixed) {
    st.status.push('Some block groups use the "single" profile (written while mounted degraded): they have no redundancy.')
    st.action.push(`Convert them back: btrfs balance start -dconvert=${(dataProfile ?? 'raid1').toLowerCase()},soft -mconvert=${(metaProfile ?? 'raid1').toLowerCase()},soft ${src.mountpoint ?? 'MOUNTPOINT'}`)
  }
  if (scrub && !scrub.noErrors && scrub.errorSummary && (scrub.uncorrectable ?? 0) > 0) {
    st.status.push(`The last scrub found ${scrub.uncorrectable} uncorrectable errors (${scrub.errorSummary}).`)
    st.action.push('Restore the affected files from backup (the kernel log names them), then replace the disk.')
  }
  return st
}

function largest<T extends {size: number}>(gs: T[]): T | undefined {
  return gs.reduce<T | undefined>((a, g) => (a === undefined || g.size > a.size ? g : a), undefined)
}
