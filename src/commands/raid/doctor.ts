import {BaseCommand} from '../../cli/base-command.js'
import {colour, table, useColour} from '../../cli/format.js'
import {ExitCode} from '../../errors.js'
import {defaultRunner} from '../../exec/runner.js'
import {type RaidDoctorReport, runRaidDoctor} from '../../raid/doctor.js'

export default class RaidDoctor extends BaseCommand<typeof RaidDoctor> {
  static override description = `Checks what takes USB RAID down on a Raspberry Pi (and elsewhere): USB bridges resetting under UAS (with the usb-storage quirk to fix it), under-voltage (vcgencmd get_throttled), drive error-recovery (SCT ERC) longer than the kernel's timeout, enclosures that give every disk the same serial.
Exit codes: 0 nothing to fix, 3 warnings, 1 errors. Run as root for the kernel log and SMART.`
  static override examples = ['<%= config.bin %> raid doctor', '<%= config.bin %> raid doctor --json']

  async run(): Promise<RaidDoctorReport> {
    const report = await runRaidDoctor({runner: defaultRunner})
    if (!this.jsonEnabled()) {
      const c = useColour()
      const mark = (s: string) => (s === 'ok' ? colour(c, 'green', s) : s === 'info' ? s : s === 'warning' ? colour(c, 'yellow', s) : colour(c, 'red', s))
      if (report.disks.length > 0) {
        this.log(
          table(
            ['disk', 'transport', 'model', 'serial', 'USB bridge', 'SCT ERC', 'timeout'],
            report.disks.map((d) => [
              d.path,
              d.transport,
              d.model,
              d.serial,
              d.usbBridge ? `${d.usbBridge.vendorId}:${d.usbBridge.productId} ${d.usbBridge.driver ?? ''}` : '-',
              d.sctErc ? (typeof d.sctErc.read === 'number' ? `${d.sctErc.read} s` : d.sctErc.read) : '-',
              d.kernelTimeout === undefined ? '-' : `${d.kernelTimeout} s`,
            ]),
          ),
        )
        this.log('')
      }
      for (const f of report.findings) {
        this.log(`${mark(f.severity).padEnd(7)} ${f.subject}: ${f.message}`)
        if (f.fix && f.severity !== 'ok') this.log(`        fix: ${f.fix}`)
      }
      if (report.worst === 'ok' || report.worst === 'info') this.log('Nothing to fix.')
    }
    if (report.worst === 'error') this.exitCodeAfterRun = ExitCode.FAILURE
    else if (report.worst === 'warning') this.exitCodeAfterRun = ExitCode.WARNINGS
    return report
  }
}
