import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {askText} from '../../cli/prompt.js'
import {defaultRunner} from '../../exec/runner.js'
import type {EngineName} from '../../raid/engine.js'
import {findArray} from '../../raid/engines.js'
import {persistArray, type PersistResult} from '../../raid/persist.js'

export default class RaidPersist extends BaseCommand<typeof RaidPersist> {
  static override description = `Make an array come back after a reboot, by UUID (sdX names change, USB disks come late).
md: the ARRAY line (mdadm --detail --brief) merged into /etc/mdadm/mdadm.conf (old file kept as mdadm.conf.bak), then update-initramfs -u. Both engines: an fstab line by filesystem UUID with nofail,x-systemd.device-timeout=30s, so a missing disk does not stop the boot. Running it again changes nothing.`
  static override examples = [
    '<%= config.bin %> raid persist data --mountpoint /srv/data',
    '<%= config.bin %> raid persist data --engine btrfs --mountpoint /srv/data --device-hints',
    '<%= config.bin %> raid persist data --root /mnt/newroot --mountpoint /srv/data --json',
  ]
  static override args = {name: Args.string({description: 'Array name, device (/dev/md0), btrfs label or UUID.', required: true})}
  static override flags = {
    root: Flags.string({description: 'Write under this root instead of / (for images, chroots and tests); update-initramfs runs only for /.', default: '/'}),
    mountpoint: Flags.string({description: 'Mount point for the fstab entry (default: where it is mounted now; asked on a terminal).'}),
    engine: Flags.string({description: 'md or btrfs, when the name could be either.', options: ['md', 'btrfs']}),
    'device-hints': Flags.boolean({description: 'btrfs: add device=/dev/disk/by-id/… for every member to the mount options.'}),
    options: Flags.string({description: 'Extra mount options, comma separated (added after defaults,nofail,x-systemd.device-timeout=30s).'}),
    'no-fstab': Flags.boolean({description: 'Do not write an fstab entry.'}),
    'dry-run': Flags.boolean({description: 'Show what would change, write nothing.'}),
  }

  async run(): Promise<PersistResult> {
    const f = this.flags
    const {status} = await findArray(this.args.name, {}, f.engine as EngineName | undefined)
    let mountpoint = f['no-fstab'] ? undefined : (f.mountpoint ?? status.mountpoint)
    if (!f['no-fstab'] && mountpoint === undefined && this.prompts.interactive) {
      mountpoint = await askText(this.prompts, {message: `Mount point for ${status.name} (empty: no fstab entry)`, flag: '--mountpoint', default: `/srv/${status.name}`})
      if (mountpoint.trim() === '') mountpoint = undefined
    }
    const result = await persistArray({
      array: status,
      runner: defaultRunner,
      root: f.root,
      mountpoint,
      deviceHints: f['device-hints'],
      options: f.options,
      dryRun: f['dry-run'],
    })
    for (const n of result.notes) this.addWarning(n)
    if (!this.jsonEnabled()) {
      const show = (label: string, c?: PersistResult['fstab']) => {
        if (!c) return
        this.log(`${label} ${c.file}: ${f['dry-run'] && c.action !== 'unchanged' ? `would be ${c.action}` : c.action}${c.backup ? ` (previous version kept as ${c.backup})` : ''}`)
        for (const l of c.lines) this.log(`  ${l}`)
      }
      show('mdadm.conf', result.mdadmConf)
      show('fstab', result.fstab)
      if (result.initramfs) this.log(result.initramfs.ran ? 'initramfs updated (update-initramfs -u)' : `initramfs not updated: ${result.initramfs.reason}`)
    }
    return result
  }
}
