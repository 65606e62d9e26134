import type {StepDefinition} from '../step-types.js'
import {amiCopy} from './ami-copy.js'
import {ec2Launch} from './ec2-launch.js'

/** Every step type, keyed by the `type` a playbook names. */
export const steps: Record<string, StepDefinition> = {
  [amiCopy.type]: amiCopy,
  [ec2Launch.type]: ec2Launch,
}

export {StepFailedError, StepTimeoutError, parseDuration} from './common.js'
