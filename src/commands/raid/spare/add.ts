import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import type {ArrayStatus, EngineName} from '../../../raid/engine.js'
import {arrayRef, findArray} from '../../../raid/engines.js'
import {guardNewDevice} from '../../../raid/cli-support.js'
import {renderStatus} from '../../../raid/status-view.js'

export default class RaidSpareAdd extends BaseCommand<typeof RaidSpareAdd> {
  static override description = `Add a hot spare to an md array: md rebuilds onto it by itself when a member fails (btrfs has no hot spares).
The disk must not be mounted, in another array, or hold a filesystem/partition table (that one only with --force).`
  static override examples = ['<%= config.bin %> raid spare add md0 /dev/sde']
  static override args = {
    array: Args.string({description: 'Array name or device.', required: true}),
    device: Args.string({description: 'The disk to keep as a spare.', required: true}),
  }
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
    force: Flags.boolean({description: 'Use the disk even though it holds a filesystem or partition table (it is overwritten).'}),
  }

  async run(): Promise<{array: ArrayStatus}> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    if (engine.name === 'md' && status.health !== 'healthy') {
      this.addWarning(`${status.name} is ${status.health}: the new disk is used for a rebuild right away rather than kept as a spare`)
    }
    await guardNewDevice(this.args.device, {force: this.flags.force})
    const after = await engine.addSpare(arrayRef(status), this.args.device)
    if (!this.jsonEnabled()) this.log(renderStatus(after))
    return {array: after}
  }
}
