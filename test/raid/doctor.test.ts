import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {decodeThrottled, parseScterc, runRaidDoctor, scanDmesg} from '../../src/raid/doctor.js'
import {envelope, lifeboat} from '../helpers/cli.js'
import {ROOT} from '../helpers/env.js'
import {cliFixture, FIXTURES, piFixture} from './fake-root.js'

const dmesg = fs.readFileSync(path.join(FIXTURES, 'pi', 'dmesg.txt'), 'utf8')
const SMART_HEAD = 'smartctl 7.3 2022-02-28 r5338 [aarch64-linux-6.1.21-v8+] (local build)\nCopyright (C) 2002-22, Bruce Allen, Christian Franke, www.smartmontools.org\n\n'
const ERC_DISABLED = `${SMART_HEAD}SCT Error Recovery Control:\n           Read: Disabled\n          Write: Disabled\n\n`
const ERC_70 = `${SMART_HEAD}SCT Error Recovery Control:\n           Read:     70 (7.0 seconds)\n          Write:     70 (7.0 seconds)\n\n`
const ERC_UNSUPPORTED = `${SMART_HEAD}SCT Error Recovery Control command not supported\n\n`

describe('raid doctor: parsers', () => {
  it('decodes vcgencmd get_throttled bits (now: 0-3, since boot: 16-19)', () => {
    // 0x50005 = bits 0, 2, 16, 18: under-voltage and throttled now and since boot.
    expect(decodeThrottled('throttled=0x50005\n')).to.deep.equal({
      raw: '0x50005',
      value: 0x50005,
      now: ['under-voltage', 'throttled'],
      sinceBoot: ['under-voltage', 'throttled'],
    })
    expect(decodeThrottled('throttled=0x80000')!.sinceBoot).to.deep.equal(['soft temperature limit'])
    expect(decodeThrottled('throttled=0x0')!.now).to.deep.equal([])
    expect(decodeThrottled('error=1 error_msg="Command not registered"')).to.equal(undefined)
  })

  it('reads SCT ERC limits, disabled and unsupported', () => {
    expect(parseScterc(ERC_70)).to.deep.equal({read: 7, write: 7})
    expect(parseScterc(ERC_DISABLED)).to.deep.equal({read: 'disabled', write: 'disabled'})
    expect(parseScterc(ERC_UNSUPPORTED)).to.deep.equal({read: 'unsupported', write: 'unsupported'})
    expect(parseScterc(`${SMART_HEAD}/dev/sda: Unknown USB bridge [0x174c:0x55aa]\n`)).to.equal(undefined)
  })

  it('counts UAS aborts per disk, USB resets per port, I/O errors and under-voltage in dmesg', () => {
    const s = scanDmesg(dmesg)
    expect(s.uasAborts.get('sda')).to.equal(2)
    expect(s.usbResets.get('2-1')).to.equal(2)
    expect(s.usbResets.get('2-2')).to.equal(1)
    expect(s.ioErrors.get('sda')).to.equal(1)
    expect(s.underVoltage).to.equal(1)
  })
})

