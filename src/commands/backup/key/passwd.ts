import {Flags} from '@oclif/core'

import {lockRepository} from '../../../backup/lock.js'
import {BackupCommand, newPassword, repoFlags} from '../../../cli/backup-command.js'

export default class BackupKeyPasswd extends BackupCommand<typeof BackupKeyPasswd> {
  static override description = 'Change the password: adds a key for the new password, then removes the current key.'
  static override examples = ['<%= config.bin %> backup key passwd --new-password-file /root/new-password']
  static override flags = {...repoFlags, 'new-password-file': Flags.string({description: 'File holding the new password (else asked on a terminal).'})}

  async run(): Promise<{id: string}> {
    const repo = await this.openRepo()
    const lock = await lockRepository(repo, {exclusive: true})
    try {
      const pw = await newPassword(this.flags['new-password-file'], this.prompts)
      const id = await repo.changePassword(pw)
      if (!this.jsonEnabled()) this.log(`password changed (new key ${id.slice(0, 8)})`)
      return {id}
    } finally {
      await lock.release()
      await repo.close()
    }
  }
}
