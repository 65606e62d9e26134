import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {loadConfig} from '../../config/load.js'

export default class ConfigValidate extends BaseCommand<typeof ConfigValidate> {
  static override description = 'Check a config file; every problem is reported as file:line:column, field path and expected shape (exit 2).'
  static override examples = ['<%= config.bin %> config validate', '<%= config.bin %> config validate ./lifeboat.yaml']
  static override args = {file: Args.string({description: 'config file (default: --config, LIFEBOAT_CONFIG or the XDG default)'})}

  async run(): Promise<{file: string; valid: true; exists: boolean}> {
    const loaded = await loadConfig(this.args.file ?? this.flags.config)
    if (!this.jsonEnabled()) this.log(loaded.exists ? `${loaded.file}: valid` : `${loaded.file}: absent (defaults apply)`)
    return {file: loaded.file, valid: true, exists: loaded.exists}
  }
}
