import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {removeSchedule, type RemoveResult} from '../../schedule/schedules.js'

export default class ScheduleRemove extends BaseCommand<typeof ScheduleRemove> {
  static override description = 'Remove a schedule: disable and delete its timer and service (or its crontab line), its env file and its record.'
  static override examples = ['<%= config.bin %> schedule remove backup', '<%= config.bin %> schedule remove check --root /tmp/image']
  static override args = {name: Args.string({description: 'schedule name (see schedule list)', required: true})}
  static override flags = {
    root: Flags.string({description: 'The schedule was written under this folder.', default: '/'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Show what would be removed.'}),
  }

  async run(): Promise<RemoveResult & {dryRun: boolean}> {
    const r = await removeSchedule(this.args.name, {root: this.flags.root, dryRun: this.flags['dry-run']})
    if (!this.jsonEnabled()) {
      for (const c of r.commands) this.log(`${this.flags['dry-run'] ? 'would run' : 'ran'}: ${c.join(' ')}`)
      for (const f of r.removed) this.log(`${this.flags['dry-run'] ? 'would remove' : 'removed'} ${f}`)
      if (!this.flags['dry-run']) this.log(`schedule ${r.name} removed`)
    }
    return {...r, dryRun: Boolean(this.flags['dry-run'])}
  }
}
