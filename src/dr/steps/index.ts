import type {StepDefinition} from '../step-types.js'
import {amiCopy} from './ami-copy.js'
import {ec2Launch} from './ec2-launch.js'
import {httpCheckStep} from './http-check.js'
import {route53Health} from './route53-health.js'
import {route53Weights} from './route53-weights.js'

/** Every step type, keyed by the `type` a playbook names. */
export const steps: Record<string, StepDefinition> = Object.fromEntries(
  [amiCopy, ec2Launch, route53Weights, route53Health, httpCheckStep].map((s) => [s.type, s as StepDefinition]),
)

export {StepFailedError, StepTimeoutError, parseDuration} from './common.js'
