import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import type {ArrayStatus, EngineName} from '../../raid/engine.js'
import {arrayRef, findArray} from '../../raid/engines.js'
import {guardNewDevice} from '../../raid/cli-support.js'
import {renderStatus} from '../../raid/status-view.js'

export default class RaidAdd extends BaseCommand<typeof RaidAdd> {
  static override description = `Add a disk to an array: md uses it to rebuild a degraded array (or keeps it as a spare when nothing is missing); btrfs adds it as a new device.
The disk must not be mounted, in another array, or hold a filesystem/partition table (that one only with --force).`
  static override examples = ['<%= config.bin %> raid add md0 /dev/sde', '<%= config.bin %> raid add data /dev/sdf --engine btrfs --json']
  static override args = {
    array: Args.string({description: 'Array name or device.', required: true}),
    device: Args.string({description: 'The disk to add.', required: true}),
  }
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
    force: Flags.boolean({description: 'Use the disk even though it holds a filesystem or partition table (it is overwritten).'}),
  }

  async run(): Promise<{array: ArrayStatus}> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    await guardNewDevice(this.args.device, {force: this.flags.force})
    const after = await engine.add(arrayRef(status), this.args.device)
    if (!this.jsonEnabled()) this.log(renderStatus(after))
    return {array: after}
  }
}
