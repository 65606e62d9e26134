import {stringify} from 'yaml'

import {BaseCommand} from '../../cli/base-command.js'
import {redactSecrets} from '../../config/load.js'

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static override description = 'Show the effective configuration (file merged with LIFEBOAT_* environment), secrets redacted.'
  static override examples = ['<%= config.bin %> config show', '<%= config.bin %> config show --json']

  async run(): Promise<{file: string; exists: boolean; config: unknown}> {
    const loaded = await this.getConfig()
    const config = redactSecrets(loaded.config)
    if (!this.jsonEnabled()) {
      this.log(`# ${loaded.exists ? loaded.file : `${loaded.file} (absent: defaults)`}`)
      this.log(Object.keys(config).length > 0 ? stringify(config).trimEnd() : '{}')
    }
    return {file: loaded.file, exists: loaded.exists, config}
  }
}
