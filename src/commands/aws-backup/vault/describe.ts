import {Args} from '@oclif/core'

import {AwsBackupCommand, isoTime} from '../../../cli/aws-backup.js'
import {describeVault, type VaultInfo} from '../../../awsbackup/vaults.js'

export default class VaultDescribe extends AwsBackupCommand<typeof VaultDescribe> {
  static override description = 'Show a backup vault: ARN, encryption key, recovery points, lock settings.'
  static override examples = ['<%= config.bin %> aws-backup vault describe shop-vault']
  static override args = {name: Args.string({description: 'Vault name.', required: true})}

  async run(): Promise<{vault: VaultInfo}> {
    const vault = await describeVault(this.args.name, {aws: await this.awsOptions()})
    if (!this.jsonEnabled()) {
      const lines: Array<[string, string | number | undefined]> = [
        ['name', vault.name],
        ['arn', vault.arn],
        ['type', vault.type],
        ['created', isoTime(vault.creationDate)],
        ['encryption key', vault.encryptionKeyArn],
        ['recovery points', vault.recoveryPoints],
        ['locked', vault.locked ? `yes (min ${vault.minRetentionDays ?? '-'} days, max ${vault.maxRetentionDays ?? '-'} days${vault.lockDate ? `, immutable from ${isoTime(vault.lockDate)}` : ', governance mode'})` : 'no'],
      ]
      for (const [k, v] of lines) if (v !== undefined && v !== '') this.log(`${k.padEnd(16)} ${v}`)
    }
    return {vault}
  }
}
