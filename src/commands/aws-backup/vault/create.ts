import {Args, Flags} from '@oclif/core'

import {AwsBackupCommand} from '../../../cli/aws-backup.js'
import {parseKeyValues} from '../../../awsbackup/util.js'
import {createVault, type VaultInfo} from '../../../awsbackup/vaults.js'

export default class VaultCreate extends AwsBackupCommand<typeof VaultCreate> {
  static override description = 'Create a backup vault. An existing vault of that name is an error (exit 1) unless --if-not-exists.'
  static override examples = [
    '<%= config.bin %> aws-backup vault create shop-vault',
    '<%= config.bin %> aws-backup vault create shop-dr-vault --region us-west-2 --kms-key-arn arn:aws:kms:us-west-2:123456789012:key/…',
  ]
  static override args = {name: Args.string({description: 'Vault name (2–50 letters, digits, "-", "_").', required: true})}
  static override flags = {
    'kms-key-arn': Flags.string({description: 'KMS key to encrypt recovery points with (default: the AWS Backup managed key).'}),
    tag: Flags.string({description: 'Vault tag KEY=VALUE (repeatable).', multiple: true}),
    'if-not-exists': Flags.boolean({description: 'An existing vault of that name is fine (exit 0, created: false).'}),
  }

  async run(): Promise<{vault: VaultInfo; created: boolean}> {
    const aws = await this.awsOptions()
    try {
      const vault = await createVault(this.args.name, {aws, encryptionKeyArn: this.flags['kms-key-arn'], tags: parseKeyValues(this.flags.tag, '--tag')})
      if (!this.jsonEnabled()) this.log(`created vault ${vault.name}${vault.arn ? ` (${vault.arn})` : ''}`)
      return {vault, created: true}
    } catch (error: any) {
      if (this.flags['if-not-exists'] && error?.code === 'AWS_ALREADY_EXISTS') {
        if (!this.jsonEnabled()) this.log(`vault ${this.args.name} already exists`)
        return {vault: {name: this.args.name}, created: false}
      }
      throw error
    }
  }
}
