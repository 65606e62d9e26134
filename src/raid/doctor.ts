import path from 'node:path'

import {LifeboatError} from '../errors.js'
import type {Runner} from '../exec/runner.js'
import {type Disk, type DiskEnv, listDisks, readText, sysRoot} from './disks.js'

/**
 * `raid doctor`: the things that take USB RAID on a Raspberry Pi down — USB bridges that reset under UAS,
 * under-voltage, drives that retry a bad sector longer than the kernel waits, enclosures that give every disk
 * the same serial. Reads sysfs (through the root dir), dmesg, vcgencmd and smartctl (through the Runner).
 */

export type Severity = 'ok' | 'info' | 'warning' | 'error'

export interface Finding {
  severity: Severity
  code: string
  /** The disk, bridge or board the finding is about. */
  subject: string
  message: string
  fix?: string
}

export interface DoctorDisk {
  path: string
  identity: string
  transport?: string
  model?: string
  serial?: string
  usbBridge?: Disk['usbBridge']
  sctErc?: {read: number | 'disabled' | 'unsupported'; write: number | 'disabled' | 'unsupported'}
  /** /sys/block/X/device/timeout in seconds. */
  kernelTimeout?: number
}

export interface Throttled {
  raw: string
  value: number
  now: string[]
  sinceBoot: string[]
}

export interface RaidDoctorReport {
  disks: DoctorDisk[]
  throttled?: Throttled
  dmesg: {read: boolean; uasAborts: number; usbResets: number; ioErrors: number; underVoltage: number}
  findings: Finding[]
  /** Worst severity found. */
  worst: Severity
}

/** Bridges with many reports of UAS trouble (resets, hangs) on the Raspberry Pi kernel. */
export const KNOWN_UAS_QUIRKS: Record<string, string> = {
  '174c:55aa': 'ASMedia ASM1051E/ASM1053E/ASM1153E',
  '152d:0578': 'JMicron JMS578',
  '152d:1561': 'JMicron JMS561',
  '0bc2:2312': 'Seagate Expansion',
  '0bc2:231a': 'Seagate Expansion',
  '0bc2:ab38': 'Seagate Backup Plus',
}

const THROTTLE_BITS: Array<[number, string]> = [
  [0, 'under-voltage'],
  [1, 'ARM frequency capped'],
  [2, 'throttled'],
  [3, 'soft temperature limit'],
  [16, 'under-voltage'],
  [17, 'ARM frequency capped'],
  [18, 'throttled'],
  [19, 'soft temperature limit'],
]

/** Decodes `vcgencmd get_throttled` ("throttled=0x50005"). Bits 0-3: now; bits 16-19: since boot. */
export function decodeThrottled(text: string): Throttled | undefined {
  const m = /throttled=(0x[0-9a-f]+|\d+)/i.exec(text)
  if (!m) return undefined
  const value = Number(m[1])
  const now: string[] = []
  const sinceBoot: string[] = []
  for (const [bit, name] of THROTTLE_BITS) {
    if ((value & (1 << bit)) !== 0) (bit < 16 ? now : sinceBoot).push(name)
  }
  return {raw: m[1], value, now, sinceBoot}
}

/** Parses `smartctl -l scterc` output: the read/write recovery limits in seconds, disabled or unsupported. */
export function parseScterc(text: string): DoctorDisk['sctErc'] | undefined {
  if (/SCT (Error Recovery Control|Commands?) (command )?not supported/i.test(text) || /SCT ERC.*not supported/i.test(text)) {
    return {read: 'unsupported', write: 'unsupported'}
  }
  if (!/SCT Error Recovery Control/i.test(text)) return undefined
  const one = (which: 'Read' | 'Write'): number | 'disabled' => {
    const m = new RegExp(`${which}:\\s*(Disabled|\\d+)`, 'i').exec(text)
    if (!m || /disabled/i.test(m[1])) return 'disabled'
    return Number(m[1]) / 10 // deciseconds
  }
  return {read: one('Read'), write: one('Write')}
}

