import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import type {ArrayStatus, EngineName} from '../../../raid/engine.js'
import {arrayRef, findArray} from '../../../raid/engines.js'

export default class RaidScrubCancel extends BaseCommand<typeof RaidScrubCancel> {
  static override description = 'Stop a running check/repair (md: sync_action idle) or scrub (btrfs scrub cancel). Does nothing when none runs.'
  static override examples = ['<%= config.bin %> raid scrub cancel md0']
  static override args = {array: Args.string({description: 'Array name or device.', required: true})}
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
  }

  async run(): Promise<{array: ArrayStatus; wasRunning: boolean}> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    const wasRunning = status.progress !== undefined && ['check', 'repair', 'scrub'].includes(status.progress.action)
    const after = await engine.scrubCancel(arrayRef(status))
    if (!this.jsonEnabled()) this.log(wasRunning ? `${after.name}: ${status.progress!.action} cancelled` : `${after.name}: no check or scrub was running`)
    return {array: after, wasRunning}
  }
}
