import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {chooseEngine, renderPlan} from '../../cli/raid-render.js'
import {UsageError} from '../../errors.js'
import {guardDisks, listDisks, resolveDisk, sysRoot} from '../../raid/disks.js'
import type {RaidLevel} from '../../raid/engine.js'
import {parseDiskList, type Plan, type PlanDisk, planArray} from '../../raid/plan.js'

export default class RaidPlan extends BaseCommand<typeof RaidPlan> {
  static override description = `What an array would give you: usable capacity (mixed sizes included), which failures it survives, rebuild time, the chance of an unrecoverable read error during a rebuild, and MTTDL.
Sizes for --disks are decimal, as disks are sold: 4T = 4,000,000,000,000 bytes (write 4TiB for binary). Nothing is changed on any disk.`
  static override examples = [
    '<%= config.bin %> raid plan --level 5 --disks 4T,4T,4T,2T',
    '<%= config.bin %> raid plan --level 1 --engine btrfs --disks 1T,2T,3T',
    '<%= config.bin %> raid plan --level 10 --disks 4x4T --ure 1e15 --rebuild-mbps 150 --afr 0.015 --json',
    '<%= config.bin %> raid plan --level 6 --devices /dev/sdb /dev/sdc /dev/sdd /dev/sde',
  ]
  static override flags = {
    level: Flags.string({char: 'l', description: 'RAID level: 0, 1, 4, 5, 6, 10, 0+1, 1+0 (md); 0, 1, 1c3, 1c4, 10, 5, 6 (btrfs).', required: true}),
    disks: Flags.string({description: 'Disk sizes, comma separated: 4T,4T,2T or 3x4T,2T (units K M G T P, decimal; KiB…PiB binary).', exclusive: ['devices']}),
    devices: Flags.string({description: 'Real disks to read the sizes from (/dev/sdb, /dev/disk/by-id/…).', multiple: true, exclusive: ['disks']}),
    engine: Flags.string({description: 'md (Linux software RAID) or btrfs (default: raid.engine from the config, else md).', options: ['md', 'btrfs']}),
    spares: Flags.string({description: 'Hot-spare sizes (with --disks) or devices (with --devices), comma separated.'}),
    ure: Flags.string({description: 'Unrecoverable read error rate: one error per this many bits read (data sheet "1 in 10^14" → 1e14).', default: '1e14'}),
    'rebuild-mbps': Flags.string({description: 'Rebuild speed in MB/s (USB 3 HDD on a Pi: about 100).', default: '100'}),
    afr: Flags.string({description: 'Annual failure rate of one disk (0.02 = 2 % per year).', default: '0.02'}),
  }

  async run(): Promise<Plan> {
    const f = this.flags
    const engine = await chooseEngine(f.engine, () => this.getConfig())
    let disks: PlanDisk[]
    let spares: PlanDisk[] = []
    if (f.disks) {
      disks = parseDiskList(f.disks)
      if (f.spares) spares = parseDiskList(f.spares).map((s, i) => ({...s, name: `s${i + 1}`}))
    } else if (f.devices && f.devices.length > 0) {
      const all = guardDisks(await listDisks())
      const root = sysRoot()
      const toPlan = (spec: string): PlanDisk => {
        const d = resolveDisk(all, spec, root)
        return {name: d.path, sizeBytes: d.sizeBytes, usb: d.usb, rotational: d.rotational}
      }
      disks = f.devices.flatMap((s) => s.split(',')).filter(Boolean).map(toPlan)
      if (f.spares) spares = f.spares.split(',').filter(Boolean).map(toPlan)
    } else {
      throw new UsageError('raid plan needs the disks: pass --disks 4T,4T,2T or --devices DEV…', {code: 'MISSING_FLAG', where: '--disks'})
    }
    const plan = planArray({
      engine,
      level: f.level as RaidLevel,
      disks,
      spares,
      ure: num(f.ure, '--ure'),
      rebuildMBps: num(f['rebuild-mbps'], '--rebuild-mbps'),
      afr: num(f.afr, '--afr'),
    })
    // The warnings are part of the plan; they also go into the envelope's warnings (no exit code change).
    this.warnings.push(...plan.warnings.map((w) => w.message))
    if (!this.jsonEnabled()) this.log(renderPlan(plan))
    return plan
  }

}

function num(text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isFinite(n)) throw new UsageError(`${flag} must be a number, not "${text}"`, {code: 'BAD_FLAG', where: flag})
  return n
}
