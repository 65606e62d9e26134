import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {askSelect, askText} from '../../cli/prompt.js'
import {configPath} from '../../config/load.js'
import {renderConfig, writeConfigFile, type InitAnswers} from '../../config/init.js'
import {defaultRepositoryPath} from '../../config/paths.js'

export default class ConfigInit extends BaseCommand<typeof ConfigInit> {
  static override description = `Create the config file: a guided wizard on a terminal, or the same answers as flags in scripts.
In a script, --repo (or --defaults) is required.`
  static override examples = [
    '<%= config.bin %> config init',
    '<%= config.bin %> config init --repo /srv/backup/repo --password-file /etc/lifeboat/password --no-input',
    '<%= config.bin %> config init --defaults --region eu-west-1 --output ./lifeboat.yaml',
  ]
  static override flags = {
    repo: Flags.string({description: 'Location of the default backup repository (folder or s3:…).'}),
    'password-file': Flags.string({description: 'File holding the repository password.'}),
    region: Flags.string({description: 'AWS region.'}),
    profile: Flags.string({description: 'AWS profile.'}),
    'raid-engine': Flags.string({description: 'Engine for new arrays.', options: ['md', 'btrfs']}),
    defaults: Flags.boolean({description: 'Accept the default answer for every question not given as a flag.'}),
    output: Flags.string({char: 'o', description: 'Where to write (default: the config path).'}),
    force: Flags.boolean({description: 'Replace an existing file.'}),
  }

  async run(): Promise<{file: string; written: true; answers: InitAnswers}> {
    const f = this.flags
    const policy = this.prompts
    const file = f.output ?? configPath(f.config).file
    const ask = !f.defaults && policy.interactive
    const answers: InitAnswers = {repository: f.repo ?? ''}
    if (!answers.repository) {
      answers.repository = f.defaults
        ? defaultRepositoryPath()
        : await askText(policy, {message: 'Backup repository location', flag: '--repo <location> (or --defaults)', default: defaultRepositoryPath()})
    }
    answers.passwordFile = f['password-file'] ?? (ask ? await this.optional('Password file (empty: LIFEBOAT_PASSWORD or a prompt)', '--password-file') : undefined)
    answers.awsRegion = f.region ?? (ask ? await this.optional('AWS region (empty: none)', '--region') : undefined)
    answers.awsProfile = f.profile ?? (ask ? await this.optional('AWS profile (empty: the SDK default chain)', '--profile') : undefined)
    const engine = f['raid-engine'] as InitAnswers['raidEngine']
    answers.raidEngine =
      engine ??
      (ask
        ? await askSelect(policy, {
            message: 'RAID engine for new arrays',
            flag: '--raid-engine',
            choices: [
              {name: 'none (no RAID on this machine)', value: 'none'},
              {name: 'md (Linux software RAID, mdadm)', value: 'md'},
              {name: 'btrfs (btrfs RAID profiles)', value: 'btrfs'},
            ],
            default: 'none',
          }).then((v) => (v === 'none' ? undefined : v))
        : undefined)
    const text = renderConfig(answers, file)
    await writeConfigFile(file, text, f.force)
    if (!this.jsonEnabled()) this.log(`wrote ${file}`)
    return {file, written: true, answers}
  }

  private async optional(message: string, flag: string): Promise<string | undefined> {
    const v = await askText(this.prompts, {message, flag})
    return v.trim() === '' ? undefined : v.trim()
  }
}
