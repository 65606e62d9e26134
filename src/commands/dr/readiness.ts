import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {drAwsFlags, playbookFlag, readPlaybook, runnerDeps} from '../../cli/dr.js'
import {colour, table, useColour} from '../../cli/format.js'
import {jobFlags, jobIO} from '../../cli/job-flags.js'
import {type JobOutcome, reportJob} from '../../ops/report.js'
import {readinessPlaybook, type ReadinessResult} from '../../dr/runner.js'
import type {RunMode} from '../../dr/step-types.js'

export default class DrReadiness extends BaseCommand<typeof DrReadiness> {
  static override description = `Is the DR region ready? Credentials in both regions, then each step's prerequisites (AMIs present and recent, templates/subnets/security groups, EIPs, hosted zone and weighted records with health checks, newest recovery point within the RPO). A pass/fail table; exit 1 when a check fails. Reported as the job "dr-readiness" (notifications, --metrics-file, --log-file), which \`lifeboat status\` shows as the DR readiness summary.`
  static override examples = ['<%= config.bin %> dr readiness -f shop.yaml', '<%= config.bin %> dr readiness -f shop.yaml --json']
  static override flags = {
    file: playbookFlag,
    mode: Flags.string({description: 'Check the steps of this kind of run.', options: ['failover', 'failback', 'drill'], default: 'failover'}),
    ...drAwsFlags,
    ...jobFlags,
  }

  async run(): Promise<ReadinessResult> {
    const {playbook} = await readPlaybook(this.flags.file)
    const {config} = await this.getConfig()
    const mode = this.flags.mode as RunMode
    const result = await reportJob(
      {job: 'dr-readiness', resource: playbook.name, io: jobIO(this.flags, config, (m) => this.info(m))},
      async () => readinessPlaybook(playbook, mode, await runnerDeps({profile: this.flags.profile})),
      (r) => readinessOutcome(r, playbook.name, mode),
    )
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

/** The job outcome of a readiness check (what `lifeboat status` shows under "DR readiness"). */
export function readinessOutcome(r: ReadinessResult, playbook: string, mode: RunMode): JobOutcome {
  const failed = r.checks.filter((k) => !k.ok && k.severity !== 'warn')
  const warned = r.checks.filter((k) => !k.ok && k.severity === 'warn')
  const list = (ks: typeof r.checks) => ks.slice(0, 3).map((k) => `${k.step} ${k.name}: ${k.detail}`).join('; ') + (ks.length > 3 ? `; and ${ks.length - 3} more` : '')
  return {
    state: !r.ok ? 'failure' : warned.length > 0 ? 'warning' : 'success',
    summary: r.ok
      ? `${playbook} ready for ${mode}: ${r.checks.length - warned.length} of ${r.checks.length} checks passed${warned.length > 0 ? `; ${warned.length} warning(s): ${list(warned)}` : ''}`
      : `${playbook} NOT ready for ${mode}: ${failed.length} of ${r.checks.length} checks failed: ${list(failed)}`,
    numbers: {checks: r.checks.length, failed: failed.length, warnings: warned.length},
    action: r.ok ? undefined : `Fix the failed checks (lifeboat dr readiness -f PLAYBOOK shows them all) before you need a ${mode}.`,
  }
}
