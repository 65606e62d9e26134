import {Flags} from '@oclif/core'

import {makeAwsClient, resolveAws} from '../aws/clients.js'
import {BaseCommand} from '../cli/base-command.js'
import {awsFlags} from '../cli/aws-flags.js'
import {colour, table, useColour} from '../cli/format.js'
import {type DoctorReport, runDoctor} from '../doctor/index.js'
import {ExitCode} from '../errors.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override description = `Check this machine: Node version, tools on PATH (and which feature needs each), config validity, AWS credentials.
Exits 1 when something a configured feature needs is missing. Makes no AWS call unless --online.`
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json', '<%= config.bin %> doctor --online --profile prod']
  static override flags = {
    online: Flags.boolean({description: 'Also ask AWS who the credentials belong to (STS GetCallerIdentity).'}),
    ...awsFlags,
  }

  async run(): Promise<DoctorReport> {
    const report = await runDoctor({
      configFlag: this.flags.config,
      online: this.flags.online,
      callerIdentity: async () => {
        const {STSClient, GetCallerIdentityCommand} = await import('@aws-sdk/client-sts')
        const loaded = await this.getConfig().catch(() => undefined)
        const sts = makeAwsClient(STSClient, resolveAws(this.flags, loaded?.config.aws))
        const out = await sts.send(new GetCallerIdentityCommand({}))
        return {account: out.Account, arn: out.Arn}
      },
    })
    if (!this.jsonEnabled()) {
      const c = useColour()
      const mark = (s: string) =>
        s === 'ok' ? colour(c, 'green', 'ok') : s === 'skipped' || s === 'warn' ? colour(c, 'yellow', s) : colour(c, 'red', s)
      this.log(
        table(
          ['check', 'status', 'needed for', 'detail'],
          report.checks.map((ch) => [ch.name, mark(ch.status), `${ch.neededFor.join(', ')}${ch.required ? ' (required)' : ''}`, ch.detail]),
        ),
      )
      this.log('')
      this.log(report.ok ? 'Everything the configured features need is here.' : 'Something a configured feature needs is missing (see above).')
    }
    if (!report.ok) this.exitCodeAfterRun = ExitCode.FAILURE
    return report
  }
}
