import {expect} from 'chai'

import {confirmByName, promptPolicy} from '../../src/cli/prompt.js'

describe('prompt policy', () => {
  const tty = {stdinIsTTY: true, stdoutIsTTY: true, env: {}}
  it('prompts only on a terminal without CI, --json, --yes or --no-input', () => {
    expect(promptPolicy(tty).interactive).to.equal(true)
    expect(promptPolicy({...tty, stdinIsTTY: false}).reason).to.equal('stdin is not a terminal')
    expect(promptPolicy({...tty, stdoutIsTTY: false}).reason).to.equal('stdout is not a terminal')
    expect(promptPolicy({...tty, env: {CI: 'true'}}).reason).to.equal('CI is set')
    expect(promptPolicy({...tty, env: {CI: 'false'}}).interactive).to.equal(true)
    expect(promptPolicy({...tty, json: true}).reason).to.equal('--json is set')
    expect(promptPolicy({...tty, noInput: true}).reason).to.equal('--no-input is set')
    expect(promptPolicy({...tty, yes: true}).interactive).to.equal(false)
  })

  it('confirm-by-name: --confirm must match, --yes confirms, a script without either is exit 2', async () => {
    const script = promptPolicy({stdinIsTTY: false, stdoutIsTTY: false, env: {}})
    await confirmByName(script, {name: 'md0', action: 'destroy md0', confirm: 'md0'})
    const mismatch = await confirmByName(script, {name: 'md0', action: 'destroy md0', confirm: 'md1'}).catch((error) => error)
    expect(mismatch.exitCode).to.equal(2)
    expect(mismatch.message).to.contain('does not match')
    const missing = await confirmByName(script, {name: 'md0', action: 'destroy md0'}).catch((error) => error)
    expect(missing.exitCode).to.equal(2)
    expect(missing.message).to.contain('--confirm md0')
    await confirmByName(promptPolicy({yes: true, env: {}}), {name: 'md0', action: 'destroy md0'})
  })
})
