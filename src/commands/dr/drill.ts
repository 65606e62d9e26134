import type {RunMode} from '../../dr/step-types.js'
import {DrStart} from './failover.js'

export default class DrDrill extends DrStart {
  static override description = `Rehearse a failover: everything created is tagged lifeboat:run-id=<RUN>; production DNS is not changed unless a route53.weights step names a drillRecord; at the end (and after any failure) every resource of the run is removed, by journal and then by tag. Leftovers are an error (exit 1); \`dr cleanup RUN\` finishes them.`
  static override examples = ['<%= config.bin %> dr drill -f shop.yaml --approve go', '<%= config.bin %> dr drill -f shop.yaml --approve go --json']
  protected mode: RunMode = 'drill'
}
