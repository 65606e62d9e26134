import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import type {ArrayStatus, EngineName} from '../../../raid/engine.js'
import {arrayRef, findArray} from '../../../raid/engines.js'
import {describeProgress} from '../../../raid/status-view.js'

export default class RaidScrubStatus extends BaseCommand<typeof RaidScrubStatus> {
  static override description = 'Progress of a running check/scrub (percent, speed, ETA) and what the last one found (md mismatch count; btrfs scrub state and error summary).'
  static override examples = ['<%= config.bin %> raid scrub status md0', '<%= config.bin %> raid scrub status data --json']
  static override args = {array: Args.string({description: 'Array name or device.', required: true})}
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
  }

  async run(): Promise<{array: ArrayStatus; running: boolean}> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    const st = await engine.scrubStatus(arrayRef(status))
    const running = st.progress !== undefined && ['check', 'repair', 'scrub'].includes(st.progress.action)
    if (!this.jsonEnabled()) {
      this.log(`${st.name}: ${st.progress ? describeProgress(st.progress) : 'no check or scrub running'}`)
      if (st.mismatchCount !== undefined) this.log(`mismatches: ${st.mismatchCount}`)
      if (st.engine === 'btrfs') this.log(`state: ${st.state}`)
      for (const l of st.status) this.log(`status: ${l}`)
    }
    return {array: st, running}
  }
}
