import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {errorMessage, ExitCode, UsageError} from '../../errors.js'
import type {ArrayStatus, EngineName, RaidEvent} from '../../raid/engine.js'
import {listAll} from '../../raid/engines.js'
import {monitor} from '../../raid/monitor.js'
import {needsAttention} from '../../raid/status-view.js'

export default class RaidMonitor extends BaseCommand<typeof RaidMonitor> {
  static override description = `Watch every array and print events as JSON lines on stdout: DegradedArray, Fail, SpareActive, RebuildStarted, RebuildFinished, SparesMissing, MismatchesFound, DeviceErrors.
The first look reports current problems; later looks report changes. --once looks once and exits 4 if any array needs attention (for cron); with --json the events come in the envelope instead.`
  static override examples = ['<%= config.bin %> raid monitor', '<%= config.bin %> raid monitor --interval 300', '<%= config.bin %> raid monitor --once --json']
  static override flags = {
    once: Flags.boolean({description: 'Look once, print the events, exit (4 when an array needs attention).'}),
    interval: Flags.integer({description: 'Seconds between looks.', default: 60, min: 1}),
    engine: Flags.string({description: 'Only this engine.', options: ['md', 'btrfs']}),
  }

  async run(): Promise<{events: RaidEvent[]; arrays: number}> {
    if (this.jsonEnabled() && !this.flags.once) {
      throw new UsageError('--json needs --once (without it, monitor already prints one JSON object per line)', {code: 'USAGE'})
    }
    const engine = this.flags.engine as EngineName | undefined
    let last: ArrayStatus[] = []
    const ac = new AbortController()
    const stop = () => ac.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    try {
      const events = await monitor({
        list: () => listAll({}, {engines: engine ? [engine] : undefined}),
        intervalMs: this.flags.interval * 1000,
        once: this.flags.once,
        signal: ac.signal,
        sleep: (ms) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(resolve, ms)
            ac.signal.addEventListener('abort', () => {
              clearTimeout(t)
              resolve()
            })
          }),
        onEvent: (e) => {
          if (!this.jsonEnabled()) process.stdout.write(JSON.stringify(e) + '\n')
        },
        onError: (error) => process.stderr.write(`raid monitor: this look failed, trying again in ${this.flags.interval} s: ${errorMessage(error)}\n`),
        onPoll: (arrays) => {
          last = arrays
        },
      })
      if (this.flags.once && last.some((a) => needsAttention(a))) this.exitCodeAfterRun = ExitCode.DEGRADED
      return {events, arrays: last.length}
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
  }
}
