import {BaseCommand} from '../../cli/base-command.js'
import {runDirFlag, runRoot} from '../../cli/dr.js'
import {table} from '../../cli/format.js'
import {listRuns, type RunSummary} from '../../dr/journal.js'

export default class DrRuns extends BaseCommand<typeof DrRuns> {
  static override description = 'List DR runs (newest first) with their mode, status and leftovers.'
  static override examples = ['<%= config.bin %> dr runs', '<%= config.bin %> dr runs --json']
  static override flags = {'run-dir': runDirFlag}

  async run(): Promise<{runs: RunSummary[]}> {
    const runs = await listRuns(runRoot(this.flags['run-dir']))
    if (!this.jsonEnabled()) {
      if (runs.length === 0) this.log('no DR runs yet')
      else this.log(table(['RUN', 'PLAYBOOK', 'MODE', 'STATUS', 'STARTED', 'STEPS ok/failed/skipped', 'LEFTOVERS'], runs.map((r) => [r.runId, r.playbook, r.mode, r.status, r.startedAt, `${r.steps.succeeded}/${r.steps.failed}/${r.steps.skipped} of ${r.steps.total}`, r.leftovers || ''])))
    }
    return {runs}
  }
}
