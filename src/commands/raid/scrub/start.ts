import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../../cli/base-command.js'
import {jobFlags, jobIO} from '../../../cli/job-flags.js'
import {reportJob} from '../../../ops/report.js'
import {progressPrinter} from '../../../raid/cli-support.js'
import type {ArrayStatus, EngineName} from '../../../raid/engine.js'
import {arrayRef, findArray} from '../../../raid/engines.js'
import {renderStatus} from '../../../raid/status-view.js'

export default class RaidScrubStart extends BaseCommand<typeof RaidScrubStart> {
  static override description = `Start a consistency check. md: writes "check" (or "repair" with --repair) to sync_action; the mismatch count shows in raid status. btrfs: btrfs scrub start, which verifies checksums and rewrites bad copies from good ones (--repair changes nothing there).
Runs in the background; --wait follows it to the end and reports the outcome as the job "scrub" (notifications, --metrics-file, --log-file, lifeboat status).`
  static override examples = ['<%= config.bin %> raid scrub start md0', '<%= config.bin %> raid scrub start md0 --repair', '<%= config.bin %> raid scrub start data --wait --metrics-file /var/lib/node_exporter/textfile/lifeboat.prom']
  static override args = {array: Args.string({description: 'Array name or device.', required: true})}
  static override flags = {
    engine: Flags.string({description: 'Engine of the array (found automatically when omitted).', options: ['md', 'btrfs']}),
    repair: Flags.boolean({description: 'md: rewrite mismatched parity/copies (repair) instead of only counting them (check).'}),
    wait: Flags.boolean({description: 'Follow the check until it finishes.'}),
    ...jobFlags,
  }

  async run(): Promise<{array: ArrayStatus}> {
    const {engine, status} = await findArray(this.args.array, {}, this.flags.engine as EngineName | undefined)
    const ref = arrayRef(status)
    if (!this.flags.wait) {
      // Only started: there is no outcome to report yet (the job is reported by --wait, as schedules run it).
      const after = await engine.scrubStart(ref, {repair: this.flags.repair})
      if (!this.jsonEnabled()) this.log(renderStatus(after))
      return {array: after}
    }
    const {config} = await this.getConfig()
    const started = Date.now()
    const after = await reportJob(
      {job: 'scrub', array: status.name, io: jobIO(this.flags, config, (m) => this.info(m))},
      async () => {
        await engine.scrubStart(ref, {repair: this.flags.repair})
        const printer = progressPrinter((s) => process.stderr.write(s), Boolean(process.stderr.isTTY))
        try {
          return await engine.waitIdle(ref, {onProgress: this.jsonEnabled() ? undefined : printer})
        } finally {
          printer.end()
        }
      },
      (a) => scrubOutcome(a, Boolean(this.flags.repair), (Date.now() - started) / 1000),
    )
    if (!this.jsonEnabled()) this.log(renderStatus(after))
    return {array: after}
  }
}

/** The job outcome of a finished scrub: failure when the array ended unhealthy, warning on mismatches. */
export function scrubOutcome(a: ArrayStatus, repair: boolean, durationSeconds: number): {state: 'success' | 'warning' | 'failure'; summary: string; numbers: Record<string, number | string>; action?: string} {
  const mismatches = a.mismatchCount ?? 0
  const bad = a.health === 'degraded' || a.health === 'failed' || a.health === 'rebuilding' || a.health === 'inactive'
  const what = repair ? 'repair' : 'scrub'
  const summary = bad
    ? `${a.name} is ${a.health} after the ${what}${mismatches > 0 ? ` (${mismatches} mismatched sectors)` : ''}`
    : mismatches > 0
      ? `${what} of ${a.name} found ${mismatches} mismatched sectors${repair ? ' (rewritten)' : ''}`
      : `${what} of ${a.name} finished: no mismatches, array ${a.health}`
  return {
    state: bad ? 'failure' : mismatches > 0 ? 'warning' : 'success',
    summary,
    numbers: {mismatches, durationSeconds: Math.round(durationSeconds)},
    action: bad
      ? (a.action[0] ?? `Look at \`lifeboat raid status ${a.name}\` and replace the failed disk.`)
      : mismatches > 0 && !repair
        ? `Run \`lifeboat raid scrub start ${a.name} --repair --wait\` and check the disks' SMART data (smartctl -a).`
        : undefined,
  }
}
