import {Args, Flags} from '@oclif/core'

import {drAwsFlags, DrRunCommand, runDirFlag, runRoot} from '../../cli/dr.js'
import {confirmByName} from '../../cli/prompt.js'
import {findRunDir} from '../../dr/journal.js'
import {loadRegistry} from '../../dr/registry.js'
import {openRun, rollbackRun, type RunResult} from '../../dr/runner.js'

export default class DrRollback extends DrRunCommand<typeof DrRollback> {
  static override description = `Undo a run, newest finished step first: the step's rollback (playbook \`rollback: {type, params}\`, else the step type's own, else removal of the resources it recorded). Stops at the first failure; running it again continues.`
  static override examples = ['<%= config.bin %> dr rollback RUN --dry-run', '<%= config.bin %> dr rollback RUN --confirm RUN']
  static override args = {run: Args.string({description: 'Run id (see `dr runs`) or a run directory.', required: true})}
  static override flags = {
    'run-dir': runDirFlag,
    'dry-run': Flags.boolean({char: 'n', description: 'List what would be undone, in order, and exit.'}),
    confirm: Flags.string({description: 'Confirm by the run id (scripts).'}),
    ...drAwsFlags,
  }

  async run(): Promise<RunResult | {dryRun: true; order: Array<{step: string; type: string; undo: string}>}> {
    const dir = await findRunDir(this.args.run, runRoot(this.flags['run-dir']))
    const {steps} = await loadRegistry()
    const {store, playbook} = await openRun(dir, steps)
    const j = store.journal
    const byId = new Map(playbook.waves.flatMap((w) => w.steps.map((s) => [s.id, s])))
    const order = Object.values(j.steps)
      .filter((r) => (r.state === 'succeeded' || r.resources.some((x) => !x.removedAt)) && r.rollback?.state !== 'succeeded')
      .sort((a, b) => (b.finishedAt ?? b.startedAt ?? '').localeCompare(a.finishedAt ?? a.startedAt ?? '') || b.wave - a.wave)
      .map((r) => {
        const s = byId.get(r.id)!
        const def = steps[r.type]
        const undo =
          s.rollback === false
            ? 'nothing (rollback: false)'
            : s.rollback
              ? `run ${s.rollback.type}`
              : r.state === 'succeeded' && def?.rollback
                ? `${r.type} rollback`
                : r.resources.some((x) => !x.removedAt)
                  ? `remove ${r.resources.filter((x) => !x.removedAt).map((x) => `${x.kind} ${x.id}`).join(', ')}`
                  : 'nothing to undo'
        return {step: r.id, type: r.type, undo}
      })
    if (this.flags['dry-run']) {
      if (!this.jsonEnabled()) for (const [i, o] of order.entries()) this.log(`${i + 1}. ${o.step} (${o.type}): ${o.undo}`)
      return {dryRun: true, order}
    }
    if (!this.jsonEnabled()) for (const [i, o] of order.entries()) this.logToStderr(`${i + 1}. ${o.step} (${o.type}): ${o.undo}`)
    await confirmByName(this.prompts, {name: j.runId, action: `roll back run ${j.runId} (${order.length} step(s))`, confirm: this.flags.confirm})
    const result = await this.execute({profile: this.flags.profile, mayPrompt: false, work: (deps) => rollbackRun(dir, deps)})
    if (result.status === 'rollback-failed') this.exitCodeAfterRun = 1
    return result
  }
}