export interface DmesgSummary {
  uasAborts: Map<string, number> // by disk name (sda)
  usbResets: Map<string, number> // by USB port (2-1)
  ioErrors: Map<string, number> // by disk name
  underVoltage: number
}

/** Counts the dmesg lines that matter for USB RAID. */
export function scanDmesg(text: string): DmesgSummary {
  const s: DmesgSummary = {uasAborts: new Map(), usbResets: new Map(), ioErrors: new Map(), underVoltage: 0}
  const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)
  for (const line of text.split('\n')) {
    // "sd 0:0:0:0: [sda] tag#12 uas_eh_abort_handler 0 uas-tag 13 inflight: CMD OUT" (the reset handler lines that
    // follow name only the SCSI host, and are the consequence of the same abort).
    let m = /\[(sd[a-z]+)\].*uas_eh_abort_handler/.exec(line)
    if (m) inc(s.uasAborts, m[1])
    else if (/uas_eh_abort_handler/.test(line)) inc(s.uasAborts, '?')
    m = /usb (\d+-[\d.]+): reset (?:SuperSpeed|high-speed|full-speed)[\w ]*USB device/.exec(line)
    if (m) inc(s.usbResets, m[1])
    m = /I\/O error, dev (sd[a-z]+|nvme\w+|mmcblk\d+)/.exec(line)
    if (m) inc(s.ioErrors, m[1])
    if (/Under-?voltage detected/i.test(line)) s.underVoltage++
  }
  return s
}

async function tryRun(runner: Runner, cmd: string, args: string[]): Promise<{out?: string; missing?: boolean; error?: string}> {
  try {
    const r = await runner.run(cmd, args, {okExitCodes: Array.from({length: 256}, (_, i) => i), timeoutMs: 30_000})
    return {out: r.stdout + (r.code === 0 ? '' : r.stderr)}
  } catch (error) {
    if (error instanceof LifeboatError && error.code === 'TOOL_MISSING') return {missing: true}
    return {error: error instanceof Error ? error.message : String(error)}
  }
}

const ORDER: Severity[] = ['ok', 'info', 'warning', 'error']

