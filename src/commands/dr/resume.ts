import {Args} from '@oclif/core'

import {approveFlag, drAwsFlags, DrRunCommand, hasOpenApprovals, runDirFlag, runRoot} from '../../cli/dr.js'
import {jobFlags} from '../../cli/job-flags.js'
import {findRunDir} from '../../dr/journal.js'
import {loadRegistry} from '../../dr/registry.js'
import {openRun, resumeRun, type RunResult} from '../../dr/runner.js'

export default class DrResume extends DrRunCommand<typeof DrResume> {
  static override description = `Continue a run after a crash, Ctrl-C, a failure or a missing approval. Finished steps are not redone; a step that was running is run again with the same idempotency tokens, so AWS returns the resources it already made.`
  static override examples = ['<%= config.bin %> dr resume 20260101T120000Z-shop-pilot-light-a1b2c3 --approve go']
  static override args = {run: Args.string({description: 'Run id (see `dr runs`) or a run directory.', required: true})}
  static override flags = {approve: approveFlag, 'run-dir': runDirFlag, ...drAwsFlags, ...jobFlags}

  async run(): Promise<RunResult> {
    const dir = await findRunDir(this.args.run, runRoot(this.flags['run-dir']))
    const {steps} = await loadRegistry()
    const {store, playbook} = await openRun(dir, steps)
    const approved = [...store.journal.approvals, ...(this.flags.approve ?? [])]
    return this.execute({
      approve: this.flags.approve,
      profile: this.flags.profile,
      mayPrompt: hasOpenApprovals(playbook, store.journal.mode, approved),
      work: (deps) => resumeRun(dir, deps),
      // Reported as the job of the run it continues (dr-drill / dr-failover / dr-failback).
      job: {mode: store.journal.mode, playbook: playbook.name},
    })
  }
}
