import {BackupCommand, repoFlags} from '../../cli/backup-command.js'

export default class BackupInit extends BackupCommand<typeof BackupInit> {
  static override description = 'Create a repository (restic format v2: restic can read it too).'
  static override examples = [
    '<%= config.bin %> backup init',
    'LIFEBOAT_PASSWORD_FILE=/etc/lifeboat/pw <%= config.bin %> backup init --repo /mnt/raid/backup',
  ]
  static override flags = {...repoFlags}

  async run(): Promise<{id: string; location: string; version: number}> {
    const repo = await this.initRepo()
    const out = {id: repo.config.id, location: repo.backend.location, version: repo.config.version}
    await repo.close()
    if (!this.jsonEnabled()) this.log(`created repository ${out.id.slice(0, 10)} at ${out.location}`)
    return out
  }
}
