import {Args, Flags} from '@oclif/core'

import {AwsBackupCommand} from '../../../cli/aws-backup.js'
import {confirmByName} from '../../../cli/prompt.js'
import {applyVaultLock, planVaultLock} from '../../../awsbackup/vaults.js'

export default class VaultLock extends AwsBackupCommand<typeof VaultLock> {
  static override description = `Lock a backup vault (AWS Backup Vault Lock): recovery points cannot be deleted before --min-retention-days.
Without --changeable-for-days the lock is in governance mode (removable with the right permission). With it the lock is in compliance mode and becomes IMMUTABLE after that many days. Shows what it will do, then needs --yes, --confirm NAME or the vault's name typed at the prompt.`
  static override examples = [
    '<%= config.bin %> aws-backup vault lock shop-vault --min-retention-days 7 --max-retention-days 365 --dry-run',
    '<%= config.bin %> aws-backup vault lock shop-vault --min-retention-days 7 --confirm shop-vault',
  ]
  static override args = {name: Args.string({description: 'Vault name.', required: true})}
  static override flags = {
    'min-retention-days': Flags.integer({description: 'Recovery points cannot be deleted before this age (days).', min: 1}),
    'max-retention-days': Flags.integer({description: 'Recovery points must be deleted by this age (days).', min: 1}),
    'changeable-for-days': Flags.integer({description: 'Compliance mode: the lock becomes immutable after this many days (at least 3).'}),
    'dry-run': Flags.boolean({char: 'n', description: 'Only show what the lock would do.'}),
    confirm: Flags.string({description: 'Confirm by repeating the vault name (for scripts).'}),
  }

  async run(): Promise<{vault: string; dryRun: boolean; applied: boolean; mode: string; description: string[]; minRetentionDays?: number; maxRetentionDays?: number; changeableForDays?: number}> {
    const f = this.flags
    const aws = await this.awsOptions()
    const plan = await planVaultLock(this.args.name, {minRetentionDays: f['min-retention-days'], maxRetentionDays: f['max-retention-days'], changeableForDays: f['changeable-for-days']}, {aws})
    if (!this.jsonEnabled()) for (const line of plan.description) this.log(`  ${line}`)
    const base = {vault: plan.vault, mode: plan.mode, description: plan.description, minRetentionDays: plan.minRetentionDays, maxRetentionDays: plan.maxRetentionDays, changeableForDays: plan.changeableForDays}
    if (f['dry-run']) {
      if (!this.jsonEnabled()) this.log('dry run: nothing was changed')
      return {...base, dryRun: true, applied: false}
    }
    await confirmByName(this.prompts, {name: plan.vault, action: `lock vault ${plan.vault} (${plan.mode} mode)`, confirm: f.confirm})
    await applyVaultLock(plan, {aws})
    if (!this.jsonEnabled()) this.log(`locked vault ${plan.vault} (${plan.mode} mode)`)
    return {...base, dryRun: false, applied: true}
  }
}
