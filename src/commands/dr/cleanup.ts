import {Args} from '@oclif/core'

import {drAwsFlags, DrRunCommand, runDirFlag, runRoot} from '../../cli/dr.js'
import {UsageError} from '../../errors.js'
import {findRunDir, RunStore} from '../../dr/journal.js'
import {cleanupRun, type RunResult} from '../../dr/runner.js'

export default class DrCleanup extends DrRunCommand<typeof DrCleanup> {
  static override description = `Finish a drill's cleanup: remove every resource the run recorded that is still there, then sweep both regions for resources tagged lifeboat:run-id=<RUN>. Leftovers are an error (exit 1).`
  static override examples = ['<%= config.bin %> dr cleanup 20260101T120000Z-shop-pilot-light-a1b2c3']
  static override args = {run: Args.string({description: 'Run id (see `dr runs`) or a run directory.', required: true})}
  static override flags = {'run-dir': runDirFlag, ...drAwsFlags}

  async run(): Promise<RunResult> {
    const dir = await findRunDir(this.args.run, runRoot(this.flags['run-dir']))
    const {journal} = await RunStore.open(dir)
    if (journal.mode !== 'drill') {
      throw new UsageError(`run ${journal.runId} is a ${journal.mode}, not a drill: cleanup would tear down a real recovery`, {
        code: 'NOT_A_DRILL',
        hint: `to undo a ${journal.mode}, use: lifeboat dr rollback ${journal.runId}`,
      })
    }
    return this.execute({profile: this.flags.profile, mayPrompt: false, work: (deps) => cleanupRun(dir, deps)})
  }
}
