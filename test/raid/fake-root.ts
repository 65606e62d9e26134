import fs from 'node:fs'
import path from 'node:path'

import {type Runner, type RunOptions, type RunResult, ToolFailedError, ToolMissingError} from '../../src/exec/runner.js'
import {ROOT, tempDir} from '../helpers/env.js'

export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'raid')

interface MachineDisk {
  name: string
  majMin: string
  sectors: number
  removable?: number
  rotational?: number
  model?: string
  vendor?: string
  timeout?: number
  vpdSerial?: string
  serialFile?: string
  holders?: string[]
  path?: string
  usb?: {port: string; iface: string; vid: string; pid: string; driver: string; product?: string; manufacturer?: string}
  partitions?: Array<{name: string; majMin: string; sectors: number; holders?: string[]}>
}

export interface Machine {
  disks: MachineDisk[]
  classOnly?: Array<{name: string; majMin: string; slaves?: string[]}>
  byId?: Record<string, string>
  byPath?: Record<string, string>
  mountinfo?: string[]
  swaps?: string[]
  btrfsMounted?: Record<string, string[]>
}

export function loadMachine(name: string): Machine {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'machine.json'), 'utf8')) as Machine
}

function write(file: string, text: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), {recursive: true})
  fs.writeFileSync(file, text)
}

/**
 * Builds a fake root (sys/block symlinks into sys/devices, sys/class/block, proc/self/mountinfo, proc/swaps,
 * dev/disk/by-id|by-path) from a machine description, the way the kernel lays sysfs out.
 */
export function buildFakeRoot(m: Machine, dir = tempDir('lifeboat-sys-')): string {
  for (const d of m.disks) {
    let rel: string
    if (d.usb) {
      const u = d.usb
      const bus = u.port.split('-')[0]
      const usbDir = `platform/scb/fd500000.pcie/pci0000:00/0000:00:00.0/0000:01:00.0/usb${bus}/${u.port}`
      write(path.join(dir, 'sys/devices', usbDir, 'idVendor'), `${u.vid}\n`)
      write(path.join(dir, 'sys/devices', usbDir, 'idProduct'), `${u.pid}\n`)
      if (u.product) write(path.join(dir, 'sys/devices', usbDir, 'product'), `${u.product}\n`)
      if (u.manufacturer) write(path.join(dir, 'sys/devices', usbDir, 'manufacturer'), `${u.manufacturer}\n`)
      const drv = path.join(dir, 'sys/bus/usb/drivers', u.driver)
      fs.mkdirSync(drv, {recursive: true})
      fs.mkdirSync(path.join(dir, 'sys/devices', usbDir, u.iface), {recursive: true})
      const link = path.join(dir, 'sys/devices', usbDir, u.iface, 'driver')
      if (!fs.existsSync(link)) fs.symlinkSync(path.relative(path.dirname(link), drv), link)
      const lun = d.name.charCodeAt(2) - 97
      rel = `${usbDir}/${u.iface}/host${lun}/target${lun}:0:0/${lun}:0:0:0/block/${d.name}`
    } else {
      rel = d.path ?? `virtual/block/${d.name}`
    }
    const abs = path.join(dir, 'sys/devices', rel)
    fs.mkdirSync(abs, {recursive: true})
    write(path.join(abs, 'size'), `${d.sectors}\n`)
    write(path.join(abs, 'dev'), `${d.majMin}\n`)
    write(path.join(abs, 'removable'), `${d.removable ?? 0}\n`)
    write(path.join(abs, 'ro'), '0\n')
    write(path.join(abs, 'queue/rotational'), `${d.rotational ?? 1}\n`)
    fs.mkdirSync(path.join(abs, 'holders'), {recursive: true})
    for (const h of d.holders ?? []) write(path.join(abs, 'holders', h), '')
    if (d.model) write(path.join(abs, 'device/model'), `${d.model.padEnd(16)}\n`)
    if (d.vendor) write(path.join(abs, 'device/vendor'), `${d.vendor.padEnd(8)}\n`)
    if (d.timeout !== undefined) write(path.join(abs, 'device/timeout'), `${d.timeout}\n`)
    if (d.serialFile) write(path.join(abs, 'serial'), `${d.serialFile}\n`)
    if (d.vpdSerial) {
      const s = Buffer.from(d.vpdSerial, 'latin1')
      const head = Buffer.from([0, 0x80, 0, s.length])
      write(path.join(abs, 'device/vpd_pg80'), Buffer.concat([head, s]))
    }
    for (const p of d.partitions ?? []) {
      write(path.join(abs, p.name, 'partition'), '1\n')
      write(path.join(abs, p.name, 'size'), `${p.sectors}\n`)
      write(path.join(abs, p.name, 'dev'), `${p.majMin}\n`)
      fs.mkdirSync(path.join(abs, p.name, 'holders'), {recursive: true})
      for (const h of p.holders ?? []) write(path.join(abs, p.name, 'holders', h), '')
      classLink(dir, p.name, path.join(abs, p.name))
    }
    fs.mkdirSync(path.join(dir, 'sys/block'), {recursive: true})
    fs.symlinkSync(path.join('..', 'devices', rel), path.join(dir, 'sys/block', d.name))
    classLink(dir, d.name, abs)
  }
  for (const c of m.classOnly ?? []) {
    const abs = path.join(dir, 'sys/devices/virtual/block', c.name)
    write(path.join(abs, 'dev'), `${c.majMin}\n`)
    fs.mkdirSync(path.join(abs, 'slaves'), {recursive: true})
    for (const s of c.slaves ?? []) write(path.join(abs, 'slaves', s), '')
    classLink(dir, c.name, abs)
  }
  for (const [kind, links] of [['by-id', m.byId], ['by-path', m.byPath]] as const) {
    fs.mkdirSync(path.join(dir, 'dev/disk', kind), {recursive: true})
    for (const [link, target] of Object.entries(links ?? {})) fs.symlinkSync(`../../${target}`, path.join(dir, 'dev/disk', kind, link))
  }
  write(path.join(dir, 'proc/self/mountinfo'), (m.mountinfo ?? []).join('\n') + '\n')
  write(path.join(dir, 'proc/swaps'), (m.swaps ?? ['Filename\tType\tSize\tUsed\tPriority']).join('\n') + '\n')
  fs.mkdirSync(path.join(dir, 'sys/fs/btrfs'), {recursive: true})
  for (const [uuid, devs] of Object.entries(m.btrfsMounted ?? {})) {
    for (const d of devs) write(path.join(dir, 'sys/fs/btrfs', uuid, 'devices', d), '')
  }
  return dir
}

