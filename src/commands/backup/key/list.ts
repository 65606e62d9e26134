import {BackupCommand, repoFlags} from '../../../cli/backup-command.js'
import {table} from '../../../cli/format.js'

export default class BackupKeyList extends BackupCommand<typeof BackupKeyList> {
  static override description = 'List the repository keys (one per password).'
  static override flags = {...repoFlags}

  async run(): Promise<{keys: Array<{id: string; current: boolean; username: string; hostname: string; created: string}>}> {
    const repo = await this.openRepo()
    try {
      const keys = await repo.listKeys()
      if (!this.jsonEnabled()) this.log(table([' ', 'ID', 'User', 'Host', 'Created'], keys.map((k) => [k.current ? '*' : '', k.id.slice(0, 8), k.username, k.hostname, k.created.slice(0, 19).replace('T', ' ')])))
      return {keys}
    } finally {
      await repo.close()
    }
  }
}
