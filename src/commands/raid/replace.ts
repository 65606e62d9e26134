import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {ExitCode} from '../../errors.js'
import {guardNewDevice, progressPrinter} from '../../raid/cli-support.js'
import type {ArrayStatus, EngineName} from '../../raid/engine.js'
import {arrayRef, findArray} from '../../raid/engines.js'
import {needsAttention, renderStatus} from '../../raid/status-view.js'

export default class RaidReplace extends BaseCommand<typeof RaidReplace> {
  static override description = `Replace a member with a new disk. md: a working member is hot-replaced (mdadm --replace --with: the old disk serves until the new one is in sync, then is removed); a failed or missing one is removed and the new disk added to rebuild. btrfs: btrfs replace (OLD may be a devid or "missing" for an absent device; the filesystem must be mounted, degraded if need be).
The new disk must be at least as large as the member it replaces, not mounted, not in an array, and without a filesystem (that only with --force). --wait follows the rebuild until it is done; exits 4 if the array is still not healthy then.`
  static override examples = [
    '<%= config.bin %> raid replace md0 /dev/sdc /dev/sde --wait',
    '<%= config.bin %> raid replace data missing /dev/sdf --wait',
    '<%= config.bin %> raid replace data 3 /dev/sdf --engine btrfs --json',
  ]
  static override args = {
    array: Args.string({description: 'Array name or device.', required: true}),
    old: Args.string({description: 'The member to replace (device; btrfs: also devid or "missing").', required: true}),
    new: Args.string({description: 'The new disk.', required: true}),
  }
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
    wait: Flags.boolean({description: 'Follow the rebuild until it is done, showing progress.'}),
    force: Flags.boolean({description: 'Use the new disk even though it holds a filesystem or partition table (it is overwritten).'}),
  }

  async run(): Promise<{array: ArrayStatus; waited: boolean}> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    await guardNewDevice(this.args.new, {force: this.flags.force})
    this.info(`replacing ${this.args.old} with ${this.args.new} in ${status.name} (${status.engine} ${status.level})`)
    const printer = progressPrinter((s) => process.stderr.write(s), Boolean(process.stderr.isTTY))
    const after = await engine.replace(arrayRef(status), this.args.old, this.args.new, {
      wait: this.flags.wait,
      onProgress: this.jsonEnabled() ? undefined : printer,
    })
    printer.end()
    if (!this.jsonEnabled()) this.log(renderStatus(after))
    if (this.flags.wait && needsAttention(after)) this.exitCodeAfterRun = ExitCode.DEGRADED
    return {array: after, waited: Boolean(this.flags.wait)}
  }
}
