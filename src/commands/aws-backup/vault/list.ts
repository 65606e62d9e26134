import {AwsBackupCommand, isoTime} from '../../../cli/aws-backup.js'
import {table} from '../../../cli/format.js'
import {listVaults, type VaultInfo} from '../../../awsbackup/vaults.js'

export default class VaultList extends AwsBackupCommand<typeof VaultList> {
  static override description = 'List the backup vaults of the region (every page).'
  static override examples = ['<%= config.bin %> aws-backup vault list --region eu-west-1', '<%= config.bin %> aws-backup vault list --json']

  async run(): Promise<{vaults: VaultInfo[]}> {
    const vaults = await listVaults({aws: await this.awsOptions()})
    if (!this.jsonEnabled()) {
      this.log(
        table(
          ['Name', 'Points', 'Locked', 'Min/max days', 'Created'],
          vaults.map((v) => [v.name, v.recoveryPoints, v.locked ? 'yes' : 'no', v.locked ? `${v.minRetentionDays ?? '-'}/${v.maxRetentionDays ?? '-'}` : '', isoTime(v.creationDate)]),
        ),
      )
      this.log(`${vaults.length} vault${vaults.length === 1 ? '' : 's'}`)
    }
    return {vaults}
  }
}
