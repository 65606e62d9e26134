import {Flags} from '@oclif/core'

import {initRepository, openRepository} from '../../backup/open.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'
import {fromRepository, fromRepoFlags} from '../../cli/from-repo.js'
import {UsageError} from '../../errors.js'

export default class BackupInit extends BackupCommand<typeof BackupInit> {
  static override description = `Create a repository (restic format v2: restic can read it too).
With --copy-chunker-params --from-repo SRC, the new repository uses SRC's chunker parameters, so snapshots copied from SRC (backup copy) and later backups of the same files deduplicate with each other.`
  static override examples = [
    '<%= config.bin %> backup init',
    'LIFEBOAT_PASSWORD_FILE=/etc/lifeboat/pw <%= config.bin %> backup init --repo /mnt/raid/backup',
    '<%= config.bin %> backup init --repo /mnt/offsite --copy-chunker-params --from-repo /mnt/raid/backup --from-password-file /etc/lifeboat/raid-pw',
  ]
  static override flags = {
    ...repoFlags,
    'copy-chunker-params': Flags.boolean({description: 'Use the chunker parameters of the repository --from-repo (for backup copy).'}),
    ...fromRepoFlags,
  }

  async run(): Promise<{id: string; location: string; version: number; chunkerPolynomial?: string; chunkerParamsFrom?: string}> {
    const f = this.flags
    let chunkerPolynomial: string | undefined
    let chunkerParamsFrom: string | undefined
    if (f['copy-chunker-params']) {
      const {config} = await this.getConfig()
      const from = fromRepository(f, config, this.prompts)
      const src = await openRepository({location: from.location, password: from.password, backend: await this.backendOptions()})
      chunkerPolynomial = src.config.chunkerPolynomial
      chunkerParamsFrom = src.backend.location
      await src.close()
    } else if (f['from-repo'] || f['from-password-file'] || f['from-password-command']) {
      throw new UsageError('--from-repo and its password flags only apply with --copy-chunker-params', {hint: 'add --copy-chunker-params, or leave the --from-* flags out'})
    }
    const loc = await this.location()
    const repo = await initRepository({location: loc, password: this.passwordFn(loc, true), backend: await this.backendOptions(), init: chunkerPolynomial ? {chunkerPolynomial} : undefined})
    const out = {
      id: repo.config.id,
      location: repo.backend.location,
      version: repo.config.version,
      ...(chunkerParamsFrom ? {chunkerPolynomial, chunkerParamsFrom} : {}),
    }
    await repo.close()
    if (!this.jsonEnabled()) {
      this.log(`created repository ${out.id.slice(0, 10)} at ${out.location}`)
      if (chunkerParamsFrom) this.log(`chunker parameters copied from ${chunkerParamsFrom}`)
    }
    return out
  }
}
