import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {colour, useColour} from '../../cli/format.js'
import {ExitCode} from '../../errors.js'
import type {ArrayStatus, EngineName} from '../../raid/engine.js'
import {findArray, listAll} from '../../raid/engines.js'
import {needsAttention, renderStatus} from '../../raid/status-view.js'

export default class RaidStatus extends BaseCommand<typeof RaidStatus> {
  static override description = `Health of RAID arrays, like zpool status: state, what is wrong and what to do, members with role, state, errors and serial, and progress of any rebuild, check, reshape or scrub.
Without an argument, every md array and multi-device btrfs filesystem. Exits 4 when any array shown is degraded, rebuilding, failed or inactive.`
  static override examples = ['<%= config.bin %> raid status', '<%= config.bin %> raid status md0', '<%= config.bin %> raid status /dev/sdb --json', '<%= config.bin %> raid status data --engine btrfs']
  static override args = {
    array: Args.string({description: 'Array name, /dev/mdX, UUID, btrfs label or mount point, or a member device.'}),
  }
  static override flags = {
    engine: Flags.string({description: 'Only this engine.', options: ['md', 'btrfs']}),
  }

  async run(): Promise<{arrays: ArrayStatus[]}> {
    const engine = this.flags.engine as EngineName | undefined
    let arrays: ArrayStatus[]
    if (this.args.array) {
      arrays = [(await findArray(this.args.array, {}, engine)).status]
    } else {
      arrays = await listAll({}, {engines: engine ? [engine] : undefined, onSkip: (e, reason) => (engine ? this.addWarning(`${e}: not available here: ${reason}`) : this.info(`${e}: skipped (${reason})`))})
    }
    if (!this.jsonEnabled()) {
      const c = useColour()
      if (arrays.length === 0) this.log('no RAID arrays found (md arrays or multi-device btrfs filesystems)')
      this.log(arrays.map((a) => renderStatus(a, (col, t) => colour(c, col, t))).join('\n\n'))
    }
    if (arrays.some((a) => needsAttention(a))) this.exitCodeAfterRun = ExitCode.DEGRADED
    return {arrays}
  }
}
