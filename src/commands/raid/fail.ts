import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {confirmByName} from '../../cli/prompt.js'
import {UsageError} from '../../errors.js'
import type {ArrayStatus, EngineName} from '../../raid/engine.js'
import {findArray} from '../../raid/engines.js'
import {mdTolerance} from '../../raid/md/status.js'
import {renderStatus} from '../../raid/status-view.js'

export interface MemberChangeResult {
  array: ArrayStatus
  plan: string[]
  dryRun: boolean
}

export default class RaidFail extends BaseCommand<typeof RaidFail> {
  static override description = `Mark a member of an md array faulty (to take a disk out on purpose, e.g. before replacing it). Destructive: the array loses redundancy.
Shows the plan, then asks to type the array name (or --confirm NAME / --yes). Refuses when the array is not healthy unless --force.`
  static override examples = ['<%= config.bin %> raid fail md0 /dev/sdc --dry-run', '<%= config.bin %> raid fail md0 /dev/sdc --confirm md0']
  static override args = {
    array: Args.string({description: 'Array name or device.', required: true}),
    device: Args.string({description: 'The member to mark faulty.', required: true}),
  }
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
    confirm: Flags.string({description: 'The array name, to confirm without a prompt.'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Only show the plan.'}),
    force: Flags.boolean({description: 'Also when the array is already degraded (it may stop working).'}),
  }

  async run(): Promise<MemberChangeResult> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    if (engine.name === 'btrfs') {
      throw new UsageError('btrfs cannot mark a device faulty', {code: 'UNSUPPORTED', hint: `use lifeboat raid replace ${status.name} OLD NEW, or lifeboat raid remove ${status.name} DEVICE`})
    }
    const active = status.members.filter((m) => m.role === 'active').length
    const tol = mdTolerance(status.level, status.expectedMembers)
    const survives = tol === undefined || status.expectedMembers === undefined ? undefined : active - 1 >= status.expectedMembers - tol
    const plan = [
      `mdadm ${status.device} --fail ${this.args.device}`,
      `${status.name} (${status.level}, ${status.health}) will run without ${this.args.device}${survives === false ? ' and STOP WORKING: not enough members left' : '; it keeps working degraded until a disk is added'}.`,
    ]
    if (!this.jsonEnabled()) for (const l of plan) this.log(l)
    if ((status.health !== 'healthy' || survives === false) && !this.flags.force) {
      throw new UsageError(`${status.name} is ${status.health}${survives === false ? ' and would fail' : ''}; refusing to take another member out`, {code: 'ARRAY_NOT_HEALTHY', hint: 'pass --force if you really mean it'})
    }
    if (this.flags['dry-run']) return {array: status, plan, dryRun: true}
    await confirmByName(this.prompts, {name: status.name, action: `mark ${this.args.device} faulty in ${status.name}`, confirm: this.flags.confirm})
    const after = await engine.fail(status.device ?? status.name, this.args.device)
    if (!this.jsonEnabled()) this.log(`\n${renderStatus(after)}`)
    return {array: after, plan, dryRun: false}
  }
}
