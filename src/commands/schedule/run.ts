import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {formatDuration} from '../../progress.js'
import {type RunResult, runSchedule} from '../../schedule/schedules.js'

export default class ScheduleRun extends BaseCommand<typeof ScheduleRun> {
  static override description = `Run a scheduled job now, exactly as its timer would: the same command line and only the environment of its env file.
The exit code is the job's. Cron lines call this command.`
  static override examples = ['<%= config.bin %> schedule run backup', 'sudo <%= config.bin %> schedule run restore-test --json']
  static override args = {name: Args.string({description: 'schedule name (see schedule list)', required: true})}
  static override flags = {
    root: Flags.string({description: 'The schedule was written under this folder.', default: '/'}),
  }

  async run(): Promise<RunResult> {
    // Under --json the job's output is captured into the result; otherwise it goes straight to the terminal.
    const r = await runSchedule(this.args.name, {root: this.flags.root, capture: this.jsonEnabled()})
    this.info(`${r.name}: exit code ${r.exitCode} after ${formatDuration(r.durationMs / 1000)}`)
    if (r.exitCode !== 0) this.exitCodeAfterRun = r.exitCode
    return r
  }
}
