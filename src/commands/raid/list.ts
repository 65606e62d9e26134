import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {table} from '../../cli/format.js'
import type {ArrayStatus, EngineName} from '../../raid/engine.js'
import {listAll} from '../../raid/engines.js'
import {listRow} from '../../raid/status-view.js'

export default class RaidList extends BaseCommand<typeof RaidList> {
  static override description = 'Every md array and multi-device btrfs filesystem on this machine, one line each (raid status shows the details).'
  static override examples = ['<%= config.bin %> raid list', '<%= config.bin %> raid list --json']
  static override flags = {
    engine: Flags.string({description: 'Only this engine.', options: ['md', 'btrfs']}),
  }

  async run(): Promise<{arrays: ArrayStatus[]}> {
    const engine = this.flags.engine as EngineName | undefined
    const arrays = await listAll({}, {engines: engine ? [engine] : undefined, onSkip: (e, reason) => (engine ? this.addWarning(`${e}: not available here: ${reason}`) : this.info(`${e}: skipped (${reason})`))})
    if (!this.jsonEnabled()) {
      if (arrays.length === 0) this.log('no RAID arrays found')
      else this.log(table(['NAME', 'ENGINE', 'LEVEL', 'HEALTH', 'ACTIVE', 'SIZE', 'DEVICE', 'MOUNTED', 'PROGRESS'], arrays.map((a) => listRow(a))))
    }
    return {arrays}
  }
}
