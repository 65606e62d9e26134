import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {runDoctor} from '../../src/doctor/index.js'
import {ROOT, isolateEnv, tempDir} from '../helpers/env.js'

describe('doctor', () => {
  let env: ReturnType<typeof isolateEnv>
  before(() => {
    env = isolateEnv()
  })
  after(() => env.restore())

  it('--json prints every check in the envelope', async () => {
    const {stdout} = await runCommand(['doctor', '--json'], {root: ROOT})
    const out = JSON.parse(stdout)
    expect(out.ok).to.equal(true)
    const names = out.result.checks.map((c: {name: string}) => c.name)
    expect(names).to.include.members(['node', 'config', 'mdadm', 'btrfs', 'lsblk', 'blkid', 'smartctl', 'restic', 'python3', 'aws-credentials'])
    const node = out.result.checks.find((c: {name: string}) => c.name === 'node')
    expect(node.status).to.equal('ok')
  })

  it('fails when a tool a configured feature needs is missing', async () => {
    const cfg = path.join(env.dir, 'raid.yaml')
    fs.writeFileSync(cfg, 'raid:\n  engine: md\n')
    const report = await runDoctor({configFlag: cfg, env: {...process.env, PATH: tempDir()}})
    expect(report.ok).to.equal(false)
    const mdadm = report.checks.find((c) => c.name === 'mdadm')!
    if (mdadm.status === 'missing') {
      expect(mdadm.required).to.equal(true)
      expect(mdadm.detail).to.contain('apt-get install mdadm')
    }
    const lsblk = report.checks.find((c) => c.name === 'lsblk')!
    expect(lsblk.required).to.equal(true)
  })

  it('an invalid config is a failed check naming file:line', async () => {
    const cfg = path.join(env.dir, 'bad.yaml')
    fs.writeFileSync(cfg, 'raid:\n  engine: zfs\n')
    const {stdout, error} = await runCommand(['doctor', '--json', '--config', cfg], {root: ROOT})
    expect(error?.oclif?.exit).to.equal(1)
    const out = JSON.parse(stdout)
    const config = out.result.checks.find((c: {name: string}) => c.name === 'config')
    expect(config.status).to.equal('fail')
    expect(config.detail).to.contain(`${cfg}:2:11`)
  })

  it('finds AWS credentials from a profile file without calling AWS', async () => {
    const home = tempDir()
    fs.mkdirSync(path.join(home, '.aws'))
    fs.writeFileSync(path.join(home, '.aws', 'credentials'), '[backup]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n')
    const cfg = path.join(env.dir, 'aws.yaml')
    fs.writeFileSync(cfg, 'aws:\n  profile: backup\n')
    const report = await runDoctor({configFlag: cfg, env: {...process.env, HOME: home, AWS_PROFILE: undefined}})
    const aws = report.checks.find((c) => c.name === 'aws-credentials')!
    expect(aws.required).to.equal(true)
    expect(aws.status).to.equal('ok')
    expect(aws.detail).to.contain('profile "backup"')
    expect(JSON.stringify(report)).not.to.contain('AKIAEXAMPLE')
  })
})
