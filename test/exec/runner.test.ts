import {expect} from 'chai'

import {ToolFailedError, ToolMissingError, ToolTimeoutError, runTool, which} from '../../src/exec/runner.js'
import {tempDir} from '../helpers/env.js'

describe('exec runner', () => {
  it('captures stdout, stderr and the exit code of an argv array (no shell)', async () => {
    const r = await runTool('sh', ['-c', 'echo out; echo err >&2; exit 3', 'ignored $(rm -rf /)'], {okExitCodes: [3]})
    expect(r.code).to.equal(3)
    expect(r.stdout).to.equal('out\n')
    expect(r.stderr).to.equal('err\n')
  })

  it('passes arguments verbatim, shell metacharacters included', async () => {
    const r = await runTool('printf', ['%s|', 'a b', '$(whoami)', ';ls'])
    expect(r.stdout).to.equal('a b|$(whoami)|;ls|')
  })

  it('a missing tool names the Debian package that provides it', async () => {
    const empty = tempDir()
    try {
      await runTool('mdadm', ['--detail', '--scan'], {env: {PATH: empty}})
      expect.fail('should throw')
    } catch (error) {
      expect(error).to.be.instanceOf(ToolMissingError)
      expect((error as ToolMissingError).message).to.contain('mdadm is not installed')
      expect((error as ToolMissingError).hint).to.contain('apt-get install mdadm')
    }
    const btrfs = await runTool('btrfs', [], {env: {PATH: empty}}).catch((error) => error)
    expect(btrfs.hint).to.contain('btrfs-progs')
    expect(which('mdadm', {PATH: empty})).to.satisfy((p: string | undefined) => p === undefined || p.startsWith('/usr/sbin') || p.startsWith('/sbin'))
  })

  it('a failing tool reports its exit code and stderr', async () => {
    const err = await runTool('ls', ['/definitely/not/here']).catch((error) => error)
    expect(err).to.be.instanceOf(ToolFailedError)
    expect(err.message).to.match(/ls \/definitely\/not\/here failed with exit code 2/)
    expect(err.message).to.contain('No such file')
  })

  it('a hanging tool is stopped at its timeout', async () => {
    const started = Date.now()
    const err = await runTool('sleep', ['30'], {timeoutMs: 300}).catch((error) => error)
    expect(err).to.be.instanceOf(ToolTimeoutError)
    expect(Date.now() - started).to.be.lessThan(10_000)
  })

  it('stdin is closed so a tool that reads it never waits', async () => {
    const r = await runTool('cat', [], {timeoutMs: 5000})
    expect(r.stdout).to.equal('')
    const fed = await runTool('cat', [], {input: 'fed'})
    expect(fed.stdout).to.equal('fed')
  })
})