export async function runRaidDoctor(env: DiskEnv & {runner: Runner; disks?: Disk[]}): Promise<RaidDoctorReport> {
  const root = sysRoot(env)
  const disks = (env.disks ?? (await listDisks(env))).filter((d) => d.kind === 'disk')
  const findings: Finding[] = []
  const add = (f: Finding) => findings.push(f)
  const report: RaidDoctorReport = {disks: [], dmesg: {read: false, uasAborts: 0, usbResets: 0, ioErrors: 0, underVoltage: 0}, findings, worst: 'ok'}

  // dmesg
  const dm = await tryRun(env.runner, 'dmesg', [])
  let dmesg: DmesgSummary | undefined
  if (dm.out !== undefined && !/Operation not permitted|dmesg: read kernel buffer failed/i.test(dm.out)) {
    dmesg = scanDmesg(dm.out)
    report.dmesg = {
      read: true,
      uasAborts: [...dmesg.uasAborts.values()].reduce((a, b) => a + b, 0),
      usbResets: [...dmesg.usbResets.values()].reduce((a, b) => a + b, 0),
      ioErrors: [...dmesg.ioErrors.values()].reduce((a, b) => a + b, 0),
      underVoltage: dmesg.underVoltage,
    }
  } else {
    add({severity: 'info', code: 'DMESG_UNREADABLE', subject: 'kernel log', message: `cannot read the kernel log${dm.error ? ` (${dm.error})` : ''}; USB reset checks skipped`, fix: 'run raid doctor as root'})
  }

  // Disks and their USB bridges.
  const quirkAdvice = (vid: string, pid: string) =>
    `add usb-storage.quirks=${vid}:${pid}:u to the kernel command line (Raspberry Pi OS: the single line in /boot/firmware/cmdline.txt, older releases /boot/cmdline.txt; elsewhere GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub) and reboot: the bridge then uses usb-storage instead of UAS (a little slower, but stable)`
  for (const d of disks) {
    const dd: DoctorDisk = {path: d.path, identity: d.identity, transport: d.transport, model: d.model, serial: d.serial, usbBridge: d.usbBridge}
    report.disks.push(dd)
    const b = d.usbBridge
    if (b) {
      const id = `${b.vendorId}:${b.productId}`
      const known = KNOWN_UAS_QUIRKS[id]
      const aborts = (dmesg?.uasAborts.get(d.name) ?? 0)
      const resets = dmesg?.usbResets.get(b.port) ?? 0
      const subject = `${d.path} (USB ${id}${known ? ` ${known}` : b.product ? ` ${b.product}` : ''}, driver ${b.driver ?? 'unknown'})`
      if ((aborts > 0 || resets > 0) && b.driver === 'uas') {
        add({
          severity: 'warning',
          code: 'UAS_RESETS',
          subject,
          message: `the kernel log shows ${aborts} UAS abort(s) and ${resets} USB reset(s) for this bridge: it is failing under UAS, and an md/btrfs array will drop the disk`,
          fix: quirkAdvice(b.vendorId, b.productId),
        })
      } else if (aborts > 0 || resets > 0) {
        add({
          severity: 'warning',
          code: 'USB_RESETS',
          subject,
          message: `the kernel log shows ${resets} USB reset(s) for this disk although it already uses ${b.driver ?? 'its driver'}`,
          fix: 'check the power supply (a powered hub or an enclosure with its own power), the cable and the port (prefer the USB 3 ports directly on the board)',
        })
      } else if (known && b.driver === 'uas') {
        add({severity: 'info', code: 'UAS_KNOWN_BRIDGE', subject, message: `${known} bridges often reset under UAS on the Raspberry Pi; no resets in the current kernel log`, fix: `if the disk drops out under load: ${quirkAdvice(b.vendorId, b.productId)}`})
      } else {
        add({severity: 'ok', code: 'USB_BRIDGE', subject, message: 'no UAS aborts or USB resets in the kernel log'})
      }
    }
    const io = dmesg?.ioErrors.get(d.name) ?? 0
    if (io > 0) add({severity: 'warning', code: 'IO_ERRORS', subject: d.path, message: `${io} I/O error line(s) in the kernel log`, fix: `check the SMART data (smartctl -a ${d.path}), the cable and the power`})

    // SCT ERC vs the kernel's command timeout.
    const timeoutText = readText(path.join(root, 'sys/block', d.name, 'device/timeout'))
    if (timeoutText !== undefined) dd.kernelTimeout = Number(timeoutText)
    if (dd.kernelTimeout === undefined) continue
    const sm = await tryRun(env.runner, 'smartctl', [...(d.usb ? ['-d', 'sat'] : []), '-l', 'scterc', d.path])
    if (sm.missing) {
      add({severity: 'info', code: 'SMARTCTL_MISSING', subject: d.path, message: 'smartctl is not installed: the drive error-recovery timeout (SCT ERC) was not checked', fix: 'sudo apt-get install smartmontools'})
      continue
    }
    const erc = sm.out === undefined ? undefined : parseScterc(sm.out)
    dd.sctErc = erc
    const limit = erc && typeof erc.read === 'number' ? erc.read : undefined
    if (limit !== undefined && limit < dd.kernelTimeout) {
      add({severity: 'ok', code: 'SCT_ERC', subject: d.path, message: `the drive gives up on a bad sector after ${limit} s, before the kernel's ${dd.kernelTimeout} s timeout`})
    } else if (dd.kernelTimeout < 180) {
      const state = erc === undefined ? 'could not be read' : limit === undefined ? (erc.read === 'unsupported' ? 'is not supported' : 'is disabled') : `is ${limit} s`
      add({
        severity: 'warning',
        code: 'TIMEOUT_MISMATCH',
        subject: d.path,
        message: `SCT error recovery control ${state} while the kernel waits only ${dd.kernelTimeout} s: a desktop drive can retry a bad sector for up to two minutes, the kernel resets the link first and RAID drops the whole disk instead of repairing one sector`,
        fix:
          erc?.read === 'disabled'
            ? `smartctl -l scterc,70,70 ${d.path} (7 s; repeat at every boot, e.g. a udev rule), or raise the kernel timeout: echo 180 > /sys/block/${d.name}/device/timeout`
            : `echo 180 > /sys/block/${d.name}/device/timeout (make it permanent with a udev rule: ACTION=="add", SUBSYSTEM=="block", KERNEL=="${d.name}", ATTR{device/timeout}="180")`,
      })
    } else {
      add({severity: 'ok', code: 'SCT_ERC', subject: d.path, message: `the kernel waits ${dd.kernelTimeout} s, longer than a drive's internal retries`})
    }
  }

  // Duplicate serials (multi-bay enclosures).
  const bySerial = new Map<string, Disk[]>()
  for (const d of disks) if (d.serial) bySerial.set(d.serial, [...(bySerial.get(d.serial) ?? []), d])
  for (const [serial, list] of bySerial) {
    if (list.length < 2) continue
    add({
      severity: 'error',
      code: 'DUPLICATE_SERIAL',
      subject: list.map((d) => d.path).join(', '),
      message: `these disks all report the serial "${serial}": the enclosure hides the drives' own serials, so they cannot be told apart by serial or /dev/disk/by-id, and a replaced disk may be mistaken for another`,
      fix: 'use an enclosure that passes the drive serials through (or one disk per enclosure); until then refer to the disks by /dev/disk/by-path and label the bays',
    })
  }

  // Raspberry Pi power.
  const vc = await tryRun(env.runner, 'vcgencmd', ['get_throttled'])
  if (vc.out !== undefined) {
    const t = decodeThrottled(vc.out)
    if (t) {
      report.throttled = t
      if (t.now.includes('under-voltage')) {
        add({severity: 'error', code: 'UNDER_VOLTAGE_NOW', subject: 'power supply', message: `the board is under-voltage right now (get_throttled=${t.raw}): USB disks brown out and drop from the array`, fix: 'use the official 5.1 V/3 A (Pi 4) or 5 V/5 A (Pi 5) supply and power the disks from a powered hub or their own supply'})
      } else if (t.sinceBoot.includes('under-voltage')) {
        add({severity: 'warning', code: 'UNDER_VOLTAGE', subject: 'power supply', message: `under-voltage has occurred since boot (get_throttled=${t.raw})`, fix: 'use a stronger supply and a powered USB hub for the disks'})
      }
      const other = [...new Set([...t.now, ...t.sinceBoot].filter((x) => x !== 'under-voltage'))]
      if (other.length > 0) add({severity: 'info', code: 'THROTTLED', subject: 'board', message: `${other.join(', ')} (get_throttled=${t.raw})`, fix: 'improve cooling (heatsink, fan, case airflow)'})
      if (t.value === 0) add({severity: 'ok', code: 'POWER', subject: 'power supply', message: 'no under-voltage or throttling since boot'})
    }
  }
  if (dmesg && dmesg.underVoltage > 0 && !report.throttled) {
    add({severity: 'warning', code: 'UNDER_VOLTAGE', subject: 'power supply', message: `the kernel log reports under-voltage ${dmesg.underVoltage} time(s)`, fix: 'use a stronger supply and a powered USB hub for the disks'})
  }
  if (disks.length === 0) add({severity: 'info', code: 'NO_DISKS', subject: 'disks', message: 'no disks found (loop devices are not checked)'})
  report.worst = findings.reduce<Severity>((w, f) => (ORDER.indexOf(f.severity) > ORDER.indexOf(w) ? f.severity : w), 'ok')
  return report
}
