import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {jobFlags, jobIO} from '../../cli/job-flags.js'
import {errorMessage, ExitCode, UsageError} from '../../errors.js'
import {jsonLogger} from '../../ops/log.js'
import {sample, writeMetrics} from '../../ops/metrics.js'
import {notifyRaidEvent} from '../../ops/raid-events.js'
import type {ArrayStatus, EngineName, RaidEvent} from '../../raid/engine.js'
import {listAll} from '../../raid/engines.js'
import {monitor} from '../../raid/monitor.js'
import {needsAttention} from '../../raid/status-view.js'

export default class RaidMonitor extends BaseCommand<typeof RaidMonitor> {
  static override description = `Watch every array and print events as JSON lines on stdout: DegradedArray, Fail, SpareActive, RebuildStarted, RebuildFinished, SparesMissing, MismatchesFound, DeviceErrors.
The first look reports current problems; later looks report changes. --once looks once and exits 4 if any array needs attention (for cron); with --json the events come in the envelope instead.
Every event also goes to the configured notification sinks (job "raid-monitor": failure for DegradedArray/Fail/DeviceErrors, success for RebuildFinished/SpareActive, warning otherwise); a failing sink is reported on stderr and never stops the monitor. --log-file appends each event; --metrics-file writes lifeboat_array_degraded after each look.`
  static override examples = ['<%= config.bin %> raid monitor', '<%= config.bin %> raid monitor --interval 300', '<%= config.bin %> raid monitor --once --json']
  static override flags = {
    once: Flags.boolean({description: 'Look once, print the events, exit (4 when an array needs attention).'}),
    interval: Flags.integer({description: 'Seconds between looks.', default: 60, min: 1}),
    engine: Flags.string({description: 'Only this engine.', options: ['md', 'btrfs']}),
    ...jobFlags,
  }

  async run(): Promise<{events: RaidEvent[]; arrays: number}> {
    if (this.jsonEnabled() && !this.flags.once) {
      throw new UsageError('--json needs --once (without it, monitor already prints one JSON object per line)', {code: 'USAGE'})
    }
    const engine = this.flags.engine as EngineName | undefined
    const {config} = await this.getConfig()
    const io = jobIO(this.flags, config, (m) => this.info(m))
    const name = process.env.LIFEBOAT_JOB_NAME ?? 'raid-monitor'
    const log = jsonLogger(io.logFile, {job: 'raid-monitor', name})
    const say = (m: string) => process.stderr.write(`raid monitor: ${m}\n`)
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
        onEvent: async (e) => {
          if (!this.jsonEnabled()) process.stdout.write(JSON.stringify(e) + '\n')
          // notifyAll never throws; a failed delivery is logged and the monitor goes on.
          const {event, deliveries} = await notifyRaidEvent(e, io.sinks, {env: io.env, aws: io.aws, name})
          log.log(event.state === 'failure' ? 'error' : event.state === 'warning' ? 'warn' : 'info', event.summary, {event: 'raid.event', raid: e, state: event.state})
          for (const d of deliveries.filter((x) => x.sent && !x.ok)) {
            log.log('error', `notification sink ${d.sink} failed: ${d.error}`, {event: 'notify.failed', sink: d.sink, type: d.type, attempts: d.attempts, error: d.error})
            say(`notification sink "${d.sink}" (${d.type}) failed for ${e.event} on ${e.array}: ${d.error} (monitoring goes on)`)
          }
        },
        onError: (error) => process.stderr.write(`raid monitor: this look failed, trying again in ${this.flags.interval} s: ${errorMessage(error)}\n`),
        onPoll: async (arrays) => {
          last = arrays
          if (io.metricsFile) {
            try {
              await writeMetrics(io.metricsFile, arrays.map((a) => sample('lifeboat_array_degraded', {array: a.name}, a.health === 'healthy' ? 0 : 1)))
            } catch (error) {
              say(`the metrics file ${io.metricsFile} was not written: ${errorMessage(error)}`)
            }
          }
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
