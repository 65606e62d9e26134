import {Args} from '@oclif/core'

import {lockRepository} from '../../../backup/lock.js'
import {BackupCommand, repoFlags} from '../../../cli/backup-command.js'

export default class BackupKeyRemove extends BackupCommand<typeof BackupKeyRemove> {
  static override description = 'Remove a key (ID or unique prefix). The key in use cannot be removed.'
  static override args = {id: Args.string({description: 'key ID or unique prefix', required: true})}
  static override flags = {...repoFlags}

  async run(): Promise<{removed: string}> {
    const repo = await this.openRepo()
    const lock = await lockRepository(repo, {exclusive: true})
    try {
      const removed = await repo.removeKey(this.args.id)
      if (!this.jsonEnabled()) this.log(`removed key ${removed.slice(0, 8)}`)
      return {removed}
    } finally {
      await lock.release()
      await repo.close()
    }
  }
}
