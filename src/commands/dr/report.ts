import fs from 'node:fs/promises'

import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {runDirFlag, runRoot} from '../../cli/dr.js'
import {findRunDir, RunStore, writeAtomic} from '../../dr/journal.js'
import {buildReport, reportHtml, type RunReport} from '../../dr/report.js'
import {formatDuration} from '../../progress.js'

export default class DrReport extends BaseCommand<typeof DrReport> {
  static override description = 'Report of a run: waves and steps with times, achieved RTO (run start → first passing health gate after the DNS shift) and RPO (age of the restored/replicated data) against the targets. --html writes a self-contained page with a timeline.'
  static override examples = ['<%= config.bin %> dr report RUN', '<%= config.bin %> dr report RUN --html report.html', '<%= config.bin %> dr report RUN --json']
  static override args = {run: Args.string({description: 'Run id (see `dr runs`) or a run directory.', required: true})}
  static override flags = {'run-dir': runDirFlag, html: Flags.string({description: 'Write the HTML report (timeline picture) to this file.'})}

  async run(): Promise<RunReport & {html?: string}> {
    const dir = await findRunDir(this.args.run, runRoot(this.flags['run-dir']))
    const {journal} = await RunStore.open(dir)
    const r = buildReport(journal)
    if (this.flags.html) {
      await writeAtomic(this.flags.html, reportHtml(r))
      await fs.chmod(this.flags.html, 0o644)
    }
    if (!this.jsonEnabled()) {
      const d = (s: number | null) => (s === null ? 'not measured' : formatDuration(s))
      const v = (m: boolean | null) => (m === null ? '' : m ? ' (met)' : ' (MISSED)')
      this.log(`${r.playbook} ${r.mode} ${r.runId}: ${r.status}${r.durationSeconds === undefined ? '' : `, ${formatDuration(r.durationSeconds)}`}`)
      this.log(`RTO: ${d(r.rto.achievedSeconds)} of ${formatDuration(r.rto.targetSeconds)}${v(r.rto.met)} — ${r.rto.basis}`)
      this.log(`RPO: ${d(r.rpo.achievedSeconds)} of ${formatDuration(r.rpo.targetSeconds)}${v(r.rpo.met)} — ${r.rpo.basis}`)
      for (const w of r.waves) {
        this.log(`wave ${w.name}:`)
        for (const s of w.steps) this.log(`  ${s.id} (${s.type}): ${s.state}${s.durationSeconds === undefined ? '' : ` in ${formatDuration(s.durationSeconds)}`}${s.error ? ` — ${s.error.message}` : s.reason ? ` — ${s.reason}` : ''}`)
      }
      this.log(`resources: ${r.resources.created} created, ${r.resources.removed} removed, ${r.resources.leftovers} left over`)
      if (this.flags.html) this.log(`HTML report: ${this.flags.html}`)
    }
    return this.flags.html ? {...r, html: this.flags.html} : r
  }
}