describe('raid doctor: findings on a fixture Pi', () => {
  it('UAS quirk with the bridge VID:PID, power, timeout mismatches and duplicate serials, with fixes', async () => {
    const {root, runner} = piFixture({
      dmesg: {stdout: dmesg},
      'vcgencmd get_throttled': {stdout: 'throttled=0x50005\n'},
      'smartctl -d sat -l scterc /dev/sda': {stdout: ERC_DISABLED, code: 4},
      'smartctl -d sat -l scterc /dev/sdb': {stdout: ERC_UNSUPPORTED},
      'smartctl -d sat -l scterc /dev/sdg': {stdout: ERC_70},
      'smartctl -d sat -l scterc /dev/sdh': {stdout: ERC_70},
      smartctl: {stdout: ERC_DISABLED},
    })
    try {
      const r = await runRaidDoctor({runner, root})
      const find = (code: string, subject?: string) => r.findings.filter((f) => f.code === code && (subject === undefined || f.subject.startsWith(subject)))
      // sda: ASMedia 174c:55aa on uas with aborts and resets → the quirk for exactly that VID:PID.
      const uas = find('UAS_RESETS', '/dev/sda')
      expect(uas).to.have.length(1)
      expect(uas[0].severity).to.equal('warning')
      expect(uas[0].message).to.contain('2 UAS abort(s) and 2 USB reset(s)')
      expect(uas[0].fix).to.contain('usb-storage.quirks=174c:55aa:u')
      expect(uas[0].fix).to.contain('/boot/firmware/cmdline.txt')
      // sdb already on usb-storage with a reset: power/cable advice, not the quirk.
      const sdb = find('USB_RESETS', '/dev/sdb')
      expect(sdb).to.have.length(1)
      expect(sdb[0].fix).to.not.contain('quirks')
      expect(find('IO_ERRORS', '/dev/sda')).to.have.length(1)
      // sdg: same ASMedia bridge, quiet log → an info note that names the quirk in case it happens.
      expect(find('UAS_KNOWN_BRIDGE', '/dev/sdg')[0].severity).to.equal('info')
      // Timeouts: sda ERC disabled (30 s kernel timeout) → warn with scterc,70,70; sdb unsupported → 180 s advice;
      // sdh ERC 7 s < 30 s → ok; sdg: kernel timeout already 180 s → ok.
      const sdaT = find('TIMEOUT_MISMATCH', '/dev/sda')[0]
      expect(sdaT.fix).to.contain('smartctl -l scterc,70,70 /dev/sda')
      const sdbT = find('TIMEOUT_MISMATCH', '/dev/sdb')[0]
      expect(sdbT.message).to.contain('is not supported')
      expect(sdbT.fix).to.contain('echo 180 > /sys/block/sdb/device/timeout')
      expect(find('TIMEOUT_MISMATCH', '/dev/sdh')).to.have.length(0)
      expect(find('TIMEOUT_MISMATCH', '/dev/sdg')).to.have.length(0)
      expect(r.disks.find((d) => d.path === '/dev/sdh')!.sctErc).to.deep.equal({read: 7, write: 7})
      // The SD card has no SCSI timeout: not asked.
      expect(runner.calls.some((c) => c[0] === 'smartctl' && c.includes('/dev/mmcblk0'))).to.equal(false)
      // Duplicate serials, power.
      const dup = find('DUPLICATE_SERIAL')
      expect(dup).to.have.length(1)
      expect(dup[0].severity).to.equal('error')
      expect(dup[0].subject).to.equal('/dev/sdc, /dev/sdd')
      expect(find('UNDER_VOLTAGE_NOW')[0].severity).to.equal('error')
      expect(find('THROTTLED')[0].message).to.contain('throttled')
      expect(r.throttled!.raw).to.equal('0x50005')
      expect(r.worst).to.equal('error')
      expect(r.dmesg).to.deep.equal({read: true, uasAborts: 2, usbResets: 3, ioErrors: 1, underVoltage: 1})
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })

  it('without vcgencmd, smartctl or a readable kernel log it says what it skipped', async () => {
    const {root, runner} = piFixture({dmesg: {code: 1, stderr: 'dmesg: read kernel buffer failed: Operation not permitted\n'}, vcgencmd: 'missing', smartctl: 'missing'})
    try {
      const r = await runRaidDoctor({runner, root})
      const codes = r.findings.map((f) => f.code)
      expect(codes).to.include('DMESG_UNREADABLE')
      expect(codes).to.include('SMARTCTL_MISSING')
      expect(codes).to.not.include('UNDER_VOLTAGE_NOW')
      expect(r.throttled).to.equal(undefined)
      expect(r.dmesg.read).to.equal(false)
      // Duplicate serials are still found from sysfs alone.
      expect(codes).to.include('DUPLICATE_SERIAL')
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })

  it('under-voltage only in the past is a warning', async () => {
    const {root, runner} = piFixture({dmesg: {stdout: ''}, 'vcgencmd get_throttled': {stdout: 'throttled=0x50000\n'}, smartctl: {stdout: ERC_70}})
    try {
      const r = await runRaidDoctor({runner, root})
      const uv = r.findings.filter((f) => f.code.startsWith('UNDER_VOLTAGE'))
      expect(uv.map((f) => [f.code, f.severity])).to.deep.equal([['UNDER_VOLTAGE', 'warning']])
    } finally {
      fs.rmSync(root, {recursive: true, force: true})
    }
  })
})

describe('raid doctor: command', function () {
  this.timeout(60_000)
  it('prints findings with fixes; exit 1 when something is an error (duplicate serials), --json has them all', async function () {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'commands', 'raid', 'doctor.js'))) this.skip()
    const fx = cliFixture({dmesg, vcgencmd: 'throttled=0x0\n', smartctl: ERC_70})
    try {
      const h = await lifeboat(['raid', 'doctor'], fx.env)
      expect(h.code).to.equal(1)
      expect(h.stdout).to.contain('fix: add usb-storage.quirks=174c:55aa:u')
      expect(h.stdout).to.match(/error\s+\/dev\/sdc, \/dev\/sdd: these disks all report the serial/)
      const j = await lifeboat(['raid', 'doctor', '--json'], fx.env)
      const env = envelope(j.stdout)
      expect(env.ok).to.equal(false)
      expect(env.result.worst).to.equal('error')
      expect(env.result.throttled.value).to.equal(0)
      expect(env.result.findings.find((f: {code: string}) => f.code === 'POWER').severity).to.equal('ok')
    } finally {
      fx.cleanup()
    }
  })
})
