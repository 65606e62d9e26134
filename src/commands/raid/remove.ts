import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {confirmByName} from '../../cli/prompt.js'
import type {EngineName} from '../../raid/engine.js'
import {arrayRef, findArray} from '../../raid/engines.js'
import {renderStatus} from '../../raid/status-view.js'
import type {MemberChangeResult} from './fail.js'

export default class RaidRemove extends BaseCommand<typeof RaidRemove> {
  static override description = `Remove a member from an array: a faulty or spare md member (mdadm --remove; "failed" or "detached" for members whose disk is gone), or a btrfs device (btrfs device remove moves its data to the others first; "missing" or a devid for an absent one).
Destructive: shows the plan, then asks to type the array name (or --confirm NAME / --yes).`
  static override examples = ['<%= config.bin %> raid remove md0 /dev/sdc --confirm md0', '<%= config.bin %> raid remove md0 detached --yes', '<%= config.bin %> raid remove data missing --engine btrfs --confirm data']
  static override args = {
    array: Args.string({description: 'Array name or device.', required: true}),
    device: Args.string({description: 'The member to remove.', required: true}),
  }
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
    confirm: Flags.string({description: 'The array name, to confirm without a prompt.'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Only show the plan.'}),
  }

  async run(): Promise<MemberChangeResult> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    const d = this.args.device
    const plan =
      engine.name === 'md'
        ? [`mdadm ${status.device} --remove ${d}`, `${d} leaves ${status.name}; its md superblock stays until the disk is wiped or reused.`]
        : [`btrfs device remove ${d} ${status.mountpoint ?? '(not mounted)'}`, `the data on ${d} is moved to the other devices first; that needs enough free space on them.`]
    if (!this.jsonEnabled()) for (const l of plan) this.log(l)
    if (this.flags['dry-run']) return {array: status, plan, dryRun: true}
    await confirmByName(this.prompts, {name: status.name, action: `remove ${d} from ${status.name}`, confirm: this.flags.confirm})
    const after = await engine.remove(arrayRef(status), d)
    if (!this.jsonEnabled()) this.log(`\n${renderStatus(after)}`)
    return {array: after, plan, dryRun: false}
  }
}
