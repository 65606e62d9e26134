import fs from 'node:fs/promises'

import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {askSelect, askText} from '../../cli/prompt.js'
import {UsageError} from '../../errors.js'
import {parsePlaybook} from '../../dr/playbook.js'
import {loadRegistry} from '../../dr/registry.js'
import {STRATEGIES, type Strategy} from '../../dr/schema.js'
import {playbookTemplate, TEMPLATE_DEFAULTS, type TemplateAnswers} from '../../dr/templates.js'

const QUESTIONS: Array<{key: keyof TemplateAnswers; flag: string; message: string; only?: Strategy[]}> = [
  {key: 'name', flag: '--name', message: 'Service name'},
  {key: 'primary', flag: '--primary-region', message: 'Primary region'},
  {key: 'dr', flag: '--dr-region', message: 'DR region'},
  {key: 'rto', flag: '--rto', message: 'RTO target (e.g. 30m)'},
  {key: 'rpo', flag: '--rpo', message: 'RPO target (e.g. 1h)'},
  {key: 'amiId', flag: '--ami', message: 'AMI of the app server (primary region)', only: ['backup-restore', 'pilot-light', 'warm-standby']},
  {key: 'vault', flag: '--vault', message: 'AWS Backup vault in the DR region', only: ['backup-restore']},
  {key: 'resourceArn', flag: '--resource-arn', message: 'ARN of the backed-up resource (its newest recovery point is restored)', only: ['backup-restore']},
  {key: 'restoreRole', flag: '--restore-role', message: 'IAM role ARN for AWS Backup restores', only: ['backup-restore']},
  {key: 'standbyInstance', flag: '--standby-instance', message: 'Instance id of the warm standby in the DR region', only: ['warm-standby']},
  {key: 'allocationId', flag: '--eip', message: 'Elastic IP allocation in the DR region', only: ['backup-restore', 'pilot-light']},
  {key: 'hostedZoneId', flag: '--hosted-zone', message: 'Route 53 hosted zone id'},
  {key: 'record', flag: '--record', message: 'Weighted record name (e.g. app.example.com.)'},
  {key: 'url', flag: '--url', message: 'Health-check URL'},
]

export default class DrInit extends BaseCommand<typeof DrInit> {
  static override description = 'Write a commented playbook for a DR strategy. On a terminal it asks for regions, AMI, zone, records and RTO/RPO; in scripts the flags (or placeholders) are used.'
  static override examples = ['<%= config.bin %> dr init --strategy pilot-light -o shop.yaml', '<%= config.bin %> dr init --strategy multi-site --hosted-zone Z123 --record app.example.com. -o multi.yaml']
  static override flags = {
    strategy: Flags.string({description: 'DR strategy.', options: [...STRATEGIES]}),
    output: Flags.string({char: 'o', description: 'Write the playbook here (default: print it).'}),
    force: Flags.boolean({description: 'Overwrite an existing output file.'}),
    name: Flags.string({description: 'Service name (playbook name prefix).'}),
    'primary-region': Flags.string({description: 'Primary region.'}),
    'dr-region': Flags.string({description: 'DR region.'}),
    rto: Flags.string({description: 'RTO target, e.g. 30m.'}),
    rpo: Flags.string({description: 'RPO target, e.g. 1h.'}),
    ami: Flags.string({description: 'AMI id of the app server in the primary region.'}),
    vault: Flags.string({description: 'AWS Backup vault in the DR region (backup-restore).'}),
    'resource-arn': Flags.string({description: 'ARN of the backed-up resource to restore (backup-restore).'}),
    'restore-role': Flags.string({description: 'IAM role ARN for AWS Backup restores (backup-restore).'}),
    'standby-instance': Flags.string({description: 'Instance id of the warm standby (warm-standby).'}),
    eip: Flags.string({description: 'Elastic IP allocation id in the DR region.'}),
    'hosted-zone': Flags.string({description: 'Route 53 hosted zone id.'}),
    record: Flags.string({description: 'Weighted record name.'}),
    url: Flags.string({description: 'Health-check URL.'}),
  }

  async run(): Promise<{strategy: Strategy; file?: string; playbook: string}> {
    const f = this.flags
    const policy = this.prompts
    let strategy = f.strategy as Strategy | undefined
    if (!strategy) {
      if (!policy.interactive) throw new UsageError('a strategy is needed: pass --strategy backup-restore|pilot-light|warm-standby|multi-site', {code: 'MISSING_ANSWER'})
      strategy = await askSelect(policy, {message: 'DR strategy', flag: '--strategy', choices: STRATEGIES.map((s) => ({name: s, value: s}))})
    }
    const given: Partial<TemplateAnswers> = {
      name: f.name,
      primary: f['primary-region'],
      dr: f['dr-region'],
      rto: f.rto,
      rpo: f.rpo,
      amiId: f.ami,
      vault: f.vault,
      resourceArn: f['resource-arn'],
      restoreRole: f['restore-role'],
      standbyInstance: f['standby-instance'],
      allocationId: f.eip,
      hostedZoneId: f['hosted-zone'],
      record: f.record,
      url: f.url,
    }
    const answers: TemplateAnswers = {...TEMPLATE_DEFAULTS}
    for (const q of QUESTIONS) {
      const v = given[q.key]
      if (v !== undefined) answers[q.key] = v
      else if (policy.interactive && (!q.only || q.only.includes(strategy))) answers[q.key] = await askText(policy, {message: q.message, flag: q.flag, default: answers[q.key]})
    }
    const text = playbookTemplate(strategy, answers)
    // What we write must validate (a wrong region or duration from an answer is caught here).
    parsePlaybook(text, f.output ?? '(generated playbook)', (await loadRegistry()).steps)
    if (f.output) {
      try {
        await fs.writeFile(f.output, text, {flag: f.force ? 'w' : 'wx'})
      } catch (error: any) {
        if (error?.code === 'EEXIST') throw new UsageError(`${f.output} exists; pass --force to overwrite it`, {code: 'FILE_EXISTS'})
        throw error
      }
      if (!this.jsonEnabled()) this.logToStderr(`wrote ${f.output}; next: lifeboat dr validate -f ${f.output}`)
    } else if (!this.jsonEnabled()) this.log(text.trimEnd())
    return {strategy, file: f.output, playbook: text}
  }
}
