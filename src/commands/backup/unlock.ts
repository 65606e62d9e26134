import {Flags} from '@oclif/core'

import {removeAllLocks, removeStaleLocks} from '../../backup/lock.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'

export default class BackupUnlock extends BackupCommand<typeof BackupUnlock> {
  static override description = 'Remove stale locks (older than 30 minutes, or of a dead process on this host); --remove-all removes every lock.'
  static override examples = ['<%= config.bin %> backup unlock', '<%= config.bin %> backup unlock --remove-all']
  static override flags = {...repoFlags, 'remove-all': Flags.boolean({description: 'Remove all locks, even those of running processes.'})}

  async run(): Promise<{removed: string[]}> {
    const repo = await this.openRepo()
    try {
      const removed = this.flags['remove-all'] ? await removeAllLocks(repo) : await removeStaleLocks(repo)
      if (!this.jsonEnabled()) this.log(removed.length === 0 ? 'no locks removed' : `removed ${removed.length} lock${removed.length === 1 ? '' : 's'}`)
      return {removed}
    } finally {
      await repo.close()
    }
  }
}
