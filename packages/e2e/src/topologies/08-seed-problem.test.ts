/**
 * Topology 8, the seed's problem, shown: the same transfers through a plain tcp/ forward of port 21.
 * Only the control connection is tunnelled; data channels go around the tunnel: they fail, or cross
 * the WAN in clear. Next to it, in the same topology, an ftp/ forward moves its files with every data
 * channel inside SSH. The NAT's WAN capture tells the two apart.
 *
 * The scenario is examples/08-seed-problem.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from '../lab/test-support/suite.js';

labScenario('08-seed-problem.yaml');
