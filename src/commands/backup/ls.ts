import {Args, Flags} from '@oclif/core'

import {listNodes} from '../../backup/ls.js'
import {BackupCommand, repoFlags} from '../../cli/backup-command.js'

export default class BackupLs extends BackupCommand<typeof BackupLs> {
  static override description = 'List the files and folders of a snapshot (ID prefix or "latest").'
  static override examples = ['<%= config.bin %> backup ls latest', '<%= config.bin %> backup ls 4f1a2b /home/pi/docs --long', '<%= config.bin %> backup ls latest --json']
  static override args = {
    snapshot: Args.string({description: 'snapshot ID (a unique prefix is enough) or "latest"', required: true}),
    path: Args.string({description: 'only list at and below this path inside the snapshot'}),
  }
  static override flags = {
    ...repoFlags,
    long: Flags.boolean({char: 'l', description: 'Show mode, owner, size and modification time.'}),
    host: Flags.string({description: 'With "latest": the newest snapshot of this host.'}),
  }

  async run(): Promise<{snapshot: string; nodes: Array<Record<string, unknown>>}> {
    const repo = await this.openRepo()
    try {
      const sn = await repo.findSnapshot(this.args.snapshot, {hostname: this.flags.host})
      await repo.loadIndex()
      const nodes: Array<Record<string, unknown>> = []
      const human = !this.jsonEnabled()
      for await (const w of listNodes(repo, sn.snapshot.tree, this.args.path)) {
        const n = w.node
        const rec = {path: w.path, name: n.name, type: n.type, size: n.size, mode: n.mode, mtime: n.mtime, uid: n.uid, gid: n.gid, user: n.user, group: n.group, linktarget: n.linktarget}
        if (human) {
          if (this.flags.long) {
            this.log(`${modeString(n.type, n.mode ?? 0)} ${(n.user ?? String(n.uid)).padEnd(8)} ${(n.group ?? String(n.gid)).padEnd(8)} ${String(n.size ?? 0).padStart(12)} ${n.mtime.slice(0, 19).replace('T', ' ')} ${w.path}${n.type === 'symlink' ? ` -> ${n.linktarget}` : ''}`)
          } else this.log(w.path)
        } else nodes.push(rec)
      }
      return {snapshot: sn.id, nodes}
    } finally {
      await repo.close()
    }
  }
}

/** ls -l style mode string from Go FileMode permission bits. */
function modeString(type: string, mode: number): string {
  const t = {dir: 'd', symlink: 'L', fifo: 'p', socket: 'S', dev: 'D', chardev: 'c'}[type] ?? '-'
  const rwx = 'rwxrwxrwx'
  let s = t
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? rwx[i] : '-'
  return s
}
