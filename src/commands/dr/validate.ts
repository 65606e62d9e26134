import {BaseCommand} from '../../cli/base-command.js'
import {playbookFlag, readPlaybook} from '../../cli/dr.js'
import {formatDuration} from '../../progress.js'

export interface ValidateResult {
  file: string
  name: string
  strategy: string
  regions: {primary: string; dr: string}
  targets: {rtoSeconds: number; rpoSeconds: number}
  waves: Array<{name: string; steps: Array<{id: string; type: string; when: string[]; dependsOn: string[]}>}>
  approvals: string[]
}

export default class DrValidate extends BaseCommand<typeof DrValidate> {
  static override description = 'Check a playbook: schema, step types and their params, dependsOn and ${steps...} references. Errors name file:line:column (exit 2). Reads nothing from AWS.'
  static override examples = ['<%= config.bin %> dr validate -f shop.yaml']
  static override flags = {file: playbookFlag}

  async run(): Promise<ValidateResult> {
    const {file, playbook: p} = await readPlaybook(this.flags.file)
    const result: ValidateResult = {
      file,
      name: p.name,
      strategy: p.strategy,
      regions: p.regions,
      targets: {rtoSeconds: p.targets.rto / 1000, rpoSeconds: p.targets.rpo / 1000},
      waves: p.waves.map((w) => ({name: w.name, steps: w.steps.map((s) => ({id: s.id, type: s.type, when: Array.isArray(s.when) ? s.when : [s.when], dependsOn: s.dependsOn}))})),
      approvals: p.waves.flatMap((w) => w.steps.filter((s) => s.type === 'approval').map((s) => s.id)),
    }
    if (!this.jsonEnabled()) {
      const n = result.waves.reduce((a, w) => a + w.steps.length, 0)
      this.log(`${file}: ok — ${p.name} (${p.strategy}), ${p.regions.primary} → ${p.regions.dr}, RTO ${formatDuration(p.targets.rto / 1000)}, RPO ${formatDuration(p.targets.rpo / 1000)}, ${result.waves.length} waves, ${n} steps`)
      for (const [i, w] of result.waves.entries()) this.log(`  wave ${i + 1} ${w.name}: ${w.steps.map((s) => `${s.id} (${s.type})`).join(', ')}`)
      if (result.approvals.length > 0) this.log(`approvals: ${result.approvals.join(', ')} (unattended: ${result.approvals.map((a) => `--approve ${a}`).join(' ')})`)
    }
    return result
  }
}
