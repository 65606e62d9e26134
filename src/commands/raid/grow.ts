import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {confirmByName} from '../../cli/prompt.js'
import {UsageError} from '../../errors.js'
import {guardNewDevice} from '../../raid/cli-support.js'
import type {ArrayStatus, EngineName, RaidLevel} from '../../raid/engine.js'
import {arrayRef, findArray} from '../../raid/engines.js'
import {renderStatus} from '../../raid/status-view.js'

const LEVELS = ['0', '1', '4', '5', '6', '10', '1c3', '1c4']

export default class RaidGrow extends BaseCommand<typeof RaidGrow> {
  static override description = `Grow an array onto more disks and optionally change its level. md: mdadm --add then --grow --raid-devices=N [--level=L] (a reshape runs in the background; raid status shows it). btrfs: device add, then balance convert for --level (in the background).
A reshape rewrites the whole array: shows the plan, then asks to type the array name (or --confirm NAME / --yes). Have a backup first.`
  static override examples = ['<%= config.bin %> raid grow md0 --add /dev/sdf --confirm md0', '<%= config.bin %> raid grow data --add /dev/sdf --level 5 --dry-run']
  static override args = {
    array: Args.string({description: 'Array name or device.', required: true}),
  }
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
    add: Flags.string({description: 'Disk to add (repeatable).', multiple: true, default: []}),
    level: Flags.string({description: 'New RAID level.', options: LEVELS}),
    confirm: Flags.string({description: 'The array name, to confirm without a prompt.'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Only show the plan.'}),
    force: Flags.boolean({description: 'Use new disks even though they hold a filesystem or partition table.'}),
  }

  async run(): Promise<{array: ArrayStatus; plan: string[]; dryRun: boolean}> {
    const add = this.flags.add ?? []
    const level = this.flags.level as RaidLevel | undefined
    if (add.length === 0 && !level) throw new UsageError('nothing to do: pass --add DEV (repeatable) and/or --level L', {code: 'NOTHING_TO_DO'})
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    if (status.health !== 'healthy') throw new UsageError(`${status.name} is ${status.health}; repair it before growing`, {code: 'ARRAY_NOT_HEALTHY'})
    for (const d of add) await guardNewDevice(d, {force: this.flags.force})
    const plan: string[] = []
    if (engine.name === 'md') {
      for (const d of add) plan.push(`mdadm ${status.device} --add ${d}`)
      const n = (status.expectedMembers ?? 0) + add.length
      plan.push(`mdadm --grow ${status.device}${level ? ` --level=${level}` : ''}${add.length > 0 ? ` --raid-devices=${n}` : ''}`)
    } else {
      for (const d of add) plan.push(`btrfs device add ${d} ${status.mountpoint ?? '(not mounted)'}`)
      if (level) plan.push(`btrfs balance start --bg -dconvert=… -mconvert=… ${status.mountpoint ?? ''} (to level ${level})`)
    }
    if (!this.jsonEnabled()) for (const l of plan) this.log(l)
    if (this.flags['dry-run']) return {array: status, plan, dryRun: true}
    await confirmByName(this.prompts, {name: status.name, action: `grow ${status.name}${level ? ` to level ${level}` : ''}`, confirm: this.flags.confirm})
    const after = await engine.grow(arrayRef(status), {add, level})
    if (!this.jsonEnabled()) this.log(`\n${renderStatus(after)}`)
    return {array: after, plan, dryRun: false}
  }
}
