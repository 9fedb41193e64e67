/**
 * The plumbing itself, proven: a LAN host reaches a WAN server only through a NAT gateway; the server
 * sees the gateway's WAN address; the capture on the gateway's WAN side is read back and shows the
 * (cleartext) request, marker included. This is also the positive control for the other topologies'
 * "the marker never crosses the WAN" checks: the same capture and search do find it when it is there.
 *
 * The scenario is examples/00-nat-plumbing.yaml, run with ftpfwd-lab's runner; each expectation there is a test.
 */
import { labScenario } from './lab/test-support/suite.js';

labScenario('00-nat-plumbing.yaml');
