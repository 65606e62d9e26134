import {type Command, Flags} from '@oclif/core'

import {approveFlag, drAwsFlags, DrRunCommand, hasOpenApprovals, playbookFlag, readPlaybook, runDirFlag, runRoot} from '../../cli/dr.js'
import {jobFlags} from '../../cli/job-flags.js'
import {confirmByName} from '../../cli/prompt.js'
import {planPlaybook, startRun, stepApplies, type PlanRow, type RunResult} from '../../dr/runner.js'
import type {RunMode} from '../../dr/step-types.js'
import {renderPlan} from './plan.js'

/** failover, failback and drill share everything but the mode. */
const startFlags = {
  file: playbookFlag,
  approve: approveFlag,
  'run-dir': runDirFlag,
  'dry-run': Flags.boolean({char: 'n', description: 'Print the plan (read-only AWS calls) and exit.'}),
  confirm: Flags.string({description: "Confirm by the playbook name (scripts; only asked when the playbook has no approval step)."}),
  ...drAwsFlags,
  ...jobFlags,
}

export abstract class DrStart extends DrRunCommand<typeof Command & {flags: typeof startFlags}> {
  static override flags = startFlags

  protected abstract mode: RunMode

  async run(): Promise<RunResult | {dryRun: true; plan: PlanRow[]}> {
    const f = this.flags
    const loaded = await readPlaybook(f.file)
    const {playbook} = loaded
    if (f['dry-run']) {
      const {runnerDeps} = await import('../../cli/dr.js')
      const plan = await planPlaybook(playbook, this.mode, await runnerDeps({profile: f.profile}))
      if (!this.jsonEnabled()) renderPlan(this, plan)
      return {dryRun: true, plan}
    }
    // A playbook without an approval step for this mode is confirmed by its name (a drill changes no production).
    if (this.mode !== 'drill' && !playbook.waves.some((w) => w.steps.some((s) => s.type === 'approval' && stepApplies(s, this.mode)))) {
      await confirmByName(this.prompts, {name: playbook.name, action: `run a ${this.mode} of ${playbook.name}`, confirm: f.confirm})
    }
    return this.execute({
      approve: f.approve,
      profile: f.profile,
      mayPrompt: hasOpenApprovals(playbook, this.mode, f.approve),
      work: (deps) => startRun({loaded, mode: this.mode, runRoot: runRoot(f['run-dir']), deps}),
      job: {mode: this.mode, playbook: playbook.name},
    })
  }
}

export default class DrFailover extends DrStart {
  static override description = `Fail over to the DR region: run the playbook's waves (steps of a wave concurrently), with a journal so \`dr resume\` continues after a crash, Ctrl-C or a missing approval.
Approval steps ask on a terminal; in scripts pass --approve STEP (otherwise exit 10, and the run stays resumable).`
  static override examples = ['<%= config.bin %> dr failover -f shop.yaml --approve go', '<%= config.bin %> dr failover -f shop.yaml --dry-run', '<%= config.bin %> dr failover -f shop.yaml --approve go --json']
  protected mode: RunMode = 'failover'
}
