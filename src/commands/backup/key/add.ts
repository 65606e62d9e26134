import {Flags} from '@oclif/core'

import {BackupCommand, newPassword, repoFlags} from '../../../cli/backup-command.js'

export default class BackupKeyAdd extends BackupCommand<typeof BackupKeyAdd> {
  static override description = 'Add a key: a second password that opens the same repository.'
  static override examples = ['<%= config.bin %> backup key add --new-password-file /root/second-password']
  static override flags = {...repoFlags, 'new-password-file': Flags.string({description: 'File holding the new password (else asked on a terminal).'})}

  async run(): Promise<{id: string}> {
    const repo = await this.openRepo()
    try {
      const pw = await newPassword(this.flags['new-password-file'], this.prompts)
      const id = await repo.addKey(pw)
      if (!this.jsonEnabled()) this.log(`added key ${id.slice(0, 8)}`)
      return {id}
    } finally {
      await repo.close()
    }
  }
}
