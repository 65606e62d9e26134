import {Flags} from '@oclif/core'

import {resolveAws} from '../aws/clients.js'
import {awsFlags} from '../cli/aws-flags.js'
import {BaseCommand} from '../cli/base-command.js'
import {colour, useColour} from '../cli/format.js'
import {jobIO} from '../cli/job-flags.js'
import {errorMessage} from '../errors.js'
import {writeMetrics} from '../ops/metrics.js'
import {gatherStatus, type Level, statusMetrics, type StatusReport} from '../ops/status.js'
import {defaultProviders} from '../ops/status-sources.js'

export default class Status extends BaseCommand<typeof Status> {
  static override description = `One screen of how things stand: arrays, repositories (newest snapshot age against the RPO, size, last check), schedules (next and last run), AWS Backup recovery point ages, DR readiness, failed notifications.
Coloured on a terminal; JSON (the --json envelope) when stdout is not a terminal, unless --text.
Exit codes: 0 all green; 3 something is yellow (unknown or a warning); 4 the only red items are degraded or rebuilding arrays; 1 anything else is red (a failed array, a snapshot or recovery point older than its RPO, a failed last job, a missing schedule unit).`
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json | jq .result.sections', '<%= config.bin %> status --metrics-file /var/lib/node_exporter/textfile/lifeboat.prom']
  static override flags = {
    text: Flags.boolean({description: 'Human output even when stdout is not a terminal (no colours).'}),
    'schedule-root': Flags.string({description: 'Read schedules written under this folder (default: config ops.scheduleRoot, else /).'}),
    'metrics-file': Flags.string({description: 'Also merge snapshot ages, degraded arrays and recovery point ages into this textfile-collector file.', env: 'LIFEBOAT_METRICS_FILE'}),
    ...awsFlags,
  }

  public override jsonEnabled(): boolean {
    if (super.jsonEnabled()) return true
    // `lifeboat status | …` and cron get JSON; a terminal (or --text) gets the screen.
    return !process.stdout.isTTY && !this.argv.includes('--text')
  }

  async run(): Promise<StatusReport> {
    const {config} = await this.getConfig()
    const aws = resolveAws(this.flags, config.aws)
    const report = await gatherStatus(await defaultProviders({config, aws, scheduleRoot: this.flags['schedule-root']}))
    const metricsFile = jobIO(this.flags, config).metricsFile
    if (metricsFile) {
      try {
        await writeMetrics(metricsFile, statusMetrics(report))
      } catch (error) {
        this.addWarning(`the metrics file ${metricsFile} was not written: ${errorMessage(error)}`)
      }
    }
    if (!this.jsonEnabled()) this.render(report)
    this.exitCodeAfterRun = report.exitCode
    return report
  }

  private render(r: StatusReport): void {
    const c = useColour()
    const word = (l: Level) => (l === 'ok' ? 'ok' : l === 'warn' ? 'WARN' : 'RED')
    const mark = (l: Level) => colour(c, l === 'ok' ? 'green' : l === 'warn' ? 'yellow' : 'red', word(l))
    const padded = (l: Level) => mark(l) + ' '.repeat(4 - word(l).length)
    const overall = r.level === 'ok' ? 'everything is fine' : r.level === 'warn' ? 'something needs a look' : 'something is wrong'
    this.log(`${colour(c, 'bold', 'state:')} ${mark(r.level)} — ${overall} (${r.host}, ${r.time.replace('T', ' ').slice(0, 19)}Z)`)
    for (const s of r.sections) {
      this.log('')
      this.log(`${colour(c, 'bold', s.title)}  ${mark(s.level)}`)
      if (s.note) this.log(`  ${colour(c, 'dim', s.note)}`)
      for (const i of s.items) this.log(`  ${padded(i.level)} ${i.name}: ${i.detail}`)
    }
    if (r.exitCode !== 0) {
      this.log('')
      this.log(`action: ${r.exitCode === 4 ? 'an array is degraded: see `lifeboat raid status` and replace the failed disk' : 'look at the RED and WARN lines above; `lifeboat schedule run NAME` re-runs a job'}`)
    }
  }
}
