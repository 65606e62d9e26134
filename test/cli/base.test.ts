import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import fs from 'node:fs'
import path from 'node:path'

import {ROOT, isolateEnv} from '../helpers/env.js'

describe('lifeboat CLI conventions', () => {
  let env: ReturnType<typeof isolateEnv>
  before(() => {
    env = isolateEnv()
  })
  after(() => env.restore())

  it('help lists the topics that have commands, with their descriptions', async () => {
    const {stdout} = await runCommand('--help', {root: ROOT})
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    const topicsWithCommands = fs
      .readdirSync(path.join(ROOT, 'src', 'commands'), {withFileTypes: true})
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
    expect(topicsWithCommands).to.include.members(['config', 'backup'])
    for (const topic of topicsWithCommands) {
      expect(stdout).to.match(new RegExp(`^\\s+${topic}\\s+${escape(pkg.oclif.topics[topic].description.slice(0, 20))}`, 'm'))
    }
    expect(stdout).to.match(/^\s+doctor\s+Check this machine/m)
    // every topic named by the foundation issue is described in package.json
    expect(Object.keys(pkg.oclif.topics)).to.include.members(['raid', 'backup', 's3', 'aws-backup', 'dr', 'schedule', 'config'])
    expect(pkg.oclif.topicSeparator).to.equal(' ')
  })

  it('the generated manifest holds every command in src/commands', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8'))
    const ids = listCommandIds(path.join(ROOT, 'src', 'commands'))
    expect(ids.length).to.be.greaterThan(3)
    for (const id of ids) expect(Object.keys(manifest.commands), `manifest is missing "${id}": run npm run build`).to.include(id)
  })

  it('--json wraps a result in the success envelope', async () => {
    const {stdout, error} = await runCommand(['config', 'show', '--json'], {root: ROOT})
    expect(error).to.equal(undefined)
    const out = JSON.parse(stdout)
    expect(out).to.include({ok: true, command: 'config show'})
    expect(out.result.exists).to.equal(false)
    expect(out.result.file).to.equal(path.join(env.dir, 'config', 'lifeboat', 'config.yaml'))
    expect(out.warnings).to.deep.equal([])
  })

  it('--json wraps an error in the error envelope with code, exit code and where', async () => {
    const file = path.join(env.dir, 'broken.yaml')
    fs.writeFileSync(file, 'aws:\n  region: 12\n')
    const {stdout, error} = await runCommand(['config', 'validate', file, '--json'], {root: ROOT})
    expect(error?.oclif?.exit).to.equal(2)
    const out = JSON.parse(stdout)
    expect(out.ok).to.equal(false)
    expect(out.error).to.include({code: 'CONFIG_INVALID', exitCode: 2, where: `${file}:2:11`})
    expect(out.error.message).to.contain('aws.region')
  })

  it('an unknown flag is a usage error (exit 2) without a stack trace', async () => {
    const {stderr, error} = await runCommand(['config', 'show', '--no-such-flag'], {root: ROOT})
    expect(error?.oclif?.exit).to.equal(2)
    expect(stderr).to.contain('no-such-flag')
    expect(stderr).not.to.match(/\n\s+at /)
  })

  it('--debug adds the stack trace to an error', async () => {
    const {stderr, error} = await runCommand(['config', 'validate', path.join(env.dir, 'missing.yaml'), '--debug'], {root: ROOT})
    expect(error?.oclif?.exit).to.equal(2)
    expect(stderr).to.contain('does not exist')
    expect(stderr).to.match(/\n\s+at /)
  })
})

function listCommandIds(dir: string, prefix: string[] = []): string[] {
  const ids: string[] = []
  for (const d of fs.readdirSync(dir, {withFileTypes: true})) {
    if (d.isDirectory()) ids.push(...listCommandIds(path.join(dir, d.name), [...prefix, d.name]))
    else if (d.name.endsWith('.ts') && !d.name.endsWith('.d.ts')) {
      const name = d.name.replace(/\.ts$/, '')
      ids.push([...prefix, ...(name === 'index' ? [] : [name])].join(':'))
    }
  }
  return ids
}

function escape(s: string): string {
  return s.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`)
}
