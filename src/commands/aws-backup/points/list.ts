import {Flags} from '@oclif/core'

import {AwsBackupCommand, isoTime} from '../../../cli/aws-backup.js'
import {table} from '../../../cli/format.js'
import {listRecoveryPoints, type PointInfo} from '../../../awsbackup/points.js'
import {formatBytes} from '../../../progress.js'

export default class PointsList extends AwsBackupCommand<typeof PointsList> {
  static override description = 'List recovery points, newest first: of a vault, of a resource, or of every vault in the region (every page).'
  static override examples = ['<%= config.bin %> aws-backup points list --vault shop-vault', '<%= config.bin %> aws-backup points list --resource arn:aws:rds:us-east-1:123456789012:db:shop --json']
  static override flags = {
    vault: Flags.string({description: 'Only points in this vault.'}),
    resource: Flags.string({description: 'Only points of this resource ARN.'}),
    limit: Flags.integer({description: 'Show at most this many (newest).', min: 1}),
  }

  async run(): Promise<{points: PointInfo[]}> {
    let points = await listRecoveryPoints({aws: await this.awsOptions(), vault: this.flags.vault, resourceArn: this.flags.resource})
    if (this.flags.limit !== undefined) points = points.slice(0, this.flags.limit)
    if (!this.jsonEnabled()) {
      this.log(
        table(
          ['Created', 'Status', 'Vault', 'Resource', 'Size', 'Recovery point'],
          points.map((p) => [isoTime(p.creationDate), p.status, p.vault, p.resourceArn, p.bytes ? formatBytes(p.bytes) : '', p.recoveryPointArn]),
        ),
      )
      this.log(`${points.length} recovery point${points.length === 1 ? '' : 's'}`)
    }
    return {points}
  }
}
