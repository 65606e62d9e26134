import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {drAwsFlags, playbookFlag, readPlaybook, runnerDeps} from '../../cli/dr.js'
import {colour, table, useColour} from '../../cli/format.js'
import {readinessPlaybook, type ReadinessResult} from '../../dr/runner.js'
import type {RunMode} from '../../dr/step-types.js'

export default class DrReadiness extends BaseCommand<typeof DrReadiness> {
  static override description = `Is the DR region ready? Credentials in both regions, then each step's prerequisites (AMIs present and recent, templates/subnets/security groups, EIPs, hosted zone and weighted records with health checks, newest recovery point within the RPO). A pass/fail table; exit 1 when a check fails.`
  static override examples = ['<%= config.bin %> dr readiness -f shop.yaml', '<%= config.bin %> dr readiness -f shop.yaml --json']
  static override flags = {
    file: playbookFlag,
    mode: Flags.string({description: 'Check the steps of this kind of run.', options: ['failover', 'failback', 'drill'], default: 'failover'}),
    ...drAwsFlags,
  }

  async run(): Promise<ReadinessResult> {
    const {playbook} = await readPlaybook(this.flags.file)
    const result = await readinessPlaybook(playbook, this.flags.mode as RunMode, await runnerDeps({profile: this.flags.profile}))
    if (!this.jsonEnabled()) {
      const c = useColour()
      const mark = (ok: boolean, sev: string) => (ok ? colour(c, 'green', 'pass') : sev === 'warn' ? colour(c, 'yellow', 'warn') : colour(c, 'red', 'FAIL'))
      this.log(table(['STEP', 'CHECK', 'RESULT', 'DETAIL'], result.checks.map((k) => [k.step, k.name, mark(k.ok, k.severity), k.detail])))
      const failed = result.checks.filter((k) => !k.ok && k.severity !== 'warn').length
      this.log('')
      this.log(result.ok ? `ready: ${result.checks.length} checks passed` : `NOT ready: ${failed} of ${result.checks.length} checks failed`)
    }
    if (!result.ok) this.exitCodeAfterRun = 1
    return result
  }
}
