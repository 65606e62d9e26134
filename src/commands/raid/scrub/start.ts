import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {progressPrinter} from '../../../raid/cli-support.js'
import type {ArrayStatus, EngineName} from '../../../raid/engine.js'
import {arrayRef, findArray} from '../../../raid/engines.js'
import {renderStatus} from '../../../raid/status-view.js'

export default class RaidScrubStart extends BaseCommand<typeof RaidScrubStart> {
  static override description = `Start a consistency check. md: writes "check" (or "repair" with --repair) to sync_action; the mismatch count shows in raid status. btrfs: btrfs scrub start, which verifies checksums and rewrites bad copies from good ones (--repair changes nothing there).
Runs in the background; --wait follows it to the end.`
  static override examples = ['<%= config.bin %> raid scrub start md0', '<%= config.bin %> raid scrub start md0 --repair', '<%= config.bin %> raid scrub start data --wait']
  static override args = {array: Args.string({description: 'Array name or device.', required: true})}
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
    repair: Flags.boolean({description: 'md: rewrite mismatched parity/copies (repair) instead of only counting them (check).'}),
    wait: Flags.boolean({description: 'Follow the check until it finishes.'}),
  }

  async run(): Promise<{array: ArrayStatus}> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    const ref = arrayRef(status)
    let after = await engine.scrubStart(ref, {repair: this.flags.repair})
    if (this.flags.wait) {
      const printer = progressPrinter((s) => process.stderr.write(s), Boolean(process.stderr.isTTY))
      after = await engine.waitIdle(ref, {onProgress: this.jsonEnabled() ? undefined : printer})
      printer.end()
    }
    if (!this.jsonEnabled()) this.log(renderStatus(after))
    return {array: after}
  }
}
