import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {drAwsFlags, playbookFlag, readPlaybook, runnerDeps} from '../../cli/dr.js'
import {table} from '../../cli/format.js'
import {planPlaybook, type PlanRow} from '../../dr/runner.js'
import type {RunMode} from '../../dr/step-types.js'

export function renderPlan(cmd: {log: (s: string) => void}, plan: PlanRow[]): void {
  cmd.log(table(['WAVE', 'STEP', 'TYPE', 'ACTION', 'WHAT'], plan.map((r) => [r.wave, r.step, r.type, r.action, r.summary])))
}

export default class DrPlan extends BaseCommand<typeof DrPlan> {
  static override description = "Each step's intended action against the current AWS state (read-only calls; nothing is written, no run is created). References to outputs of earlier steps show as ${...}."
  static override examples = ['<%= config.bin %> dr plan -f shop.yaml', '<%= config.bin %> dr plan -f shop.yaml --mode drill --json']
  static override flags = {
    file: playbookFlag,
    mode: Flags.string({description: 'Plan for this kind of run.', options: ['failover', 'failback', 'drill'], default: 'failover'}),
    ...drAwsFlags,
  }

  async run(): Promise<{mode: RunMode; steps: PlanRow[]}> {
    const {playbook} = await readPlaybook(this.flags.file)
    const mode = this.flags.mode as RunMode
    const steps = await planPlaybook(playbook, mode, await runnerDeps({profile: this.flags.profile}))
    if (!this.jsonEnabled()) renderPlan(this, steps)
    if (steps.some((s) => s.action === 'error')) this.exitCodeAfterRun = 1
    return {mode, steps}
  }
}