function classLink(dir: string, name: string, abs: string): void {
  const cls = path.join(dir, 'sys/class/block')
  fs.mkdirSync(cls, {recursive: true})
  fs.symlinkSync(path.relative(cls, abs), path.join(cls, name))
}

export type FakeReply = {stdout?: string; stderr?: string; code?: number} | 'missing'

/**
 * A Runner that answers from recorded outputs: `replies` maps "cmd arg1 arg2" (or just "cmd") to the output.
 * blkid answers from <fixture>/blkid/<name> (exit 2, no output, when the file is absent: nothing found).
 * Every call is recorded in `calls`.
 */
export class FakeRunner implements Runner {
  readonly calls: string[][] = []
  constructor(
    private readonly replies: Record<string, FakeReply> = {},
    private readonly blkidDir?: string,
  ) {}

  async run(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push([command, ...args])
    const key = [command, ...args].join(' ')
    let reply: FakeReply | undefined = this.replies[key] ?? this.replies[command]
    if (reply === undefined && command === 'blkid' && this.blkidDir) {
      const file = path.join(this.blkidDir, path.basename(args.at(-1)!))
      reply = fs.existsSync(file) ? {stdout: fs.readFileSync(file, 'utf8')} : {code: 2}
    }
    if (reply === undefined || reply === 'missing') throw new ToolMissingError(command)
    const result: RunResult = {command, args, code: reply.code ?? 0, stdout: reply.stdout ?? '', stderr: reply.stderr ?? '', durationMs: 1}
    if (!(opts.okExitCodes ?? [0]).includes(result.code)) throw new ToolFailedError(result)
    return result
  }
}

/** The Pi fixture: its fake root and a runner answering lsblk and blkid from the recorded outputs. */
export function piFixture(extra: Record<string, FakeReply> = {}): {root: string; runner: FakeRunner} {
  const dir = path.join(FIXTURES, 'pi')
  const root = buildFakeRoot(loadMachine('pi'))
  const runner = new FakeRunner({'lsblk -J -b -O': {stdout: fs.readFileSync(path.join(dir, 'lsblk.json'), 'utf8')}, ...extra}, path.join(dir, 'blkid'))
  return {root, runner}
}

/** A fake root for the spawned CLI: LIFEBOAT_SYS_ROOT (test hook) plus lsblk/blkid on PATH answering from fixtures. */
export function cliFixture(tools: Record<string, string> = {}): {env: NodeJS.ProcessEnv; cleanup: () => void} {
  const {root} = piFixture()
  const bin = tempDir('lifeboat-bin-')
  const pi = path.join(FIXTURES, 'pi')
  fs.writeFileSync(path.join(bin, 'lsblk'), `#!/bin/sh\nexec cat '${pi}/lsblk.json'\n`, {mode: 0o755})
  fs.writeFileSync(
    path.join(bin, 'blkid'),
    `#!/bin/sh\nfor a; do dev=$a; done\nf='${pi}/blkid/'$(basename "$dev")\n[ -f "$f" ] && exec cat "$f"\nexit 2\n`,
    {mode: 0o755},
  )
  // Other tools: a script that prints the given text (exit 0).
  for (const [name, text] of Object.entries(tools)) {
    fs.writeFileSync(path.join(bin, `${name}.txt`), text)
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\nexec cat '${bin}/${name}.txt'\n`, {mode: 0o755})
  }
  return {
    env: {LIFEBOAT_SYS_ROOT: root, LIFEBOAT_RAID_ROOT: root, PATH: `${bin}:${process.env.PATH}`, CI: ''},
    cleanup() {
      fs.rmSync(root, {recursive: true, force: true})
      fs.rmSync(bin, {recursive: true, force: true})
    },
  }
}
