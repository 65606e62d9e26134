import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {table} from '../../cli/format.js'
import {listSchedules, type ListedSchedule} from '../../schedule/schedules.js'

export default class ScheduleList extends BaseCommand<typeof ScheduleList> {
  static override description = 'List the schedules Lifeboat wrote (systemd timers or crontab lines), with what each runs and when.'
  static override examples = ['<%= config.bin %> schedule list', '<%= config.bin %> schedule list --root /tmp/image --json']
  static override flags = {
    root: Flags.string({description: 'Read schedules written under this folder.', default: '/'}),
  }

  async run(): Promise<{schedules: ListedSchedule[]}> {
    const schedules = await listSchedules({root: this.flags.root})
    if (!this.jsonEnabled()) {
      if (schedules.length === 0) this.log('no schedules (add one with `lifeboat schedule add JOB --every 1d`)')
      else {
        this.log(
          table(
            ['Name', 'Job', 'By', 'When', 'Next', 'Installed', 'Runs'],
            schedules.map((s) => [s.name, s.job, s.scheduler, s.scheduler === 'cron' ? `${s.cron} (cron)` : s.onCalendar, s.nextRun ? s.nextRun.replace('T', ' ').slice(0, 16) + 'Z' : '?', s.installed ? 'yes' : `NO: ${s.problems.join('; ')}`, `lifeboat ${s.args.join(' ')}`]),
          ),
        )
      }
    }
    return {schedules}
  }
}
